"""Grading a delineation against several experts: their consensus, and full points inside their spread.

Experts outlining one structure disagree (lung tumour volumes by a factor of
about two, Dice between two experts 0.7 to 0.85 for many targets), so no
single outline is the truth and no fixed threshold is fair.
:func:`grade_against_experts` takes the experts' outlines, estimates their
STAPLE consensus and each expert's agreement with it
(:func:`dicomteach.scoring.consensus.expert_spread`), and grades the learner
against the consensus with :func:`~dicomteach.grading.grade_delineation`,
whose full marks are the *least* any expert agrees (Dice and surface Dice):

    full mark = min over experts of (score of the expert against the consensus)

so a learner who agrees with the consensus at least as well as one of the
experts does gets full points; below that the points fall off linearly to
zero at half the full marks, as for one reference. The feedback says where
the learner falls ("as well as 2 of the 3 experts do"), compares volumes, and
adds two pictures (:mod:`dicomteach.grading.render_experts`): the learner's
dot among the experts' scores, and the learner's outline over the experts'
band. docs/decisions.md, decision 29.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dicomteach.grading._inputs import (
    Problem,
    as_spacing_mm,
    failure,
    internal_error,
    load_mask,
    reference_problem,
)
from dicomteach.grading.delineation import Marks, _background, grade_delineation
from dicomteach.grading.directions import as_direction
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.grading.render_experts import experts_png, panel_slices, spread_png
from dicomteach.io.volume import Volume, Window
from dicomteach.scoring.consensus import Spread, expert_spread

__all__ = ["PreparedExperts", "grade_against_experts", "prepare_experts", "where_you_fall"]

MIN_EXPERTS = 2
"""A spread needs at least two outlines."""


def _as_well_as(count: int, experts: int) -> str:
    if count == 0:
        return f"less well than any of the {experts} experts does"
    if count == experts:
        return f"as well as all {experts} experts do"
    return f"as well as {count} of the {experts} experts {'does' if count == 1 else 'do'}"


def where_you_fall(place: tuple[int, int], experts: int) -> str:
    """The learner's place among the experts, in plain words.

    ``place`` is how many experts the learner equals or beats on Dice and on
    surface Dice (:meth:`~dicomteach.scoring.consensus.Spread.place`).

    Examples
    --------
    >>> where_you_fall((2, 2), 3)
    "Your outline agrees with the experts' consensus as well as 2 of the 3 experts do."
    >>> where_you_fall((0, 3), 3)
    "On overlap (Dice) your outline agrees with the experts' consensus less well than any of the 3 experts does; on the course of its edge (surface Dice), as well as all 3 experts do."
    """
    dice, surface = place
    if dice == surface:
        return f"Your outline agrees with the experts' consensus {_as_well_as(dice, experts)}."
    return (
        "On overlap (Dice) your outline agrees with the experts' consensus "
        f"{_as_well_as(dice, experts)}; on the course of its edge (surface Dice), "
        f"{_as_well_as(surface, experts)}."
    )


def _volume_words(mm3: float, two_d: bool) -> str:
    if two_d:
        return f"{mm3 / 100.0:.1f} cm²"
    return f"{mm3 / 1000.0:.1f} mL" if mm3 >= 1000.0 else f"{mm3 / 1000.0:.2f} mL"


@dataclass(frozen=True)
class PreparedExperts:
    """Experts' outlines of one structure read once, with their spread (STAPLE and scores).

    Grading a class grades every learner against the same experts: what
    :func:`prepare_experts` computes can be kept (``dicomteach.activities.prepared``)
    and handed to :func:`grade_against_experts` in place of the files.
    """

    masks: tuple[np.ndarray, ...]
    spacing_mm: tuple[float, ...]
    tolerance_mm: float
    spread: Spread


def prepare_experts(
    experts: Sequence[object],
    *,
    image: Volume | str | os.PathLike[str] | None = None,
    structure: int | str | None = None,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 2.0,
) -> PreparedExperts:
    """Read the experts' outlines of one structure and compute their spread.

    Raises the grading ``Problem`` of an instructor's mistake (fewer than two
    outlines, one empty, outlines on different grids), one line.

    >>> core = np.zeros((5, 24, 24), bool); core[1:4, 6:16, 6:16] = True
    >>> wide = core.copy(); wide[1:4, 5:17, 5:17] = True
    >>> ready = prepare_experts([core, wide], spacing_mm=(2, 1, 1), tolerance_mm=1)
    >>> learner = np.roll(core, 1, axis=2)
    >>> f = grade_against_experts(learner, ready, 10, tolerance_mm=1, images=False)
    >>> f.lines == grade_against_experts(learner, [core, wide], 10, spacing_mm=(2, 1, 1),
    ...                                  tolerance_mm=1, images=False).lines
    True
    """
    volume = image if isinstance(image, Volume) else None
    image_path = image if isinstance(image, str | os.PathLike) else None
    masks, found_spacing = _expert_masks(experts, structure, volume, image_path)
    if spacing_mm is None:
        spacing_mm = found_spacing or (volume.spacing if volume is not None else None)
    if spacing_mm is None:
        raise reference_problem("spacing_mm is needed when the experts' outlines are arrays")
    spacing = as_spacing_mm(spacing_mm, masks[0].ndim)
    try:
        spread = expert_spread(masks, spacing, tolerance_mm)
    except ValueError as exc:
        raise reference_problem(f"experts: {exc}") from None
    return PreparedExperts(tuple(masks), tuple(spacing), float(tolerance_mm), spread)


def grade_against_experts(
    answer: object,
    experts: Sequence[object],
    points: float = 10.0,
    *,
    spacing_mm: Sequence[float] | None = None,
    tolerance_mm: float = 2.0,
    zero_marks: Marks | None = None,
    image: np.ndarray | Volume | str | os.PathLike[str] | None = None,
    window: Window | None = None,
    direction: np.ndarray | None = None,
    structure: int | str | None = None,
    expert_structure: int | str | None = None,
    images: bool = True,
) -> Feedback:
    """Points and feedback for a learner's delineation of one structure, against several experts.

    Never raises: a bad answer gets 0 points and a line saying why, as with
    :func:`~dicomteach.grading.grade_delineation`; a missing, unreadable or
    empty expert outline, or experts on different grids, is the instructor's
    problem (``Status.GRADING_ERROR``).

    Parameters
    ----------
    answer : array, Structures or path
        The learner's binary mask or delineation file (SEG, RTSTRUCT, ``.npz``).
    experts : sequence of array, Structures or path, or PreparedExperts
        Two or more experts' outlines of the structure on the answer's grid,
        one per expert (a department's export: a SEG or RTSTRUCT per observer);
        or what :func:`prepare_experts` read of them (graded the same, faster).
    points : float
        Points for an answer inside the experts' spread.
    spacing_mm : sequence of float, optional
        Voxel size per axis (mm); default the first expert file's, then ``image``'s.
    tolerance_mm : float, default 2.0
        Surface Dice tolerance, for the experts and the learner alike.
    zero_marks : Marks, optional
        Where the points reach zero (default: half the full marks).
    image, window, direction
        As for :func:`~dicomteach.grading.grade_delineation`.
    structure, expert_structure : int or str, optional
        Which structure of the answer file, and of each expert's file, to grade.
    images : bool, default True
        Draw the PNGs.

    Examples
    --------
    Three experts; a learner whose outline lies a millimetre to one side is
    inside their spread:

    >>> core = np.zeros((5, 24, 24), bool); core[1:4, 6:16, 6:16] = True
    >>> wide = core.copy(); wide[1:4, 5:17, 5:17] = True
    >>> tight = core.copy(); tight[1:4, 6:16, 15] = False
    >>> learner = np.roll(core, 1, axis=2)
    >>> f = grade_against_experts(learner, [core, wide, tight], 10, spacing_mm=(2, 1, 1),
    ...                           tolerance_mm=1, images=False)
    >>> f.points
    10.0
    >>> print(f.lines[1])
    On overlap (Dice) your outline agrees with the experts' consensus as well as 1 of the 3 experts does; on the course of its edge (surface Dice), as well as all 3 experts do.
    """
    max_points = float(points) if isinstance(points, int | float) else 0.0
    try:
        return _grade(
            answer,
            experts,
            max_points,
            spacing_mm,
            tolerance_mm,
            zero_marks,
            image,
            window,
            direction,
            structure,
            expert_structure,
            images,
        )
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)


def _expert_masks(
    experts: Sequence[object],
    structure: int | str | None,
    volume: Volume | None,
    image_path: str | os.PathLike[str] | None,
) -> tuple[list[np.ndarray], tuple[float, ...] | None]:
    if isinstance(experts, str | os.PathLike | np.ndarray) or len(experts) < MIN_EXPERTS:
        raise reference_problem(
            f"experts must be a list of at least {MIN_EXPERTS} outlines, one per expert"
        )
    masks, spacing = [], None
    for number, source in enumerate(experts, 1):
        try:
            mask, found, _note = load_mask(
                source,
                whose="expert outline",
                structure=structure,
                image=volume if volume is not None else image_path,
            )
        except Problem as problem:
            raise reference_problem(f"expert {number}: {problem.line}") from None
        if masks and mask.shape != masks[0].shape:
            raise reference_problem(
                f"expert {number}'s outline is {mask.shape}, expert 1's {masks[0].shape}: "
                "experts must draw on one grid"
            )
        if not mask.any():
            raise reference_problem(f"expert {number}'s outline is empty")
        masks.append(mask)
        spacing = spacing or found
    return masks, spacing


def _grade(
    answer,
    experts,
    max_points,
    spacing_mm,
    tolerance_mm,
    zero_marks,
    image,
    window,
    direction,
    structure,
    expert_structure,
    draw,
) -> Feedback:
    image_path = image if isinstance(image, str | os.PathLike) else None
    if image_path is not None:
        from dicomteach import io

        try:
            image = io.load(image_path)
        except Exception as exc:
            raise reference_problem(f"image {image_path}: {exc}") from None
    volume = image if isinstance(image, Volume) else None
    if not isinstance(experts, PreparedExperts) or experts.tolerance_mm != float(tolerance_mm):
        experts = prepare_experts(
            experts.masks if isinstance(experts, PreparedExperts) else experts,
            image=volume if volume is not None else image_path,
            structure=expert_structure,
            spacing_mm=experts.spacing_mm if isinstance(experts, PreparedExperts) else spacing_mm,
            tolerance_mm=tolerance_mm,
        )
    masks, spacing, spread = list(experts.masks), experts.spacing_mm, experts.spread
    full = Marks(spread.worst_dice, spread.worst_surface_dice)
    zero = zero_marks or Marks(full.dice / 2, full.surface_dice / 2)
    n = len(masks)
    feedback = grade_delineation(
        answer,
        spread.consensus.mask,
        max_points,
        spacing_mm=spacing,
        tolerance_mm=tolerance_mm,
        full_marks=full,
        zero_marks=zero,
        full_marks_why=(
            f"the least any of the {n} experts agrees with their consensus",
            "the least any expert agrees",
        ),
        image=image,
        window=window,
        direction=direction,
        structure=structure,
        images=draw,
    )
    if feedback.status is not Status.GRADED or feedback.scores is None:
        return feedback
    learner = load_mask(
        answer, whose="delineation", structure=structure, image=volume, shape=masks[0].shape
    ).array
    place = spread.place(feedback.scores)
    inside = min(place) >= 1
    two_d = masks[0].ndim == 2
    learner_mm3 = float(np.count_nonzero(learner)) * float(np.prod(spacing))
    lines = [
        feedback.lines[0],
        where_you_fall(place, n),
        (
            "That is inside the experts' spread: full points."
            if inside
            else f"That is below the experts' spread (the least an expert agrees: Dice "
            f"{full.dice:.2f}, surface Dice {full.surface_dice:.2f}); points fall off below it."
        ),
        f"The experts' {'areas' if two_d else 'volumes'} range from "
        f"{_volume_words(min(spread.volumes_mm3), two_d)} to "
        f"{_volume_words(max(spread.volumes_mm3), two_d)} "
        f"(their consensus {_volume_words(spread.consensus_mm3, two_d)}); yours is "
        f"{_volume_words(learner_mm3, two_d)}.",
        "Below, 'reference' is the experts' consensus.",
        *feedback.lines[1:],
    ]
    details = dict(feedback.details)
    details["experts"] = _details(spread, place, learner_mm3)
    pictures = dict(feedback.images)
    if draw:
        try:
            pictures.update(
                _pictures(
                    spread, masks, learner, spacing, image, window, direction, full, zero, feedback
                )
            )
        except Exception as exc:  # a picture is not worth an autograde
            details["render_problem"] = f"{type(exc).__name__}: {exc}"
    return Feedback(
        feedback.points,
        feedback.max_points,
        feedback.scores,
        lines,
        pictures,
        feedback.status,
        details,
    )


def _details(spread: Spread, place: tuple[int, int], learner_mm3: float) -> dict:
    return {
        "dice": [s.dice for s in spread.scores],
        "surface_dice": [s.surface_dice for s in spread.scores],
        "volumes_mm3": list(spread.volumes_mm3),
        "consensus_mm3": spread.consensus_mm3,
        "learner_mm3": learner_mm3,
        "sensitivity": list(spread.consensus.sensitivity),
        "specificity": list(spread.consensus.specificity),
        "as_well_as": {"dice": place[0], "surface_dice": place[1]},
    }


def _pictures(spread, masks, learner, spacing, image, window, direction, full, zero, feedback):
    scores = feedback.scores
    pictures = {
        "experts-spread.png": spread_png(
            [(s.dice, s.surface_dice) for s in spread.scores],
            (scores.dice, scores.surface_dice),
            (full.dice, full.surface_dice),
            (zero.dice, zero.surface_dice),
            scores.tolerance_mm,
        )
    }
    consensus = spread.consensus.mask
    if consensus.ndim == 2:
        masks, learner, consensus = [m[None] for m in masks], learner[None], consensus[None]
        spacing = (1.0, *spacing)
    union = np.logical_or.reduce(masks)
    shown = panel_slices(consensus, union)
    # only the slices shown are read (a dict slice → values, indexed as the array was)
    values, shown_window = _background(image, window, consensus.shape, list(shown))
    if direction is None and isinstance(image, Volume) and image.geometry_known:
        direction = image.direction
    pictures["experts-band.png"] = experts_png(
        masks,
        learner,
        consensus,
        shown,
        spacing,
        image=values,
        window=shown_window,
        direction=as_direction(direction),
    )
    return pictures
