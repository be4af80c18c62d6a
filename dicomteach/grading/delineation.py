"""Grading a delineation (a mask) against a reference: points, text and images.

Points (``max_points`` = the ``points`` argument) come from two scores of
:func:`dicomteach.scoring.score`: Dice ``D`` and surface Dice ``S`` at the
tolerance τ. Each earns a credit that rises linearly from 0 at its *zero
mark* ``Z`` to 1 at its *full mark* ``F``::

    credit(x) = clip((x − Z) / (F − Z), 0, 1)
    points    = round(max_points × (credit(D) + credit(S)) / 2, 2)

so full points need both ``D ≥ F_dice`` and ``S ≥ F_surface``, and points never
decrease when either score improves. Full marks are the instructor's
(:data:`DEFAULT_FULL_MARKS` unless given) or, with an expert-vs-expert
``baseline``, the experts' own agreement less ``baseline_margin``: a learner
who agrees with the reference as well as a second expert does gets full
points. Zero marks default to half the full marks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dicomteach.grading._inputs import (
    Problem,
    as_spacing_mm,
    check_grid,
    failure,
    internal_error,
    load_mask,
    reference_problem,
)
from dicomteach.grading.analysis import (
    describe_delineation,
    error_runs,
    slice_errors,
    worst_slices,
)
from dicomteach.grading.directions import as_direction
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.grading.render import bar_chart_png, slices_png
from dicomteach.io.volume import Volume, Window
from dicomteach.scoring import Scores, score
from dicomteach.scoring.signed import signed_distance_map

__all__ = ["DEFAULT_FULL_MARKS", "Marks", "grade_delineation", "partial_credit"]


@dataclass(frozen=True)
class Marks:
    """A pair of thresholds on Dice and on surface Dice (at the grader's tolerance)."""

    dice: float
    surface_dice: float


DEFAULT_FULL_MARKS = Marks(dice=0.85, surface_dice=0.90)
"""Full marks when the instructor gives neither thresholds nor an expert baseline."""

BASELINE_MARGIN = 0.02
"""Full marks lie this far below an expert-vs-expert baseline (experts' own noise)."""


def partial_credit(value: float, zero: float, full: float) -> float:
    """Linear credit: 0 at or below ``zero``, 1 at or above ``full``.

    Examples
    --------
    >>> partial_credit(0.75, 0.5, 1.0)
    0.5
    >>> partial_credit(0.95, 0.5, 0.9), partial_credit(0.3, 0.5, 0.9)
    (1.0, 0.0)
    """
    return float(np.clip((value - zero) / (full - zero), 0.0, 1.0))


def _targets(
    full_marks: Marks | None, zero_marks: Marks | None, baseline: Scores | None, margin: float
) -> tuple[Marks, Marks, tuple[str, str]]:
    """Full and zero marks, and for each metric why its full mark is what it is (or "")."""
    if baseline is not None:
        if not isinstance(baseline, Scores):
            raise reference_problem(f"baseline must be a Scores, not {type(baseline).__name__}")
        full = Marks(max(0.05, baseline.dice - margin), max(0.05, baseline.surface_dice - margin))
        # say where the threshold comes from, so it does not read as an unexplained number
        origin = (
            f"two experts agree at {baseline.dice:.2f}, less {margin:g} for their own variation",
            f"experts {baseline.surface_dice:.2f} less {margin:g}",
        )
    else:
        full = full_marks or DEFAULT_FULL_MARKS
        origin = ("", "")
    zero = zero_marks or Marks(full.dice / 2, full.surface_dice / 2)
    for name in ("dice", "surface_dice"):
        z, f = getattr(zero, name), getattr(full, name)
        if not (0 <= z < f <= 1):
            raise reference_problem(f"{name}: zero mark {z} must lie below full mark {f} in [0, 1]")
    return full, zero, origin


def _background(
    image: object, window: Window | None, shape: tuple[int, ...], shown: list[int]
) -> tuple[dict[int, np.ndarray] | None, Window | None]:
    """Modality values of the ``shown`` slices on the mask grid, and the window to show them
    through. Only those slices are read: a picture shows three of a study's hundreds."""
    from dicomteach.imaging import auto_window, default_window

    if image is None:
        return None, None
    if isinstance(image, Volume):
        if image.is_color or tuple(image.pixels.shape) != shape:
            return None, None
        values = {k: _slice_values(image, k) for k in shown}
        window = window or default_window(image)
    else:
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[None]
        if array.shape != shape:
            return None, None
        values = {k: np.asarray(array[k], dtype=float) for k in shown}
    return values, window or auto_window(np.stack(list(values.values())))


def _slice_values(volume: Volume, k: int) -> np.ndarray:
    """Modality values of slice ``k`` (:func:`dicomteach.imaging.modality_values`, one slice)."""
    from dicomteach.imaging import apply_modality_lut

    stored = np.asarray(volume.pixels[k])
    if volume.modality_lut is not None:
        return apply_modality_lut(stored, lut=volume.modality_lut)
    slope, intercept = (
        np.atleast_1d(np.asarray(a, dtype=np.float64))
        for a in (volume.rescale_slope, volume.rescale_intercept)
    )
    return apply_modality_lut(
        stored,
        slope=slope[k] if slope.size > 1 else slope[0],
        intercept=intercept[k] if intercept.size > 1 else intercept[0],
    )


def grade_delineation(
    answer: object,
    reference: object,
    points: float = 10.0,
    *,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 2.0,
    full_marks: Marks | None = None,
    zero_marks: Marks | None = None,
    baseline: Scores | None = None,
    baseline_margin: float = BASELINE_MARGIN,
    full_marks_why: tuple[str, str] = ("", ""),
    image: np.ndarray | Volume | str | os.PathLike[str] | None = None,
    window: Window | None = None,
    direction: np.ndarray | None = None,
    structure: int | str | None = None,
    reference_structure: int | str | None = None,
    stand_in: bool = True,
    images: bool = True,
) -> Feedback:
    """Points and feedback for a learner's delineation of one structure.

    Never raises: a missing, unreadable, wrong-shaped, wrong-spacing,
    non-binary, NaN-filled or empty answer gets 0 points and one line saying
    why; a problem with the reference or the arguments gets 0 points and
    ``status=Status.GRADING_ERROR`` (the learner is told it is not their fault,
    ``details["problem"]`` says what to fix).

    Parameters
    ----------
    answer, reference : array, Structures or path
        Binary 2D/3D masks on one grid, :class:`~dicomteach.roi.Structures`,
        or paths to a DICOM SEG, RTSTRUCT (needs ``image`` as a path) or ``.npz``.
    points : float
        Points for a perfect answer.
    spacing_mm : sequence of float, optional
        Voxel size per mask axis (mm). Defaults to the reference file's, then
        the ``image`` Volume's. An answer file with other spacing (beyond
        :data:`~dicomteach.roi.grid.GRID_TOLERANCE_MM`, as for ``dicomteach
        score``) gets 0 points.
    tolerance_mm : float, default 2.0
        Surface Dice tolerance, and the error worth a feedback line. With a
        ``baseline``, the baseline's tolerance is used instead.
    full_marks, zero_marks : Marks, optional
        Thresholds of the linear partial credit (module docstring).
    baseline : Scores, optional
        One expert scored against another (:func:`dicomteach.scoring.score`);
        full marks become its Dice and surface Dice less ``baseline_margin``.
        Several experts' outlines: :func:`dicomteach.grading.grade_against_experts`.
    full_marks_why : (str, str), optional
        Where ``full_marks`` come from (Dice, surface Dice), said in the first
        line of the feedback (e.g. "the least any expert agrees").
    image : array, Volume or path, optional
        Shown under the outlines: modality values on the mask grid, a
        Volume, or a DICOM file/folder (also the grid of an RTSTRUCT answer).
        A Volume gives spacing, window and patient directions.
    window : Window, optional
        How to show ``image`` (e.g. ``presets_for("CT")[k].window``).
    direction : 3×3 array, optional
        Row ``k``: LPS unit vector of array axis ``k``; names directions
        anatomically. Without it (and without a Volume) directions are named
        on screen ("upper", "left-hand").
    structure, reference_structure : int or str, optional
        Which structure of a multi-structure file to grade (number or name).
    stand_in : bool, default True
        Whether a file holding one structure under another name is graded as
        ``structure`` (the feedback then says so). Off when an activity asks
        for several structures: one must never be graded with another's outline.
    images : bool, default True
        Draw the PNGs (off for fast bulk grading).

    Examples
    --------
    >>> reference = np.zeros((12, 32, 32), bool); reference[3:9, 8:24, 8:24] = True
    >>> answer = np.roll(reference, 2, axis=1)  # 2 rows down = 2 mm posterior on an axial CT
    >>> axial = np.array([[0, 0, 1.0], [0, 1, 0], [1, 0, 0]])
    >>> f = grade_delineation(answer, reference, 10, spacing_mm=(2, 1, 1),
    ...                       tolerance_mm=1, direction=axial, images=False)
    >>> f.points < 10, any("anterior margin is missed" in line for line in f.lines)
    (True, True)
    >>> grade_delineation(None, reference, 10, spacing_mm=(2, 1, 1)).points
    0.0
    """
    max_points = float(points) if isinstance(points, int | float) else 0.0
    try:
        return _grade(
            answer,
            reference,
            max_points,
            spacing_mm,
            tolerance_mm,
            full_marks,
            zero_marks,
            baseline,
            baseline_margin,
            full_marks_why,
            image,
            window,
            direction,
            structure,
            reference_structure,
            stand_in,
            images,
        )
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)


def _grade(
    answer,
    reference,
    max_points,
    spacing_mm,
    tolerance_mm,
    full_marks,
    zero_marks,
    baseline,
    baseline_margin,
    full_marks_why,
    image,
    window,
    direction,
    structure,
    reference_structure,
    stand_in,
    draw,
) -> Feedback:
    if not (np.isfinite(max_points) and max_points >= 0):
        raise reference_problem(f"points must be a number ≥ 0, not {max_points}")
    image_path = image if isinstance(image, str | os.PathLike) else None
    if image_path is not None:
        from dicomteach import io

        try:
            image = io.load(image_path)
        except Exception as exc:
            raise reference_problem(f"image {image_path}: {exc}") from None
    volume = image if isinstance(image, Volume) else None
    try:
        ref, ref_spacing, _ = load_mask(
            reference,
            whose="reference",
            structure=reference_structure,
            image=volume if volume is not None else image_path,
            stand_in=stand_in,
        )
    except Problem as problem:
        raise reference_problem(problem.line) from None
    if spacing_mm is None:
        spacing_mm = ref_spacing or (volume.spacing if volume is not None else None)
    if spacing_mm is None:
        raise reference_problem("spacing_mm is needed when the reference is an array")
    spacing = as_spacing_mm(spacing_mm, ref.ndim)
    if not ref.any():
        raise reference_problem("the reference mask is empty")
    ans, ans_spacing, note = load_mask(
        answer,
        whose="delineation",
        structure=structure,
        image=volume if volume is not None else image_path,
        shape=ref.shape,
        stand_in=stand_in,
    )
    check_grid(ans, ans_spacing, ref.shape, spacing)
    if not ans.any():
        raise Problem(
            "Your delineation is empty: nothing was drawn. Outline the structure on every "
            "slice where you see it, then save."
        )
    one_slice = ref.ndim == 2
    if one_slice:
        ref, ans, spacing = ref[None], ans[None], (1.0, *spacing)
    if volume is not None and volume.geometry_known and direction is None:
        direction = volume.direction
    direction = as_direction(direction)

    if baseline is not None and isinstance(baseline, Scores):
        tolerance_mm = baseline.tolerance_mm
    full, zero, origin = _targets(full_marks, zero_marks, baseline, baseline_margin)
    if baseline is None and any(full_marks_why):
        origin = (str(full_marks_why[0]), str(full_marks_why[1]))
    scores = score(ref, ans, spacing, tolerance_mm)
    credit_dice = partial_credit(scores.dice, zero.dice, full.dice)
    credit_surface = partial_credit(scores.surface_dice, zero.surface_dice, full.surface_dice)
    awarded = round(max_points * (credit_dice + credit_surface) / 2, 2)

    signed = signed_distance_map(ans, ref, spacing)
    errors = slice_errors(ans, ref, signed, spacing)
    runs = error_runs(ans, ref, errors, spacing, tolerance_mm, direction)

    def because(why: str) -> str:
        return f": {why}" if why else ""

    lines = [
        f"Dice {scores.dice:.2f} (full marks from {full.dice:.2f}{because(origin[0])}); "
        f"surface Dice at {tolerance_mm:g} mm {scores.surface_dice:.2f} (full marks from "
        f"{full.surface_dice:.2f}{because(origin[1])}): "
        f"{awarded:g} of {max_points:g} points."
    ]
    lines += [note] if note else []
    lines += describe_delineation(
        signed, runs, tolerance_mm, min(spacing[1:]), one_slice, scores.msd_mm
    )

    pictures: dict[str, bytes] = {}
    details = {
        "full_marks": asdict(full),
        "zero_marks": asdict(zero),
        "credit": {"dice": credit_dice, "surface_dice": credit_surface},
        "mean_signed_mm": signed.mean(),
        "runs": [asdict(r) for r in runs],
    }
    if draw:
        shown = worst_slices(errors, 3)
        values, shown_window = _background(image, window, ref.shape, shown)
        try:
            pictures["worst-slices.png"] = slices_png(
                ans,
                ref,
                shown,
                errors,
                spacing,
                tolerance_mm,
                image=values,
                window=shown_window,
                direction=direction,
            )
            if not one_slice:
                pictures["per-slice.png"] = bar_chart_png(errors, shown)
        except Exception as exc:  # a picture is not worth an autograde
            details["render_problem"] = f"{type(exc).__name__}: {exc}"
    return Feedback(awarded, max_points, scores, lines, pictures, Status.GRADED, details)
