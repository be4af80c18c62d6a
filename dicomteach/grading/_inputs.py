"""Turning whatever a grader is given into masks, or into one line saying what is wrong.

Graders never raise on a bad answer: one learner's broken file must not stop an
autograde (docs/decisions.md, decision 15). The helpers here raise :class:`Problem`,
which each grader turns into a zero-point :class:`~dicomteach.grading.feedback.Feedback`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.io.volume import Volume
from dicomteach.roi import GridMismatchError, Structures, load_structures
from dicomteach.roi.grid import same_spacing


class Problem(Exception):
    """Why an answer (or a reference) cannot be graded: one line for the learner."""

    def __init__(self, line: str, status: Status = Status.INVALID_ANSWER, detail: str = ""):
        super().__init__(line)
        self.line = line
        self.status = status
        self.detail = detail or line


def reference_problem(detail: str) -> Problem:
    """A problem on the instructor's side: the learner is told it is not their fault."""
    return Problem(
        "This question could not be graded because of a problem on the instructor's side, "
        "not in your answer; your instructor has been told.",
        Status.GRADING_ERROR,
        detail,
    )


def failure(problem: Problem, max_points: float) -> Feedback:
    """0 points and the one line that says why (every grader's answer to a :class:`Problem`)."""
    return Feedback(
        0.0,
        max_points,
        lines=[problem.line],
        status=problem.status,
        details={"problem": problem.detail},
    )


def internal_error(exc: Exception, max_points: float) -> Feedback:
    """0 points for an unexpected error: graders never raise into an autograde."""
    return Feedback(
        0.0,
        max_points,
        lines=[
            "This question could not be graded because of an internal error; "
            "your instructor has been told."
        ],
        status=Status.GRADING_ERROR,
        details={"problem": f"{type(exc).__name__}: {exc}"},
    )


def _shape(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape)


def _pick(
    structures: Structures, structure: int | str | None, whose: str, stand_in: bool
) -> tuple[np.ndarray, str]:
    """The mask of ``structure`` (number or name), and a note for the learner, or "".

    A file of one structure that does not bear the name asked for is graded in
    its place when ``stand_in`` (one structure asked, one given: the learner's
    work counts), with a note saying so; without ``stand_in`` (an activity of
    several structures, where it may be another's outline) it is a Problem.
    """
    masks = structures.masks
    if not masks:
        raise Problem(f"{whose} holds no structure.")
    if structure is not None:
        for number in masks:  # a label map's masks are made when asked for: ask once
            name = structures.names.get(number, "")
            if structure == number or (
                isinstance(structure, str) and name.strip().lower() == structure.strip().lower()
            ):
                return masks[number], ""
        if len(masks) == 1 and stand_in:
            number, mask = next(iter(masks.items()))
            given = structures.names.get(number, "") or f"number {number}"
            return mask, (
                f"{whose}'s only structure is named {given!r}, not {structure!r}: "
                f"it was graded as the {structure}."
            )
        raise Problem(
            f"{whose} has no structure named {structure!r} "
            f"(it holds {', '.join(repr(n) for n in structures.names.values())})."
        )
    if len(masks) > 1:
        raise Problem(
            f"{whose} holds {len(masks)} structures "
            f"({', '.join(repr(n) for n in structures.names.values())}); "
            "which one is graded is not said."
        )
    return next(iter(masks.values())), ""


class Mask(NamedTuple):
    """What :func:`load_mask` gives: the mask, its spacing if known, a note for the learner."""

    array: np.ndarray
    spacing: tuple[float, ...] | None
    note: str = ""
    """Said in the feedback, e.g. that a structure was graded under another name."""


def load_mask(
    source: object,
    *,
    whose: str,
    structure: int | str | None,
    image: Volume | str | os.PathLike[str] | None,
    shape: tuple[int, ...] | None = None,
    stand_in: bool = True,
) -> Mask:
    """A binary mask, its spacing (mm per axis) when the source gives it, and a note.

    ``source``: an array, a :class:`~dicomteach.roi.Structures`, or a path to a
    SEG, RTSTRUCT or ``.npz``, placed on ``image``'s grid when given (a SEG
    handed in without its CT beside it); ``shape``, the grid it is graded on,
    lets a file drawn on another grid be refused before its data are read;
    ``stand_in``: whether a file of one structure not named ``structure`` is
    graded in its place (:func:`_pick`). Raises :class:`Problem` worded for ``whose``.
    """
    if source is None:
        raise Problem(f"No {whose} was found: draw it and save before you submit.")
    spacing, note = None, ""
    if isinstance(source, str | os.PathLike):
        name = os.path.basename(os.fspath(source))
        if not os.path.exists(source):
            raise Problem(
                f"Your {whose} file '{name}' was not found: draw it and save before you submit."
            )
        try:
            source = load_structures(source, image=image, shape=shape)
        except GridMismatchError as exc:
            raise Problem(
                f"Your {whose} file '{name}' does not lie on the grid of the assignment's image "
                f"({exc.problem}). Redo it on the series of the assignment."
            ) from None
        except DicomTeachError as exc:
            raise Problem(
                f"Your {whose} file '{name}' could not be read ({exc.problem}): save it again "
                "from the activity."
            ) from None
        except Exception as exc:  # a damaged file must not stop an autograde
            raise Problem(
                f"Your {whose} file '{name}' could not be read ({type(exc).__name__}): save it "
                "again from the activity."
            ) from None
    if isinstance(source, Structures):
        spacing = tuple(float(s) for s in source.spacing)
        source, note = _pick(source, structure, f"Your {whose}", stand_in)
    try:
        array = np.asarray(source)
    except Exception:
        raise Problem(f"Your {whose} is not an image mask ({type(source).__name__}).") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise Problem(f"Your {whose} is not an image mask (it holds {array.dtype} values).")
    if array.ndim not in (2, 3):
        raise Problem(f"Your {whose} is {array.ndim}D; it must be a 2D or 3D mask.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise Problem(
            f"Your {whose} holds NaN or infinite values, so it is not a mask: "
            "draw it again and save it from the activity."
        )
    if array.dtype != np.bool_:
        odd = np.unique(array[(array != 0) & (array != 1)])
        if odd.size:
            shown = ", ".join(f"{v:g}" for v in odd[:3].tolist()) + ("…" if odd.size > 3 else "")
            raise Problem(
                f"Your {whose} holds values other than 0 and 1 ({shown}): a mask of one "
                "structure must be 0 outside and 1 inside."
            )
        array = array.astype(bool)
    return Mask(array, spacing, note)


def check_grid(
    answer: np.ndarray,
    answer_spacing: Sequence[float] | None,
    shape: tuple[int, ...],
    spacing: tuple[float, ...],
    whose: str = "delineation",
) -> None:
    """Raise :class:`Problem` unless the answer lies on the reference's grid: the same shape,
    and spacing within :data:`~dicomteach.roi.grid.GRID_TOLERANCE_MM` (as ``dicomteach score``)."""
    if answer.shape != shape:
        raise Problem(
            f"Your {whose} is {_shape(answer.shape)} voxels but the image is {_shape(shape)}: "
            "it was drawn on another series or grid. Redo it on the series of the assignment."
        )
    if answer_spacing is not None and not same_spacing(answer_spacing, spacing):
        theirs = "×".join(f"{s:g}" for s in answer_spacing)
        ours = "×".join(f"{s:g}" for s in spacing)
        raise Problem(
            f"Your {whose} has voxels of {theirs} mm but the image has {ours} mm: it was drawn "
            "on another series or resampled. Redo it on the series of the assignment."
        )


def as_spacing_mm(spacing: object, ndim: int) -> tuple[float, ...]:
    """Spacing as floats, or a grading-error :class:`Problem`."""
    try:
        values = tuple(float(s) for s in spacing)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise reference_problem(f"spacing_mm {spacing!r} is not a sequence of numbers") from None
    if len(values) != ndim or not all(np.isfinite(v) and v > 0 for v in values):
        raise reference_problem(
            f"spacing_mm {values} must hold {ndim} positive sizes in mm, one per mask axis"
        )
    return values
