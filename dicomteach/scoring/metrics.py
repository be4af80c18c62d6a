"""Delineation metrics: overlap, surface distances, volume difference.

Surface metrics follow DeepMind's ``surface-distance`` (Nikolov et al. 2021)
and are computed from one :class:`~dicomteach.scoring.distances.SurfaceDistances`.

Empty masks (docs/decisions.md, decision 11):

=====================  ==========  =================  =====================
metric                 both empty  only ref. empty    only prediction empty
=====================  ==========  =================  =====================
Dice, Jaccard          1           0                  0
HD, HD95, MSD          0           None (undefined)   None (undefined)
surface Dice           1           0                  0
volume difference %    0           None (undefined)   −100
=====================  ==========  =================  =====================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dicomteach.scoring._checks import as_mask, as_spacing, as_tolerance, check_pair
from dicomteach.scoring.distances import SurfaceDistances, surface_distances, union_box

__all__ = [
    "Scores",
    "dice",
    "hausdorff",
    "hausdorff95",
    "jaccard",
    "mean_surface_distance",
    "score",
    "score_structures",
    "surface_dice",
    "volume_difference_pct",
]


def _masks(reference: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = as_mask("reference", reference)
    prediction = as_mask("prediction", prediction)
    check_pair(reference, prediction)
    return reference, prediction


def _counts(reference: np.ndarray, prediction: np.ndarray) -> tuple[int, int, int]:
    """Voxels in the reference, in the prediction, and in both."""
    both = np.count_nonzero(np.logical_and(reference, prediction))
    return int(np.count_nonzero(reference)), int(np.count_nonzero(prediction)), int(both)


def dice(reference: np.ndarray, prediction: np.ndarray) -> float:
    """Sørensen–Dice coefficient ``2 |R ∩ P| / (|R| + |P|)``; 1 when both are empty.

    Examples
    --------
    >>> dice(np.array([[1, 1, 0, 0]]), np.array([[0, 1, 1, 0]]))
    0.5
    """
    ref, pred, both = _counts(*_masks(reference, prediction))
    return 1.0 if ref + pred == 0 else 2 * both / (ref + pred)


def jaccard(reference: np.ndarray, prediction: np.ndarray) -> float:
    """Jaccard index ``|R ∩ P| / |R ∪ P|``; 1 when both are empty.

    Examples
    --------
    >>> round(jaccard(np.array([[1, 1, 0, 0]]), np.array([[0, 1, 1, 0]])), 4)
    0.3333
    """
    ref, pred, both = _counts(*_masks(reference, prediction))
    return 1.0 if ref + pred == 0 else both / (ref + pred - both)


def volume_difference_pct(reference: np.ndarray, prediction: np.ndarray) -> float | None:
    """Volume difference ``100 (|P| − |R|) / |R|`` in %; None if only the reference is empty.

    Examples
    --------
    >>> volume_difference_pct(np.array([[1, 1, 0, 0]]), np.array([[1, 1, 1, 0]]))
    50.0
    >>> volume_difference_pct(np.array([[0, 0]]), np.array([[1, 0]])) is None
    True
    """
    ref, pred, _ = _counts(*_masks(reference, prediction))
    if ref == 0:
        return 0.0 if pred == 0 else None
    return 100.0 * (pred - ref) / ref


def _undefined(distances: SurfaceDistances) -> bool:
    return distances.reference_empty != distances.prediction_empty


def _both_empty(distances: SurfaceDistances) -> bool:
    return distances.reference_empty and distances.prediction_empty


def _percentile(distances: np.ndarray, areas: np.ndarray, percent: float) -> float:
    """Area-weighted percentile, as ``surface_distance.compute_robust_hausdorff``."""
    cumulative = np.cumsum(areas) / np.sum(areas)
    index = np.searchsorted(cumulative, percent / 100.0)
    return float(distances[min(index, distances.size - 1)])


def hausdorff(distances: SurfaceDistances) -> float | None:
    """Hausdorff distance (mm): the largest surfel distance in either direction.

    Examples
    --------
    >>> reference = np.zeros((8, 8), bool); reference[2:5, 2:5] = True
    >>> prediction = np.zeros((8, 8), bool); prediction[2:5, 2:7] = True
    >>> hausdorff(surface_distances(reference, prediction, (1.0, 1.0)))
    2.0
    """
    if _both_empty(distances):
        return 0.0
    if _undefined(distances):
        return None
    return float(max(distances.reference_to_prediction[-1], distances.prediction_to_reference[-1]))


def hausdorff95(distances: SurfaceDistances) -> float | None:
    """95th-percentile Hausdorff distance (mm), surfels weighted by area.

    The larger of the two directed 95th percentiles, as
    ``surface_distance.compute_robust_hausdorff(d, 95)``.

    Examples
    --------
    >>> reference = np.zeros((8, 8), bool); reference[2:5, 2:5] = True
    >>> prediction = np.zeros((8, 8), bool); prediction[2:5, 2:7] = True
    >>> hausdorff95(surface_distances(reference, prediction, (1.0, 1.0)))
    2.0
    """
    if _both_empty(distances):
        return 0.0
    if _undefined(distances):
        return None
    return max(
        _percentile(distances.reference_to_prediction, distances.reference_areas, 95.0),
        _percentile(distances.prediction_to_reference, distances.prediction_areas, 95.0),
    )


def _average(distances: np.ndarray, areas: np.ndarray) -> float:
    return float(np.sum(distances * areas) / np.sum(areas))


def mean_surface_distance(distances: SurfaceDistances) -> float | None:
    """Mean surface distance (mm): the mean of the two directed average distances.

    Each directed average weights surfels by area, as
    ``surface_distance.compute_average_surface_distance``.

    Examples
    --------
    >>> reference = np.zeros((8, 8), bool); reference[2:5, 2:5] = True
    >>> mean_surface_distance(surface_distances(reference, reference, (1.0, 1.0)))
    0.0
    """
    if _both_empty(distances):
        return 0.0
    if _undefined(distances):
        return None
    return (
        _average(distances.reference_to_prediction, distances.reference_areas)
        + _average(distances.prediction_to_reference, distances.prediction_areas)
    ) / 2


def surface_dice(distances: SurfaceDistances, tolerance_mm: float) -> float:
    """Surface Dice at a tolerance: the share of surface within `tolerance_mm` of the other.

    As ``surface_distance.compute_surface_dice_at_tolerance``: a surfel counts
    when its distance is ≤ `tolerance_mm`; 1 when both masks are empty, 0 when
    only one is.

    Examples
    --------
    >>> reference = np.zeros((8, 8), bool); reference[2:5, 2:5] = True
    >>> prediction = np.zeros((8, 8), bool); prediction[2:5, 2:7] = True
    >>> d = surface_distances(reference, prediction, (1.0, 1.0))
    >>> surface_dice(d, 2.0), round(surface_dice(d, 1.0), 4)
    (1.0, 0.8669)
    """
    tolerance = as_tolerance(tolerance_mm)
    if _both_empty(distances):
        return 1.0
    if _undefined(distances):
        return 0.0
    near_ref = np.sum(distances.reference_areas[distances.reference_to_prediction <= tolerance])
    near_pred = np.sum(distances.prediction_areas[distances.prediction_to_reference <= tolerance])
    total = np.sum(distances.reference_areas) + np.sum(distances.prediction_areas)
    return float((near_ref + near_pred) / total)


@dataclass(frozen=True)
class Scores:
    """Every metric of one structure; None where a metric is undefined (one mask empty)."""

    dice: float
    jaccard: float
    hd_mm: float | None
    hd95_mm: float | None
    msd_mm: float | None
    surface_dice: float
    volume_diff_pct: float | None
    tolerance_mm: float

    def as_dict(self) -> dict[str, float | None]:
        """Plain floats and None, ready for ``json.dumps`` (None becomes ``null``)."""
        return asdict(self)


def score(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing_mm: Sequence[float],
    tolerance_mm: float = 2.0,
) -> Scores:
    """All metrics of a delineation against its reference, surfaces computed once.

    Parameters
    ----------
    reference, prediction : numpy.ndarray
        Binary 2D or 3D masks of the same shape (bool, or numbers all 0 or 1).
    spacing_mm : sequence of float
        Voxel size along each array axis, in mm, as the image gives it.
    tolerance_mm : float, default 2.0
        Tolerance of the surface Dice.

    Returns
    -------
    Scores

    Raises
    ------
    ValueError
        Masks not binary, not 2D/3D or of different shapes; `spacing_mm` of the
        wrong length or not positive; `tolerance_mm` negative.

    Examples
    --------
    >>> reference = np.zeros((8, 8), bool); reference[2:5, 2:5] = True
    >>> prediction = np.zeros((8, 8), bool); prediction[2:5, 2:7] = True
    >>> s = score(reference, prediction, (0.5, 0.5), tolerance_mm=1.0)
    >>> s.dice, s.hd_mm, s.volume_diff_pct
    (0.75, 1.0, 66.66666666666667)
    >>> score(reference, np.zeros_like(reference), (1.0, 1.0)).as_dict()["hd95_mm"] is None
    True
    """
    reference, prediction = _masks(reference, prediction)
    as_spacing(spacing_mm, reference.ndim)
    tolerance = as_tolerance(tolerance_mm)
    # outside the union bounding box both masks are empty: count voxels in the box only
    box = union_box(reference, prediction)
    if box is not None:
        reference, prediction = reference[box], prediction[box]
    distances = surface_distances(reference, prediction, spacing_mm)
    return Scores(
        dice=dice(reference, prediction),
        jaccard=jaccard(reference, prediction),
        hd_mm=hausdorff(distances),
        hd95_mm=hausdorff95(distances),
        msd_mm=mean_surface_distance(distances),
        surface_dice=surface_dice(distances, tolerance),
        volume_diff_pct=volume_difference_pct(reference, prediction),
        tolerance_mm=tolerance,
    )


def score_structures(
    reference_labels: np.ndarray,
    prediction_labels: np.ndarray,
    spacing_mm: Sequence[float],
    labels: Iterable[int] | None = None,
    tolerance_mm: float = 2.0,
) -> dict[int, Scores]:
    """Scores of each structure of two label maps (0 is background).

    Parameters
    ----------
    reference_labels, prediction_labels : numpy.ndarray
        Integer label maps of the same shape, 2D or 3D.
    spacing_mm : sequence of float
        Voxel size along each array axis, in mm.
    labels : iterable of int, optional
        Structures to score; by default every non-zero label in either map.
        A label absent from both scores as two empty masks.
    tolerance_mm : float, default 2.0
        Tolerance of the surface Dice.

    Returns
    -------
    dict of int to Scores

    Examples
    --------
    >>> reference = np.zeros((6, 6), np.uint8); reference[1:3, 1:3] = 1; reference[4:6, 4:6] = 2
    >>> prediction = reference.copy(); prediction[4:6, 4:6] = 0
    >>> {label: s.dice for label, s in score_structures(reference, prediction, (1, 1)).items()}
    {1: 1.0, 2: 0.0}
    """
    reference_labels = np.asarray(reference_labels)
    prediction_labels = np.asarray(prediction_labels)
    for name, array in (
        ("reference_labels", reference_labels),
        ("prediction_labels", prediction_labels),
    ):
        if array.dtype.kind not in "biu":
            raise ValueError(f"Argument '{name}' must be an integer label map, not {array.dtype}.")
    if reference_labels.shape != prediction_labels.shape:
        raise ValueError(
            "Arguments 'reference_labels' and 'prediction_labels' must have the same shape, "
            f"not {reference_labels.shape} and {prediction_labels.shape}."
        )
    if labels is None:
        found = np.union1d(np.unique(reference_labels), np.unique(prediction_labels))
        labels = [int(label) for label in found if label != 0]
    return {
        int(label): score(
            reference_labels == label, prediction_labels == label, spacing_mm, tolerance_mm
        )
        for label in labels
    }
