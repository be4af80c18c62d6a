"""Real-valued images as 16-bit stored values with a rescale, the way DICOM stores them.

The widgets send an image the kernel computed (a follow-up resampled onto the
baseline's grid, a PET fused onto a CT) to the browser as ``uint16`` stored
values with a Rescale Slope and Intercept (PS3.3 C.11.1.1.2:
``value = stored * slope + intercept``), a quarter of float64 on the wire.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["quantise"]


def quantise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """16-bit stored values, slope and intercept with ``stored * slope + intercept ≈ values``.

    The intercept is ``floor(min)``, the slope the smallest power of two that
    fits the range in 0..65535: the error is at most ``slope / 2`` (1/32 HU
    for a CT's −1024..3071), and values that are whole numbers stay exact
    whenever the slope is at most 1 (a range of up to 65535, e.g. a CT
    resampled onto its own grid). NaN and ±inf are stored as the lowest
    finite value.

    Parameters
    ----------
    values : numpy.ndarray
        Real values (modality units), any shape.

    Returns
    -------
    stored : numpy.ndarray of ``<u2``, the shape of ``values``
    slope : float
        A power of two.
    intercept : float
        A whole number.

    Examples
    --------
    >>> stored, slope, intercept = quantise(np.array([-1024.0, 0.3, 3071.0]))
    >>> slope, intercept, stored.dtype.name
    (0.0625, -1024.0, 'uint16')
    >>> (stored * slope + intercept).tolist()
    [-1024.0, 0.3125, 3071.0]
    >>> stored, slope, intercept = quantise(np.array([[7.0, 8.0], [9.0, np.nan]]))
    >>> (stored * slope + intercept).tolist()
    [[7.0, 8.0], [9.0, 7.0]]
    """
    values = np.asarray(values)
    finite = np.isfinite(values)
    if not finite.all():  # NaN or ±inf: shown as the lowest value
        values = np.where(finite, values, float(values[finite].min()) if finite.any() else 0.0)
    lo = float(values.min()) if values.size else 0.0
    hi = float(values.max()) if values.size else 0.0
    intercept = float(math.floor(lo))
    span = hi - intercept
    slope = 2.0 ** math.ceil(math.log2(span / 65535.0)) if span > 0 else 1.0
    # float64: a power-of-two slope and a whole intercept make this exact before rounding
    scaled = values.astype(np.float64)
    scaled -= intercept
    scaled /= slope
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 65535, out=scaled)
    return scaled.astype("<u2"), slope, intercept
