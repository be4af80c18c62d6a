"""Several experts' outlines of one structure: their STAPLE consensus and how far they spread.

:func:`staple` estimates the hidden "true" outline from several binary masks
and how good each rater is, by expectation–maximisation (Warfield, Zou and
Wells 2004, IEEE Trans Med Imaging 23(7):903–921), through SimpleITK's
``STAPLEImageFilter``: a voxel's probability of being inside, each rater's
sensitivity and specificity; the consensus is where the probability is at
least one half. :func:`expert_spread` scores each expert against that
consensus with :func:`~dicomteach.scoring.score` (Dice, surface Dice, …) and
gives their volumes: the honest bar for a learner, since a learner who agrees
with the consensus as well as an expert does has drawn as an expert draws
(docs/decisions.md, decision 29).

Arrays in, arrays out, as the rest of :mod:`dicomteach.scoring`. STAPLE runs
on the union's bounding box with a margin of :data:`BOX_MARGIN` voxels, not on
the whole image: the result inside is the same, the cost is the lesion's, and a
rater's specificity is measured in that box (on a whole CT it would be 1.0000
for anyone).

Up to :data:`GROUPED_RATERS` raters, the expectation–maximisation runs once per
distinct set of votes rather than once per voxel (:func:`_grouped_staple`):
SimpleITK's filter gives every voxel the same prior, so voxels that the same
raters drew go through every step alike. It starts, steps and stops as
SimpleITK's ``STAPLEImageFilter`` does, and gives its numbers (tests check it
against the filter); a class of 30 outlining a large tumour has a few thousand
distinct votes in a box of a million voxels, and its consensus takes a tenth
of a second instead of three (docs/decisions.md, decision 39). More raters go
through SimpleITK's filter itself (imported on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dicomteach.scoring._checks import as_mask, as_spacing, as_tolerance
from dicomteach.scoring.metrics import Scores, score

__all__ = [
    "BOX_MARGIN",
    "Consensus",
    "Spread",
    "expert_spread",
    "spread_arrays",
    "spread_from_arrays",
    "staple",
]

BOX_MARGIN = 3
"""Voxels of background kept round the union of the masks where STAPLE runs."""

MAX_ITERATIONS = 200
"""STAPLE stops here if it has not converged (it takes a few dozen on real outlines)."""

GROUPED_RATERS = 63
"""Up to this many raters, STAPLE runs over distinct votes (a voxel's votes fit a 64-bit word)."""

CONVERGED = 1e-7
"""STAPLE has converged when no rater's sensitivity or specificity moved more than this in a
step: where SimpleITK's filter stops (its results are matched to 1e-11 by that rule)."""


@dataclass(frozen=True)
class Consensus:
    """The STAPLE estimate from several raters' masks of one structure."""

    mask: np.ndarray
    """Bool, the masks' shape: where :attr:`probability` is at least the threshold (0.5)."""
    probability: np.ndarray
    """Float32, the masks' shape: each voxel's estimated probability of being inside."""
    sensitivity: tuple[float, ...]
    """Per rater, in the order given: the share of the true inside the rater drew."""
    specificity: tuple[float, ...]
    """Per rater: the share of the true outside the rater left out, within STAPLE's box."""
    iterations: int
    """Expectation–maximisation steps STAPLE took."""


def _sitk() -> Any:
    import SimpleITK as sitk

    return sitk


def _stack(masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(masks, np.ndarray) or len(masks) < 2:
        raise ValueError("Argument 'masks' must be a sequence of at least two masks.")
    checked = [as_mask(f"masks[{i}]", m) for i, m in enumerate(masks)]
    shapes = {m.shape for m in checked}
    if len(shapes) != 1:
        raise ValueError(f"Argument 'masks' must hold masks of one shape, not {sorted(shapes)}.")
    return checked


def staple(masks: Sequence[np.ndarray], *, threshold: float = 0.5) -> Consensus:
    """The STAPLE consensus of two or more binary masks of one structure on one grid.

    Parameters
    ----------
    masks : sequence of numpy.ndarray
        Binary 2D or 3D masks of one shape (bool, or numbers all 0 or 1), one per rater.
    threshold : float, default 0.5
        The consensus is where the probability is at least this.

    Raises
    ------
    ValueError
        Fewer than two masks, masks not binary or of different shapes, or every mask empty.

    Examples
    --------
    Two of three raters agree on a voxel: it is in the consensus; one alone is not.

    >>> a = np.zeros((12, 12), bool); a[3:9, 3:9] = True
    >>> b = a.copy(); b[3:9, 9] = True
    >>> c = a.copy(); c[3:9, 9:11] = True
    >>> found = staple([a, b, c])
    >>> bool(found.mask[5, 9]), bool(found.mask[5, 10])
    (True, False)
    >>> [round(s, 2) for s in found.sensitivity]
    [0.86, 1.0, 1.0]
    """
    checked = _stack(masks)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"Argument 'threshold' must lie in (0, 1], not {threshold}.")
    union = np.logical_or.reduce(checked)
    if not union.any():
        raise ValueError("Argument 'masks' holds only empty masks: there is nothing to agree on.")
    box = tuple(
        slice(max(0, int(idx[0]) - BOX_MARGIN), min(n, int(idx[-1]) + 1 + BOX_MARGIN))
        for axis, n in enumerate(union.shape)
        for idx in [
            np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        ]
    )
    inside = [np.ascontiguousarray(m[box]) for m in checked]
    if len(inside) <= GROUPED_RATERS:
        found, sensitivity, specificity, iterations = _grouped_staple(inside)
    else:
        found, sensitivity, specificity, iterations = _itk_staple(inside)
    probability = np.zeros(union.shape, np.float32)
    probability[box] = np.nan_to_num(found.astype(np.float32), nan=0.0)
    return Consensus(
        mask=probability >= np.float32(threshold),
        probability=probability,
        sensitivity=sensitivity,
        specificity=specificity,
        iterations=iterations,
    )


def _itk_staple(masks: list[np.ndarray]) -> tuple[np.ndarray, tuple, tuple, int]:
    """SimpleITK's ``STAPLEImageFilter`` on ``masks``: probability, sensitivity, specificity, steps."""
    sitk = _sitk()
    images = [sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks]
    method = sitk.STAPLEImageFilter()
    method.SetForegroundValue(1.0)
    method.SetMaximumIterations(MAX_ITERATIONS)
    inside = sitk.GetArrayFromImage(method.Execute(images))
    return (
        inside,
        tuple(float(s) for s in method.GetSensitivity()),
        tuple(float(s) for s in method.GetSpecificity()),
        int(method.GetElapsedIterations()),
    )


def _grouped_staple(masks: list[np.ndarray]) -> tuple[np.ndarray, tuple, tuple, int]:
    """STAPLE as :func:`_itk_staple` computes it, over each distinct set of votes once.

    As SimpleITK: the first estimate of a voxel is the share of raters who
    drew it, the prior the mean of those; each step estimates every rater's
    sensitivity and specificity from the current estimate, then the estimate
    from them; it stops after the first step that moved none of them more than
    :data:`CONVERGED` (that step not counted), or after :data:`MAX_ITERATIONS`.
    """
    raters = len(masks)
    votes = np.zeros(masks[0].shape, np.uint64)
    for i, mask in enumerate(masks):
        votes |= mask.astype(np.uint64) << np.uint64(i)
    patterns, where, voxels = np.unique(votes.ravel(), return_inverse=True, return_counts=True)
    drew = (patterns[None, :] >> np.arange(raters, dtype=np.uint64)[:, None]) & np.uint64(1)
    drew = drew.astype(bool)  # raters × patterns
    weight = voxels.astype(np.float64)
    estimate = drew.mean(axis=0)
    prior = float((estimate * weight).sum() / weight.sum())
    last_p = last_q = np.full(raters, -10.0)
    steps = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        while True:
            inside, outside = weight * estimate, weight * (1.0 - estimate)
            p = (drew * inside).sum(axis=1) / inside.sum()
            q = (~drew * outside).sum(axis=1) / outside.sum()
            yes = np.where(drew, p[:, None], 1.0 - p[:, None]).prod(axis=0)
            no = np.where(drew, 1.0 - q[:, None], q[:, None]).prod(axis=0)
            estimate = prior * yes / (prior * yes + (1.0 - prior) * no)
            moved = max(np.abs(p - last_p).max(), np.abs(q - last_q).max())
            last_p, last_q = p, q
            if moved <= CONVERGED:
                break
            steps += 1
            if steps >= MAX_ITERATIONS:
                break
    return (
        estimate[where].reshape(masks[0].shape),
        tuple(float(x) for x in p),
        tuple(float(x) for x in q),
        steps,
    )


@dataclass(frozen=True)
class Spread:
    """How experts spread round their consensus: each one's scores against it, and volumes."""

    consensus: Consensus
    scores: tuple[Scores, ...]
    """Each expert (reference: the consensus, prediction: the expert), in the order given."""
    volumes_mm3: tuple[float, ...]
    """Each expert's volume (2D masks: area in mm²)."""
    consensus_mm3: float
    """The consensus's volume."""

    @property
    def worst_dice(self) -> float:
        """The lowest Dice of an expert against the consensus."""
        return min(s.dice for s in self.scores)

    @property
    def worst_surface_dice(self) -> float:
        """The lowest surface Dice of an expert against the consensus."""
        return min(s.surface_dice for s in self.scores)

    @property
    def volume_ratio(self) -> float:
        """The largest expert volume over the smallest (inf when one expert drew nothing)."""
        low, high = min(self.volumes_mm3), max(self.volumes_mm3)
        return float("inf") if low == 0 else high / low

    def place(self, scores: Scores) -> tuple[int, int]:
        """How many experts ``scores`` equal or beat: on Dice, and on surface Dice.

        >>> s = expert_spread([np.eye(4, dtype=bool), np.eye(4, dtype=bool)], (1.0, 1.0))
        >>> s.place(s.scores[0])
        (2, 2)
        """
        # a learner who draws exactly as an expert did must count as that expert
        slack = 1e-9
        dice = sum(scores.dice + slack >= s.dice for s in self.scores)
        surface = sum(scores.surface_dice + slack >= s.surface_dice for s in self.scores)
        return int(dice), int(surface)


def expert_spread(
    masks: Sequence[np.ndarray],
    spacing_mm: Sequence[float],
    tolerance_mm: float = 2.0,
) -> Spread:
    """The STAPLE consensus of experts' masks, and each expert's scores and volume against it.

    Parameters
    ----------
    masks : sequence of numpy.ndarray
        Two or more binary 2D or 3D masks of one shape, one per expert.
    spacing_mm : sequence of float
        Voxel size along each array axis, in mm.
    tolerance_mm : float, default 2.0
        Tolerance of the surface Dice.

    Examples
    --------
    Three experts, one drawing a column more, one a column less:

    >>> core = np.zeros((16, 16), bool); core[4:12, 4:12] = True
    >>> wide, narrow = core.copy(), core.copy()
    >>> wide[4:12, 12] = True; narrow[4:12, 11] = False
    >>> spread = expert_spread([core, wide, narrow], (1.0, 1.0), tolerance_mm=1.0)
    >>> bool(np.array_equal(spread.consensus.mask, core))
    True
    >>> [round(s.dice, 3) for s in spread.scores], spread.volumes_mm3
    ([1.0, 0.941, 0.933], (64.0, 72.0, 56.0))
    >>> round(spread.volume_ratio, 2)
    1.29
    """
    checked = _stack(masks)
    spacing = as_spacing(spacing_mm, checked[0].ndim)
    tolerance = as_tolerance(tolerance_mm)
    consensus = staple(checked)
    voxel = float(np.prod(spacing))
    return Spread(
        consensus=consensus,
        scores=tuple(score(consensus.mask, m, spacing, tolerance) for m in checked),
        volumes_mm3=tuple(float(np.count_nonzero(m)) * voxel for m in checked),
        consensus_mm3=float(np.count_nonzero(consensus.mask)) * voxel,
    )


_SCORE_FIELDS = (
    "dice", "jaccard", "hd_mm", "hd95_mm", "msd_mm", "surface_dice", "volume_diff_pct",
    "tolerance_mm",
)  # fmt: skip


def spread_arrays(spread: Spread) -> dict[str, np.ndarray]:
    """A :class:`Spread` as plain numeric arrays (an ``.npz`` stores them without a pickle).

    >>> s = expert_spread([np.eye(4, dtype=bool), np.eye(4, dtype=bool)], (1.0, 1.0))
    >>> back = spread_from_arrays(spread_arrays(s))
    >>> back.scores == s.scores, bool(np.array_equal(back.consensus.mask, s.consensus.mask))
    (True, True)
    """
    nan = float("nan")
    return {
        "consensus_mask": np.asarray(spread.consensus.mask, bool),
        "consensus_probability": np.asarray(spread.consensus.probability, np.float32),
        "sensitivity": np.array(spread.consensus.sensitivity, float),
        "specificity": np.array(spread.consensus.specificity, float),
        "iterations": np.array(spread.consensus.iterations, np.int64),
        "scores": np.array(
            [
                [nan if getattr(x, f) is None else getattr(x, f) for f in _SCORE_FIELDS]
                for x in spread.scores
            ],
            float,
        ),  # fmt: skip
        "volumes_mm3": np.array(spread.volumes_mm3, float),
        "consensus_mm3": np.array(spread.consensus_mm3, float),
    }


def spread_from_arrays(arrays: dict[str, np.ndarray] | Any) -> Spread:
    """The :class:`Spread` :func:`spread_arrays` stored (missing distances come back None)."""

    def value(field: str, x: float) -> float | None:
        optional = field in {"hd_mm", "hd95_mm", "msd_mm", "volume_diff_pct"}
        return None if optional and np.isnan(x) else float(x)

    rows = np.asarray(arrays["scores"], float).reshape(-1, len(_SCORE_FIELDS))
    return Spread(
        consensus=Consensus(
            mask=np.asarray(arrays["consensus_mask"], bool),
            probability=np.asarray(arrays["consensus_probability"], np.float32),
            sensitivity=tuple(float(x) for x in arrays["sensitivity"]),
            specificity=tuple(float(x) for x in arrays["specificity"]),
            iterations=int(arrays["iterations"]),
        ),
        scores=tuple(
            Scores(**{f: value(f, x) for f, x in zip(_SCORE_FIELDS, row, strict=True)})
            for row in rows
        ),
        volumes_mm3=tuple(float(x) for x in arrays["volumes_mm3"]),
        consensus_mm3=float(arrays["consensus_mm3"]),
    )
