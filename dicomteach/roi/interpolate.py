"""Shape-based interpolation between delineated slices (Raya & Udupa, 1990).

A learner outlining a tumour draws it on a few slices; the slices between are
filled by blending the *signed distance maps* of the nearest drawn slices
above and below, linearly with the slice position, and keeping the pixels
where the blend is positive. A circle of radius 10 and one of radius 20 four
slices apart give circles of radius 12.5, 15 and 17.5 between them; a circle
drawn at two places slides from one to the other (narrowing a little across
its path half-way: the blend of two offset cones is an ellipse).

Signed distance
---------------
For a drawn slice, a pixel's signed distance is its distance (mm, in-plane)
to the outline, positive inside and negative outside, measured to the pixel
edge: ``d_inside − h`` inside, ``h − d_outside`` outside (``h`` half the smaller
pixel spacing), where
``d`` is the Euclidean distance transform to the nearest pixel of the other
kind (:func:`scipy.ndimage.distance_transform_edt`). Outside the image counts
as outside the structure.

References
----------
S. P. Raya and J. K. Udupa, "Shape-based interpolation of multidimensional
objects", IEEE Trans. Med. Imaging 9(1):32–42, 1990.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["interpolate_slices"]


def _signed_distance(image: np.ndarray, sampling: tuple[float, float]) -> np.ndarray:
    """Signed distance (mm) of a non-empty 2D mask: positive inside, zero on pixel edges."""
    from scipy import ndimage  # here, not at the top: it costs ~0.5 s to import

    padded = np.pad(image, 1)  # outside the image is background, and a full slice has an edge
    inside = ndimage.distance_transform_edt(padded, sampling=sampling)[1:-1, 1:-1]
    outside = ndimage.distance_transform_edt(~padded, sampling=sampling)[1:-1, 1:-1]
    half = 0.5 * min(sampling)
    return np.where(image, inside - half, half - outside).astype(np.float32)


def _in_plane_spacing(spacing: object, axis: int) -> tuple[float, float]:
    if spacing is None:
        return (1.0, 1.0)
    values = [float(s) for s in np.atleast_1d(np.asarray(spacing, dtype=float))]
    if len(values) == 3:
        values = [s for a, s in enumerate(values) if a != axis]
    if len(values) != 2 or not all(np.isfinite(s) and s > 0 for s in values):
        raise ValueError(
            "Argument 'spacing' must be 3 positive numbers (array axis order) "
            f"or the 2 in-plane ones, not {np.asarray(spacing).tolist()}"
        )
    return (values[0], values[1])


def interpolate_slices(
    mask: np.ndarray,
    drawn: Sequence[int] | None = None,
    *,
    axis: int = 0,
    spacing: Sequence[float] | None = None,
) -> np.ndarray:
    """Fill the slices between drawn slices of a 3D mask by shape-based interpolation.

    Parameters
    ----------
    mask : numpy.ndarray
        3D mask (any type; non-zero is inside), e.g. ``(frames, rows, columns)``.
    drawn : sequence of int, optional
        Indices along `axis` of the slices the learner drew (an empty drawn
        slice means "the structure is not here"). Default: the non-empty
        slices.
    axis : int, optional
        The slicing axis (0 for the acquired slices of a ``Volume``).
    spacing : sequence of float, optional
        Pixel spacing (mm): three values in array axis order (the one along
        `axis` is not used) or the two in-plane ones, for distances on
        anisotropic pixels. Default 1.

    Returns
    -------
    numpy.ndarray
        ``bool``, the shape of `mask`. Drawn slices are copied unchanged.
        Each slice between two consecutive drawn slices that are both
        non-empty is the blend of their signed distances (module docstring)
        thresholded at 0 (strictly positive is inside). Slices before the
        first drawn slice, after the last, and between a drawn slice and an
        empty drawn slice are empty: an empty drawn slice ends the structure.
        Only the drawn slices of `mask` are read.

    Raises
    ------
    ValueError
        If `mask` is not 3D, `axis` is not 0, 1 or 2, a drawn index is not an
        integer inside the mask, or `spacing` is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 9, 9), bool)
    >>> mask[0, 3:6, 3:6] = True      # a 3×3 square on the first slice
    >>> mask[4, 1:8, 1:8] = True      # a 7×7 square on the last
    >>> filled = interpolate_slices(mask)
    >>> filled.sum(axis=(1, 2))       # 4×4 and 6×6 cannot be centred on the grid: ties stay out
    array([ 9,  9, 25, 25, 49])
    >>> filled[:, 4].astype(int)      # the middle row of each slice
    array([[0, 0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 1, 1, 1, 0, 0],
           [0, 0, 1, 1, 1, 1, 1, 0, 0],
           [0, 1, 1, 1, 1, 1, 1, 1, 0]])
    """
    arr = np.asarray(mask)
    if arr.ndim != 3:
        raise ValueError(
            f"Argument 'mask' must be a 3D array, not {arr.ndim}D of shape {arr.shape}"
        )
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise ValueError(f"Argument 'axis' must be 0, 1 or 2, not {axis!r}")
    sampling = _in_plane_spacing(spacing, axis)
    stack = np.moveaxis(arr != 0, axis, 0)
    n = stack.shape[0]
    if drawn is None:
        slices = [int(k) for k in np.flatnonzero(stack.any(axis=(1, 2)))]
    else:
        slices = []
        for k in drawn:
            if isinstance(k, bool | float) or not isinstance(k, int | np.integer) or not 0 <= k < n:
                raise ValueError(
                    f"Argument 'drawn' must hold integers in [0, {n - 1}] (slices along axis "
                    f"{axis}), not {k!r}"
                )
            slices.append(int(k))
        slices = sorted(set(slices))

    out = np.zeros(stack.shape, dtype=bool)
    for k in slices:
        out[k] = stack[k]
    distances: dict[int, np.ndarray] = {}
    for below, above in zip(slices[:-1], slices[1:], strict=True):
        if above - below < 2 or not (stack[below].any() and stack[above].any()):
            continue
        for k in (below, above):
            if k not in distances:
                distances[k] = _signed_distance(stack[k], sampling)
        lower, upper = distances.pop(below), distances[above]
        for k in range(below + 1, above):
            t = np.float32((k - below) / (above - below))
            out[k] = (np.float32(1.0) - t) * lower + t * upper > 0
    return np.moveaxis(out, 0, axis)
