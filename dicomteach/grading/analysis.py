"""Per-slice analysis of a delineation: where it is too large or too small, and what to do.

Slices run along the first array axis and are numbered from 1 in every text,
as a viewer shows them. A *miss* on a slice is a run of reference surface
further than the tolerance outside the answer; an *excess* is answer surface
further than the tolerance outside the reference. Consecutive slices with the
same kind of error form one run, and each run is described by the direction
of its error region seen from the reference on the same slices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dicomteach.grading.directions import describe, sides
from dicomteach.scoring.signed import SignedDistanceMap

__all__ = [
    "Run",
    "SliceErrors",
    "describe_delineation",
    "error_runs",
    "slice_errors",
    "worst_slices",
]

AROUND = "all around"
"""The direction of an error spread on every side of the structure."""

#: At most this many runs of slices are described in the feedback text.
MAX_RUNS = 3

#: A run whose error region covers at least this share of the reference (misses) or of
#: the answer (excess) on its slices is a whole-slice error (a missing or extra end).
WHOLE_SLICE_SHARE = 0.9


@dataclass(frozen=True)
class SliceErrors:
    """Per slice (index 0 is slice 1): areas (mm²) and worst distances (mm, ≥ 0) of each error."""

    too_large_mm2: np.ndarray
    too_small_mm2: np.ndarray
    worst_too_large_mm: np.ndarray
    worst_too_small_mm: np.ndarray
    reference_mm2: np.ndarray
    answer_mm2: np.ndarray

    @property
    def worst_mm(self) -> np.ndarray:
        return np.maximum(self.worst_too_large_mm, self.worst_too_small_mm)


@dataclass(frozen=True)
class Run:
    """Consecutive slices with the same kind of error beyond the tolerance."""

    kind: str
    """``"too small"`` or ``"too large"``."""
    first: int
    """First slice, numbered from 1."""
    last: int
    """Last slice, numbered from 1."""
    worst_mm: float
    whole_slices: bool
    """The error covers the slices' whole structure: a missed or an extra end."""
    where: str
    """Named direction, e.g. "posterior and left" ("" when none can be named)."""
    towards: str
    """The same as a way to move, e.g. "posteriorly and towards the patient's left"."""

    @property
    def slices(self) -> str:
        """ "slice 7" or "slices 41–44"."""
        return (
            f"slice {self.first}" if self.first == self.last else f"slices {self.first}–{self.last}"
        )


def slice_errors(
    answer: np.ndarray, reference: np.ndarray, signed: SignedDistanceMap, spacing: tuple
) -> SliceErrors:
    """Per-slice areas and worst distances of a 3D delineation (slices on axis 0)."""
    pixel_mm2 = float(spacing[1] * spacing[2])
    large = np.logical_and(answer, ~reference)
    small = np.logical_and(reference, ~answer)
    n = answer.shape[0]
    worst_large, worst_small = np.zeros(n), np.zeros(n)
    values = signed.values
    start = signed.box[0].start
    with np.errstate(invalid="ignore"):
        positive = np.where(values > 0, values, 0).reshape(values.shape[0], -1).max(axis=1)
        negative = np.where(values < 0, -values, 0).reshape(values.shape[0], -1).max(axis=1)
    worst_large[start : start + values.shape[0]] = positive
    worst_small[start : start + values.shape[0]] = negative

    def area(mask: np.ndarray) -> np.ndarray:
        return mask.reshape(n, -1).sum(axis=1) * pixel_mm2

    large_mm2, small_mm2 = area(large), area(small)
    # a slice is only "too small" where it misses voxels (the cut face of an outline that
    # stops early lies on the last outlined slice, which a viewer shows as complete)
    worst_large[large_mm2 == 0] = 0
    worst_small[small_mm2 == 0] = 0
    return SliceErrors(
        large_mm2, small_mm2, worst_large, worst_small, area(reference), area(answer)
    )


def worst_slices(errors: SliceErrors, count: int = 3) -> list[int]:
    """Array indices of up to ``count`` worst slices, worst first, spread at least 3 apart.

    With no error at all, the slice where the reference is largest.
    """
    badness = errors.worst_mm + 1e-6 * (errors.too_large_mm2 + errors.too_small_mm2)
    order = [int(k) for k in np.argsort(-badness, kind="stable") if badness[k] > 0]
    if not order:
        return [int(np.argmax(errors.reference_mm2))]
    chosen: list[int] = []
    for k in order:
        if all(abs(k - c) >= 3 for c in chosen):
            chosen.append(k)
        if len(chosen) == count:
            break
    return chosen


def _centroid(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(axis=0)


def _run_direction(
    error: np.ndarray,
    base: np.ndarray,
    k0: int,
    k1: int,
    spacing: tuple,
    whole: bool,
    base_centre_slice: float,
    direction: np.ndarray | None,
    worst_mm: float,
) -> tuple[str, str]:
    """Where the error of slices ``k0..k1`` lies, seen from ``base`` (the reference or answer)."""
    spacing_arr = np.asarray(spacing, float)
    if whole:
        along = (k0 + k1) / 2 - base_centre_slice
        vector = np.array([along * spacing_arr[0], 0.0, 0.0])
    else:
        # in-plane offset of the error from the base, slice by slice, weighted by error area
        offsets, weights = [], []
        for k in range(k0, k1 + 1):
            if error[k].any() and base[k].any():
                offsets.append(_centroid(error[k]) - _centroid(base[k]))
                weights.append(np.count_nonzero(error[k]))
        if not offsets:
            return "", ""
        mean = np.average(np.array(offsets), axis=0, weights=weights)
        vector = np.array([0.0, mean[0] * spacing_arr[1], mean[1] * spacing_arr[2]])
        if np.linalg.norm(vector) < 0.25 * worst_mm:
            return AROUND, AROUND  # errors on opposite sides cancel: no one direction
    return describe(sides(vector, direction))


def error_runs(
    answer: np.ndarray,
    reference: np.ndarray,
    errors: SliceErrors,
    spacing: tuple,
    tolerance_mm: float,
    direction: np.ndarray | None,
) -> list[Run]:
    """Runs of slices missed or overshot by more than ``tolerance_mm``, worst first."""
    runs: list[Run] = []
    ref_centre = float(_centroid(reference)[0])
    for kind, worst, error, base, error_area, base_area in (
        (
            "too small",
            errors.worst_too_small_mm,
            np.logical_and(reference, ~answer),
            reference,
            errors.too_small_mm2,
            errors.reference_mm2,
        ),
        (
            "too large",
            errors.worst_too_large_mm,
            np.logical_and(answer, ~reference),
            reference,
            errors.too_large_mm2,
            errors.answer_mm2,
        ),
    ):
        # a slice outlined on one side only is an error whatever its surface distance
        # (one missing 2 mm slice is only 2 mm from the next outline)
        one_sided = (error_area > 0) & (error_area >= base_area)
        beyond = (worst > tolerance_mm) | one_sided
        k = 0
        while k < beyond.size:
            if not beyond[k]:
                k += 1
                continue
            k1 = k
            while k1 + 1 < beyond.size and beyond[k1 + 1]:
                k1 += 1
            share = error_area[k : k1 + 1].sum() / max(base_area[k : k1 + 1].sum(), 1e-12)
            whole = bool(share >= WHOLE_SLICE_SHARE)
            where, towards = _run_direction(
                error,
                base,
                k,
                k1,
                spacing,
                whole,
                ref_centre,
                direction,
                float(worst[k : k1 + 1].max()),
            )
            runs.append(
                Run(kind, k + 1, k1 + 1, float(worst[k : k1 + 1].max()), whole, where, towards)
            )
            k = k1 + 1
    runs.sort(key=lambda r: -r.worst_mm)
    return runs


def _run_line(run: Run, one_slice_volume: bool) -> str:
    on = "" if one_slice_volume else f" on {run.slices}"
    there = "" if one_slice_volume else " there"
    up_to = f"by up to {run.worst_mm:.1f} mm"
    if run.kind == "too small":
        if run.whole_slices and not one_slice_volume:
            end = f" (its {run.where} end)" if run.where else ""
            return f"The structure is not outlined{on}{end}: outline it on these slices too."
        if run.where == AROUND:
            return (
                f"Your outline is too small all around{on}, {up_to}: "
                f"enlarge it on every side{there}."
            )
        if run.where:
            return (
                f"The {run.where} margin is missed{on}, {up_to}: "
                f"extend your outline {run.towards}{there}."
            )
        return f"Part of the structure is missed{on}, {up_to}: enlarge your outline{there}."
    if run.whole_slices and not one_slice_volume:
        beyond = f" (beyond its {run.where} end)" if run.where else ""
        return f"You outlined{on}, where the structure is absent{beyond}: erase your outline there."
    if run.where == AROUND:
        return (
            f"Your outline is too large all around{on}, {up_to}: bring it in on every side{there}."
        )
    if run.where:
        return (
            f"Your outline goes beyond the {run.where} margin{on}, {up_to}: "
            f"bring it in from the {run.where} side{there}."
        )
    return f"Your outline goes beyond the structure{on}, {up_to}: shrink it{there}."


def describe_delineation(
    signed: SignedDistanceMap,
    runs: list[Run],
    tolerance_mm: float,
    min_spacing_mm: float,
    one_slice_volume: bool = False,
    mean_surface_mm: float | None = None,
) -> list[str]:
    """Feedback lines: the overall size error, then the worst runs with what to do.

    ``mean_surface_mm`` is the mean surface distance the learner also sees in
    the scores (:func:`dicomteach.scoring.mean_surface_distance`): the text
    quotes that figure, so one quantity never shows two values.
    """
    lines = []
    mean, mean_abs = signed.mean(), signed.mean_absolute()
    shown = mean_abs if mean_surface_mm is None else mean_surface_mm
    if abs(mean) >= max(0.5 * min_spacing_mm, 0.25 * mean_abs) and abs(mean) >= 0.1:
        size = "too large" if mean > 0 else "too small"
        lines.append(
            f"On average your outline is {abs(mean):.1f} mm {size} "
            f"(mean surface distance {shown:.2f} mm)."
        )
    else:
        lines.append(
            f"On average the size of your outline is right (mean surface distance {shown:.2f} mm)."
        )
    if not runs:
        lines.append(f"Your outline follows the reference within {tolerance_mm:g} mm everywhere.")
    for run in runs[:MAX_RUNS]:
        lines.append(_run_line(run, one_slice_volume))
    if len(runs) > MAX_RUNS:
        lines.append(
            f"{len(runs) - MAX_RUNS} smaller error(s) on other slices: the bar chart shows them all."
        )
    return lines
