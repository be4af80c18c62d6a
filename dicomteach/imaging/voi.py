"""The VOI LUT: modality values to display values, PS3.3 C.11.2.

Two forms: a window (Window Center (0028,1050), Window Width (0028,1051) and
VOI LUT Function (0028,1056): ``LINEAR``, ``LINEAR_EXACT`` or ``SIGMOID``), or
a table (VOI LUT Sequence (0028,3010)). :func:`apply_window` and
:func:`apply_voi_lut_table` are the standard's transforms with a float or
table output; :func:`window_to_uint8` and :func:`voi_lut_to_uint8` render the
8-bit image a viewer draws.

Rendering to 8 bits
-------------------
The browser draws the same pixels from the same stored values, so this is the
exact rule it reproduces (all arithmetic in IEEE float64, in this order; ``x``
is the modality value, ``c`` the center, ``w`` the width):

1. Window, output range 0..255 (``y_min = 0``, ``y_range = 255``):

   * ``LINEAR``: ``c1 = c - 0.5``, ``w1 = w - 1``; ``y = 0`` if
     ``x <= c1 - w1 / 2``; else ``y = 255`` if ``x > c1 + w1 / 2``; else
     ``y = ((x - c1) / w1 + 0.5) * 255 + 0``.
   * ``LINEAR_EXACT``: the same with ``c1 = c`` and ``w1 = w``.
   * ``SIGMOID``: ``y = 255 / (1 + exp(-4 * (x - c) / w)) + 0``.

   VOI LUT table instead of a window: ``y = entry * 255 / (2**bits - 1)``.
2. Round half up and clip: ``v = min(255, max(0, floor(y + 0.5)))``
   (JavaScript: ``Math.min(255, Math.max(0, Math.floor(y + 0.5)))``).
3. MONOCHROME1 (``invert=True``), after the VOI transform and the rounding:
   ``v = 255 - v``, so the lowest value is white.

``LINEAR`` and ``LINEAR_EXACT`` are then identical pixel for pixel in any
IEEE-754 implementation; ``SIGMOID`` depends on ``exp``, whose last bit may
differ between libraries, which can move a value lying within 1e-13 of a
half-integer by one grey level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dicomteach.imaging.modality import _lookup_index, check_lut_table
from dicomteach.io.volume import LutTable, Window

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "VOI_LUT_FUNCTIONS",
    "apply_voi_lut_table",
    "apply_window",
    "round_to_uint8",
    "voi_lut_to_uint8",
    "window_to_uint8",
]

VOI_LUT_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
"""Defined terms of VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""


def _check_function(function: str) -> str:
    name = str(function).strip().upper()
    if name not in VOI_LUT_FUNCTIONS:
        raise ValueError(
            "Argument 'function' must be one of 'LINEAR', 'LINEAR_EXACT' or 'SIGMOID', "
            f"not {function!r}"
        )
    return name


def apply_window(
    values: ArrayLike,
    center: float,
    width: float,
    function: str = "LINEAR",
    *,
    y_min: float = 0,
    y_max: float = 255,
) -> np.ndarray:
    """Apply a VOI window (Window Center and Width) to modality values.

    Parameters
    ----------
    values : array_like
        Modality values (the output of :func:`apply_modality_lut`).
    center : float
        Window Center (0028,1050), in the units of `values`.
    width : float
        Window Width (0028,1051): at least 1 for ``LINEAR``, more than 0 for
        ``LINEAR_EXACT`` and ``SIGMOID``.
    function : {"LINEAR", "LINEAR_EXACT", "SIGMOID"}, optional
        VOI LUT Function (0028,1056); case is ignored.
    y_min, y_max : float, keyword-only
        Output range (default 0..255). pydicom's ``apply_windowing`` uses the
        range of the stored (or rescaled) values instead.

    Returns
    -------
    numpy.ndarray
        ``float64`` display values in ``[y_min, y_max]``, same shape as `values`.

    Raises
    ------
    ValueError
        If `function` is not a defined term, `width` is too small for it,
        `center` or `width` is not finite, or ``y_max <= y_min``.

    References
    ----------
    DICOM PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) and
    C.11.2.1.3.1 (SIGMOID).

    Examples
    --------
    >>> apply_window([0, 40, 79, 80], center=40, width=80)
    array([  0.        , 129.11392405, 255.        , 255.        ])
    >>> apply_window([0, 40, 80], center=40, width=80, function="LINEAR_EXACT")
    array([  0. , 127.5, 255. ])
    """
    name = _check_function(function)
    center = float(center)
    width = float(width)
    if not (np.isfinite(center) and np.isfinite(width)):
        raise ValueError(
            f"Arguments 'center' and 'width' must be finite, not {center!r} and {width!r}"
        )
    if name == "LINEAR" and width < 1:
        raise ValueError(f"Argument 'width' must be >= 1 for LINEAR windows, not {width!r}")
    if name != "LINEAR" and width <= 0:
        raise ValueError(f"Argument 'width' must be > 0 for {name} windows, not {width!r}")
    if not y_max > y_min:
        raise ValueError(
            f"Argument 'y_max' must be greater than 'y_min', not {y_max!r} <= {y_min!r}"
        )

    # Same operations, in the same order, as PS3.3 and pydicom (see module docstring).
    x = np.array(values, dtype=np.float64)
    y_range = y_max - y_min
    if name == "SIGMOID":
        with np.errstate(over="ignore", under="ignore"):  # exp → inf gives y_min: correct
            return y_range / (1 + np.exp(-4 * (x - center) / width)) + y_min
    if name == "LINEAR":
        center -= 0.5
        width -= 1
    below = x <= center - width / 2
    above = x > center + width / 2
    between = ~(below | above)
    out = np.empty_like(x)
    out[below] = y_min
    out[above] = y_max
    # When width == 1 (LINEAR) nothing lies between: no division by zero.
    out[between] = ((x[between] - center) / width + 0.5) * y_range + y_min
    return out


def round_to_uint8(display: ArrayLike) -> np.ndarray:
    """Round display values to 8 bits: ``min(255, max(0, floor(y + 0.5)))``.

    The one float-to-8-bit rule of dicomteach (round half up, then clip), which
    the browser reproduces with ``Math.floor(y + 0.5)``.

    Examples
    --------
    >>> round_to_uint8([-3.0, 0.49, 0.5, 127.5, 254.5, 300.0])
    array([  0,   0,   1, 128, 255, 255], dtype=uint8)
    """
    y = np.asarray(display, dtype=np.float64)
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def _invert(v: np.ndarray, invert: bool) -> np.ndarray:
    if invert:
        # MONOCHROME1 (PS3.3 C.7.6.3.1.2): minimum value displayed white.
        np.subtract(255, v, out=v)
    return v


def window_to_uint8(values: ArrayLike, window: Window, *, invert: bool = False) -> np.ndarray:
    """Render modality values through a window to the 8-bit image a viewer draws.

    Parameters
    ----------
    values : array_like
        Modality values.
    window : Window
        Center, width and VOI LUT Function (e.g. ``Volume.windows[0]`` or
        ``Preset.window``).
    invert : bool, keyword-only
        True for MONOCHROME1 (``Volume.inverted``): ``255 - v`` after windowing
        and rounding, so the lowest value is white.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array, same shape as `values`, following the rule in the
        module docstring.

    References
    ----------
    DICOM PS3.3 C.11.2.1.2 (Window Center and Window Width) and C.7.6.3.1.2
    (Photometric Interpretation, MONOCHROME1).

    Examples
    --------
    >>> from dicomteach.io.volume import Window
    >>> window_to_uint8([-1000, 40, 1000], Window(center=40, width=400))
    array([  0, 128, 255], dtype=uint8)
    >>> window_to_uint8([-1000, 40, 1000], Window(center=40, width=400), invert=True)
    array([255, 127,   0], dtype=uint8)
    """
    if not isinstance(window, Window):
        raise ValueError(f"Argument 'window' must be a Window, not {type(window).__name__}")
    display = apply_window(values, window.center, window.width, window.function or "LINEAR")
    return _invert(round_to_uint8(display), invert)


def apply_voi_lut_table(values: ArrayLike, table: LutTable) -> np.ndarray:
    """Apply a VOI LUT Sequence table to modality values.

    Values below ``table.first_mapped`` map to the first entry, values at or
    beyond ``first_mapped + len(data) - 1`` to the last; non-integer values use
    the entry at ``floor(value - first_mapped)``.

    Parameters
    ----------
    values : array_like
        Modality values (stored values when there is no modality LUT).
    table : LutTable
        One item of the VOI LUT Sequence (0028,3010).

    Returns
    -------
    numpy.ndarray
        The table entries, same shape as `values`, in the dtype of
        ``table.data``; their range is ``0 .. 2**table.bits - 1``.

    References
    ----------
    DICOM PS3.3 C.11.2.1.1 (VOI LUT) and C.8.11.3.1.5 (LUT Descriptor).

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import LutTable
    >>> table = LutTable(first_mapped=100, bits=8, data=np.array([0, 128, 255], np.uint8))
    >>> apply_voi_lut_table(np.array([0, 100, 101, 102, 500]), table)
    array([  0,   0, 128, 255, 255], dtype=uint8)
    """
    data = check_lut_table("table", table)
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"Argument 'values' must hold numbers, not values of type {arr.dtype}")
    return data[_lookup_index(arr, table.first_mapped, data.size)]


def voi_lut_to_uint8(values: ArrayLike, table: LutTable, invert: bool = False) -> np.ndarray:
    """Render modality values through a VOI LUT table to 8 bits.

    Each entry is scaled from ``0 .. 2**bits - 1`` to ``0 .. 255``
    (``entry * 255 / (2**bits - 1)``) and rounded half up; MONOCHROME1
    inversion (``255 - v``) comes last.

    Parameters
    ----------
    values : array_like
        Modality values.
    table : LutTable
        One item of the VOI LUT Sequence (0028,3010).
    invert : bool, optional
        True for MONOCHROME1.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array, same shape as `values`.

    References
    ----------
    DICOM PS3.3 C.11.2.1.1 (VOI LUT) and C.7.6.3.1.2 (MONOCHROME1).

    Examples
    --------
    >>> import numpy as np
    >>> from dicomteach.io.volume import LutTable
    >>> table = LutTable(first_mapped=0, bits=16, data=np.array([0, 32767, 65535], np.uint16))
    >>> voi_lut_to_uint8(np.array([0, 1, 2]), table)
    array([  0, 127, 255], dtype=uint8)
    >>> voi_lut_to_uint8(np.array([0, 1, 2]), table, invert=True)
    array([255, 128,   0], dtype=uint8)
    """
    data = check_lut_table("table", table)
    rendered = round_to_uint8(data.astype(np.float64) * 255 / (2 ** int(table.bits) - 1))
    display_table = LutTable(table.first_mapped, 8, rendered)
    return _invert(apply_voi_lut_table(values, display_table), invert)
