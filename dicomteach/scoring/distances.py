"""Distances between two surfaces, surfel by surfel.

:func:`surface_distances` is the one place surface metrics are computed from;
it follows ``surface_distance.compute_surface_distances`` (Nikolov et al.
2021): surfels are the voxel corners whose neighbour code is neither empty nor
full (:mod:`dicomteach.scoring.surfels`), each weighted by its area (length in
2D), and the distance of a surfel is the Euclidean distance, in mm, from its
corner to the nearest corner that is a surfel of the other mask.

How it is fast and still exact:

* only the union bounding box of the two masks is processed (everything outside
  is background, so nothing is lost), and the box is found from per-slice
  projections without full-volume temporaries;
* surfels are found with one OR and one AND of neighbours per axis, and their
  neighbour codes are read at the surfels only (no full-size code or area map);
* the squared distance transforms run with ``edt`` (multi-threaded on large
  boxes, anisotropic) and are read only at surfels;
* ``edt`` works in float32, so each surfel's distance is then made float64
  from the integer lattice offsets whose length lies within the float32
  rounding window (lengths rounded as ``scipy.ndimage.distance_transform_edt``
  rounds them): when every offset in the window has the same length, which is
  nearly always, that length is the distance; otherwise the offsets are tried,
  shortest first, and the first that lands on a surfel of the other mask gives
  it. For masks far apart, where the offsets to try would be too many (a
  sphere's surface of them), a k-d tree of the other mask's surfels (scipy)
  gives each surfel its few nearest candidates instead, whose lengths are
  computed the same way: exact at any distance.

The distances are therefore bitwise those of ``surface-distance`` (tested);
surfel areas agree to 1e-12 relative but not always bitwise, the area table
being derived rather than copied (:mod:`dicomteach.scoring.surfels`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass

import edt
import numpy as np

from dicomteach.scoring._checks import as_mask, as_spacing, check_pair
from dicomteach.scoring.surfels import _corner_bit, surfel_area_table

__all__ = ["SurfaceDistances", "surface_distances"]

_WINDOW = 1e-5
"""Relative half-width, on squared distances, of the float32 rounding window."""

_NEAREST = 8
"""Nearest corners the k-d tree search takes at once for each point (far masks)."""

_BALL_LIMIT = 4e6
"""Largest box of offsets searched at once (short distances); beyond it, the k-d tree."""

_ONE_LENGTH_SHORTCUT = True
"""Take the length of a window holding one length without looking up (off in a test only)."""

_THREADED_SIZE = 1 << 20
"""Boxes of fewer corners than this get a single-threaded distance transform."""


@dataclass(frozen=True)
class SurfaceDistances:
    """Surfel distances between a reference and a prediction, sorted by distance.

    Attributes
    ----------
    reference_to_prediction : numpy.ndarray
        Distance (mm) from each reference surfel to the prediction's surface,
        ascending (empty if either mask is empty... see `reference_areas`).
    prediction_to_reference : numpy.ndarray
        Distance (mm) from each prediction surfel to the reference surface.
    reference_areas : numpy.ndarray
        Area (mm²; length in mm for 2D) of each reference surfel, same order.
    prediction_areas : numpy.ndarray
        Area of each prediction surfel, same order as `prediction_to_reference`.

    When exactly one mask is empty its arrays are empty and the other mask's
    distances are ``inf``, as in ``surface-distance``.
    """

    reference_to_prediction: np.ndarray
    prediction_to_reference: np.ndarray
    reference_areas: np.ndarray
    prediction_areas: np.ndarray

    @property
    def reference_empty(self) -> bool:
        """True when the reference has no surfel (an empty mask)."""
        return self.reference_areas.size == 0

    @property
    def prediction_empty(self) -> bool:
        """True when the prediction has no surfel (an empty mask)."""
        return self.prediction_areas.size == 0


def _bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """First and last index of the mask's voxels on each axis, or None if empty."""
    # the first axis over the whole volume; the others from the slab's projection,
    # an element-wise OR of its slices (reductions along contiguous memory are fast)
    hits = np.flatnonzero(mask.any(axis=tuple(range(1, mask.ndim))))
    if hits.size == 0:
        return None
    plane = mask[hits[0] : hits[-1] + 1].any(axis=0)
    low, high = [hits[0]], [hits[-1]]
    for axis in range(plane.ndim):
        others = tuple(a for a in range(plane.ndim) if a != axis)
        hits = np.flatnonzero(plane.any(axis=others))
        low.append(hits[0])
        high.append(hits[-1])
    return np.array(low), np.array(high)


def union_box(reference: np.ndarray, prediction: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding both masks, or None when both are empty."""
    bounds = [b for b in (_bounds(reference), _bounds(prediction)) if b is not None]
    if not bounds:
        return None
    low = np.min([b[0] for b in bounds], axis=0)
    high = np.max([b[1] for b in bounds], axis=0)
    return tuple(slice(lo, hi + 1) for lo, hi in zip(low, high, strict=True))


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _scipy_lengths(offsets: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Lengths of integer offsets ``(N, ndim)``, rounded as scipy's EDT rounds them."""
    scaled = offsets.astype(np.float64) * spacing
    squared = scaled * scaled
    total = squared[:, 0].copy()
    for axis in range(1, offsets.shape[1]):
        total += squared[:, axis]
    return np.sqrt(total)


def _ball(radius: float, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer offsets no longer than `radius` mm, shortest first, with their lengths."""
    ranges = [np.arange(-int(radius / s), int(radius / s) + 1) for s in spacing]
    grids = np.meshgrid(*ranges, indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    lengths = _scipy_lengths(offsets, spacing)
    keep = lengths <= radius
    order = np.argsort(lengths[keep], kind="stable")
    return offsets[keep][order], lengths[keep][order]


def _exact_in_ball(
    points: np.ndarray, approx: np.ndarray, target: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """:func:`_exact` for short distances: every point at once, against one ball of offsets.

    The window of a point holds every offset whose length may be its distance.
    When all of them have the same (float64) length, that length is the
    distance, no look-up needed; only the rare points whose window holds
    different lengths look for the shortest offset that lands on `target`.
    """
    exact = approx.astype(np.float64)
    radius = float(approx.max()) * np.sqrt(1 + _WINDOW) * (1 + 1e-9)
    offsets, lengths = _ball(radius, spacing)
    todo = np.flatnonzero(approx > 0)
    first = np.searchsorted(lengths, approx[todo] * np.sqrt(1 - _WINDOW), side="left")
    last = np.searchsorted(lengths, approx[todo] * np.sqrt(1 + _WINDOW), side="right")
    found = last > first
    single = found.copy()
    single[found] = lengths[first[found]] == lengths[last[found] - 1]
    single &= _ONE_LENGTH_SHORTCUT
    exact[todo[single]] = lengths[first[single]]
    ambiguous = ~single & found
    if not ambiguous.any():
        return exact
    todo, first, last = todo[ambiguous], first[ambiguous], last[ambiguous]
    shape = np.array(target.shape)
    flat_target = target.ravel()
    strides = np.array([int(np.prod(shape[axis + 1 :])) for axis in range(shape.size)])
    for chunk in np.array_split(np.arange(todo.size), max(1, todo.size // 50_000)):
        counts = last[chunk] - first[chunk]
        owner = np.repeat(np.arange(chunk.size), counts)
        candidate = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
        candidate += np.repeat(first[chunk], counts)
        moved = points[todo[chunk]][owner] + offsets[candidate]
        valid = np.all((moved >= 0) & (moved < shape), axis=1)
        hit = np.zeros(owner.size, dtype=bool)
        hit[valid] = flat_target[moved[valid] @ strides]
        # pairs are ordered by point, then by length: the first hit is the nearest
        hit_owner, first_hit = np.unique(owner[hit], return_index=True)
        exact[todo[chunk][hit_owner]] = lengths[candidate[hit][first_hit]]
    return exact


def _exact_by_tree(
    points: np.ndarray, approx: np.ndarray, target: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """:func:`_exact` for long distances (masks far apart): a k-d tree of `target`'s corners.

    The tree (in mm) gives each point its nearest corner of `target` up to a few
    rounding errors; every corner within a hair (1e-9 relative) of that one is a
    candidate, and the distance is the shortest of their lengths computed as
    scipy rounds them: the same number the lattice search gives, for any
    distance, at the cost of a tree over the target's surfels rather than of
    every lattice offset in a shell (as many as a sphere's surface, 10 cm away).
    """
    from scipy.spatial import cKDTree  # a dependency of the package; only for masks far apart

    exact = approx.astype(np.float64)
    todo = np.flatnonzero(approx > 0)
    if todo.size == 0:
        return exact
    corners = np.argwhere(target)
    tree = cKDTree(corners * spacing)
    where = points[todo] * spacing
    k = min(_NEAREST, corners.shape[0])
    near, index = tree.query(where, k=k, workers=_threads())
    near, index = near.reshape(todo.size, k), index.reshape(todo.size, k)
    reach = near[:, 0] * (1 + 1e-9) + 1e-12
    lengths = _scipy_lengths(
        (points[todo][:, None, :] - corners[index]).reshape(-1, spacing.size), spacing
    ).reshape(todo.size, k)
    lengths[near > reach[:, None]] = np.inf
    exact[todo] = lengths.min(axis=1)
    # a point whose k nearest are all within reach may have more: take them all
    crowded = np.flatnonzero(near[:, -1] <= reach) if k < corners.shape[0] else []
    for row in crowded:
        found = np.array(tree.query_ball_point(where[row], reach[row]))
        exact[todo[row]] = _scipy_lengths(points[todo[row]] - corners[found], spacing).min()
    return exact


def _exact(
    points: np.ndarray, approx: np.ndarray, target: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """Float64 distances from `points` to the nearest True voxel of `target`."""
    if approx.size == 0:
        return approx.astype(np.float64)
    radius = float(approx.max())
    if np.prod(2 * radius / spacing + 1) <= _BALL_LIMIT:
        return _exact_in_ball(points, approx, target, spacing)
    return _exact_by_tree(points, approx, target, spacing)


def _surfels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surfels of `mask`: a corner-grid boolean map, their coordinates and their codes.

    Same corners and codes as :func:`neighbour_codes` (whose shape the map
    has), without a full-size code array: a corner is a surfel when the
    voxels around it are neither all inside nor all outside, found with one
    OR and one AND of neighbours per axis; codes are then read at the surfels only.
    """
    ndim = mask.ndim
    padded = np.zeros(tuple(n + 2 for n in mask.shape), dtype=bool)
    padded[(slice(1, -1),) * ndim] = mask
    any_in, all_in = padded, padded
    for axis in range(ndim):
        low = (slice(None),) * axis + (slice(None, -1),)
        high = (slice(None),) * axis + (slice(1, None),)
        any_in = any_in[low] | any_in[high]
        all_in = all_in[low] & all_in[high]
    border = np.logical_and(any_in, ~all_in, out=any_in)
    del all_in
    points = np.stack(np.nonzero(border), axis=1)
    strides = np.array([int(np.prod(padded.shape[axis + 1 :])) for axis in range(ndim)])
    base = points @ strides
    flat = padded.ravel()
    codes = np.zeros(points.shape[0], dtype=np.uint8)
    for offset in itertools.product((0, 1), repeat=ndim):
        shift = _corner_bit(offset).bit_length() - 1
        codes |= flat[base + int(np.dot(offset, strides))].astype(np.uint8) << shift
    return border, points, codes


def _directed(
    points: np.ndarray, codes: np.ndarray, border_to: np.ndarray, spacing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    areas = surfel_area_table(spacing)[codes]
    if points.shape[0] == 0:
        return np.empty(0), areas
    if not border_to.any():
        return np.full(points.shape[0], np.inf), areas
    # uint8 rather than bool input spares edt a conversion; threads pay off on large boxes only
    threads = _threads() if border_to.size >= _THREADED_SIZE else 1
    squared = edt.edtsq(
        (~border_to).view(np.uint8),
        anisotropy=tuple(spacing),
        black_border=False,
        parallel=threads,
    )
    approx = np.sqrt(squared[tuple(points.T)].astype(np.float64))
    del squared
    distances = _exact(points, approx, border_to, spacing)
    order = np.lexsort((areas, distances))
    return distances[order], areas[order]


def surface_distances(
    reference: np.ndarray, prediction: np.ndarray, spacing_mm: Sequence[float]
) -> SurfaceDistances:
    """Distances from each surfel of one mask to the surface of the other.

    Follows ``surface_distance.compute_surface_distances`` (Nikolov et al.
    2021, `arXiv:1809.04430 <https://arxiv.org/abs/1809.04430>`_): same
    surfels, areas, distances and order.

    Parameters
    ----------
    reference, prediction : numpy.ndarray
        Binary 2D or 3D masks of the same shape (bool, or numbers all 0 or 1).
    spacing_mm : sequence of float
        Voxel size along each array axis in mm (e.g. ``(slice, row, column)``).

    Returns
    -------
    SurfaceDistances

    Raises
    ------
    ValueError
        If the masks are not binary, not 2D/3D, of different shapes, or if
        `spacing_mm` does not have one positive size per axis.

    Examples
    --------
    >>> reference = np.zeros((1, 6, 6), bool); reference[0, 1:4, 1:4] = True
    >>> prediction = np.zeros((1, 6, 6), bool); prediction[0, 2:5, 1:4] = True
    >>> d = surface_distances(reference, prediction, (1.0, 1.0, 1.0))
    >>> float(d.reference_to_prediction.max()), round(float(d.reference_areas.sum()), 4)
    (1.0, 21.0458)
    """
    reference = as_mask("reference", reference)
    prediction = as_mask("prediction", prediction)
    check_pair(reference, prediction)
    spacing = np.array(as_spacing(spacing_mm, reference.ndim))
    box = union_box(reference, prediction)
    if box is None:
        empty = np.empty(0)
        return SurfaceDistances(empty, empty.copy(), empty.copy(), empty.copy())
    border_ref, points_ref, codes_ref = _surfels(reference[box])
    border_pred, points_pred, codes_pred = _surfels(prediction[box])
    ref_to_pred, ref_areas = _directed(points_ref, codes_ref, border_pred, spacing)
    pred_to_ref, pred_areas = _directed(points_pred, codes_pred, border_ref, spacing)
    return SurfaceDistances(ref_to_pred, pred_to_ref, ref_areas, pred_areas)
