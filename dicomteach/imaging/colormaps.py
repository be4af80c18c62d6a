"""Colour maps for 8-bit display values: ``gray`` and ``hot``.

A colour map is a ``(256, 3)`` uint8 table: the 8-bit value ``v`` from
:func:`~dicomteach.imaging.voi.window_to_uint8` is drawn as RGB
``table[v]``. Both maps are integer formulas so the browser builds the same
tables exactly:

* ``gray``: ``(v, v, v)``.
* ``hot`` (black → red → yellow → white, piecewise linear in thirds)::

      r = min(255, 3 * v)
      g = min(255, max(0, 3 * v - 255))
      b = min(255, max(0, 3 * v - 510))

  so ``v = 0`` is black, ``85`` pure red, ``170`` yellow, ``255`` white.
  (Not matplotlib's ``hot``, whose breakpoints are at 36.5 % and 74.6 %.)
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

__all__ = ["Colormap", "colormap"]


class Colormap(StrEnum):
    """Names of the colour maps :func:`colormap` builds."""

    GRAY = "gray"
    """Grayscale, the default for every modality but PET."""
    HOT = "hot"
    """Black → red → yellow → white, for PET uptake (SUV)."""


def colormap(name: str | Colormap) -> np.ndarray:
    """The ``(256, 3)`` uint8 RGB table of a colour map.

    Parameters
    ----------
    name : {"gray", "hot"} or Colormap
        Colour map name (case is ignored).

    Returns
    -------
    numpy.ndarray
        A new ``(256, 3)`` ``uint8`` array; row ``v`` is the colour of the
        8-bit display value ``v`` (formulas in the module docstring).

    Raises
    ------
    ValueError
        If `name` is not a known colour map.

    Examples
    --------
    >>> hot = colormap("hot")
    >>> hot[[0, 85, 170, 255]]
    array([[  0,   0,   0],
           [255,   0,   0],
           [255, 255,   0],
           [255, 255, 255]], dtype=uint8)
    >>> colormap("gray")[200]
    array([200, 200, 200], dtype=uint8)
    """
    key = name.value if isinstance(name, Colormap) else str(name).strip().lower()
    v = np.arange(256, dtype=np.int32)
    if key == Colormap.GRAY.value:
        rgb = np.stack([v, v, v], axis=1)
    elif key == Colormap.HOT.value:
        rgb = np.stack([3 * v, 3 * v - 255, 3 * v - 510], axis=1)
    else:
        names = " or ".join(repr(c.value) for c in Colormap)
        raise ValueError(f"Argument 'name' must be one of {names}, not {name!r}")
    return np.clip(rgb, 0, 255).astype(np.uint8)
