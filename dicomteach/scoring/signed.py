"""Signed surface distances: where an outline is too large, where it is too small, by how much.

The sign convention, used everywhere in :mod:`dicomteach.grading`:

* **positive** — the answer goes beyond the reference there (*too large*);
* **negative** — the answer stops short of the reference there (*too small*).

Surfaces are voxels, not surfels: a *surface voxel* is a mask voxel with at
least one of its 6 (3D) or 4 (2D) face neighbours outside the mask or outside
the array. Distances run between voxel centres, in mm, so an outline shifted
by one 2 mm voxel is 2 mm off. (The metrics in :mod:`dicomteach.scoring.metrics`
use surfels between voxel corners; these maps are for feedback, not for points.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import edt
import numpy as np

from dicomteach.scoring._checks import as_mask, as_spacing, check_pair
from dicomteach.scoring.distances import union_box

__all__ = ["SignedDistanceMap", "signed_distance_map", "surface_voxels", "too_large", "too_small"]


def surface_voxels(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with a face neighbour outside it (the array edge counts as outside).

    Examples
    --------
    >>> mask = np.zeros((5, 5), bool); mask[1:4, 1:4] = True
    >>> surface_voxels(mask).astype(int)[1:4, 1:4]
    array([[1, 1, 1],
           [1, 0, 1],
           [1, 1, 1]])
    """
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    interior = mask.copy()
    for axis in range(mask.ndim):
        for step in (-1, 1):
            index = [slice(1, -1)] * mask.ndim
            index[axis] = slice(1 + step, padded.shape[axis] - 1 + step)
            interior &= padded[tuple(index)]
    return mask & ~interior


def too_large(answer: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Voxels the answer includes and the reference does not (``answer ∧ ¬reference``).

    Examples
    --------
    >>> too_large(np.array([[1, 1, 1]]), np.array([[0, 1, 0]])).astype(int)
    array([[1, 0, 1]])
    """
    return np.logical_and(np.asarray(answer, bool), np.logical_not(np.asarray(reference, bool)))


def too_small(answer: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Voxels of the reference the answer misses (``reference ∧ ¬answer``).

    Examples
    --------
    >>> too_small(np.array([[0, 1, 0]]), np.array([[1, 1, 0]])).astype(int)
    array([[1, 0, 0]])
    """
    return np.logical_and(np.asarray(reference, bool), np.logical_not(np.asarray(answer, bool)))


@dataclass(frozen=True)
class SignedDistanceMap:
    """Signed distances (mm) on the surfaces of an answer and its reference, in a box.

    Only the union bounding box of the two masks is stored (a whole CT would
    cost hundreds of MB in float32); :meth:`full` gives the whole grid.
    """

    values: np.ndarray
    """float32 over ``box``: signed distance on surface voxels, NaN elsewhere."""
    box: tuple[slice, ...]
    """Where ``values`` lies in the full grid."""
    shape: tuple[int, ...]
    """Shape of the full grid."""

    def full(self) -> np.ndarray:
        """The map on the whole grid (NaN off the surfaces)."""
        out = np.full(self.shape, np.nan, np.float32)
        out[self.box] = self.values
        return out

    def mean(self) -> float:
        """Mean signed distance over both surfaces: > 0 on average too large, < 0 too small."""
        found = self.values[np.isfinite(self.values)]
        return float(found.mean()) if found.size else 0.0

    def mean_absolute(self) -> float:
        """Mean unsigned distance over both surfaces (mm)."""
        found = self.values[np.isfinite(self.values)]
        return float(np.abs(found).mean()) if found.size else 0.0


def _distance_to(surface: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Distance (mm) from every voxel centre to the nearest voxel of ``surface``."""
    return edt.edt(
        np.ascontiguousarray(~surface), anisotropy=spacing, black_border=False, parallel=1
    )


def signed_distance_map(
    answer: np.ndarray, reference: np.ndarray, spacing_mm: Sequence[float]
) -> SignedDistanceMap:
    """Signed distance from each surface voxel of either mask to the other mask's surface.

    On an answer surface voxel: its distance to the reference surface, positive
    when the voxel lies outside the reference (too large), negative inside it.
    On a reference surface voxel: its distance to the answer surface, positive
    when the voxel lies inside the answer (the answer goes beyond it), negative
    when outside (missed). Where the surfaces coincide, 0.

    Parameters
    ----------
    answer, reference : numpy.ndarray
        Binary 2D or 3D masks of one shape; neither may be empty.
    spacing_mm : sequence of float
        Voxel size along each array axis, in mm.

    Returns
    -------
    SignedDistanceMap

    Raises
    ------
    ValueError
        Masks not binary, of different shapes, or empty; bad spacing.

    Examples
    --------
    >>> reference = np.zeros((9, 9), bool); reference[2:7, 2:7] = True
    >>> answer = np.zeros((9, 9), bool); answer[2:7, 2:8] = True
    >>> m = signed_distance_map(answer, reference, (1.0, 2.0))
    >>> float(np.nanmax(m.values)), float(np.nanmin(m.values))
    (2.0, 0.0)
    """
    answer = as_mask("answer", answer)
    reference = as_mask("reference", reference)
    check_pair(reference, answer)
    spacing = as_spacing(spacing_mm, answer.ndim)
    if not answer.any() or not reference.any():
        raise ValueError("Arguments 'answer' and 'reference' must both be non-empty masks.")
    box = union_box(reference, answer)
    assert box is not None
    a, r = answer[box], reference[box]
    a_surface, r_surface = surface_voxels(a), surface_voxels(r)
    values = np.full(a.shape, np.nan, np.float32)
    to_reference = _distance_to(r_surface, spacing)
    to_answer = _distance_to(a_surface, spacing)
    values[r_surface] = np.where(a[r_surface], 1, -1) * to_answer[r_surface]
    values[a_surface] = np.where(r[a_surface], -1, 1) * to_reference[a_surface]
    values += 0.0  # no -0.0 where the surfaces meet
    return SignedDistanceMap(values, box, answer.shape)
