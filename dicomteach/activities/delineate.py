"""``Delineate``: outline one or several structures; graded against a reference or several experts.

The learner draws in a :class:`~dicomteach.widgets.Delineator`, which saves the
delineation ``.npz`` of :mod:`dicomteach.roi.npz` beside the notebook on every
stroke. The answer key is either one reference (a DICOM SEG, an RTSTRUCT or a
``.npz``, its structures matched to the activity's by name), graded by
:func:`dicomteach.grading.grade_delineation`, or several experts' outlines,
one file per expert (:class:`Experts`), graded against their STAPLE consensus
with full points inside the experts' spread by
:func:`dicomteach.grading.grade_against_experts` (docs/decisions.md,
decision 29). Each structure earns its share of the points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomteach.activities.base import Activity
from dicomteach.activities.spec import Location, SpecProblem, check_names, check_number
from dicomteach.grading import (
    Feedback,
    Marks,
    Status,
    grade_against_experts,
    grade_delineation,
)

__all__ = ["Delineate", "Experts"]

MIN_EXPERTS = 2
"""An expert panel has at least two outlines (their spread needs two)."""


@dataclass(frozen=True)
class Experts:
    """The answer key of a delineation outlined by several experts: one file per expert.

    Each file (a SEG, an RTSTRUCT or a ``.npz``, as a department exports
    each observer's contours) holds the expert's outline of every structure
    of the activity, matched by name as a reference's are.

    >>> panel = Experts.parse(["a.dcm", "b.dcm", "c.dcm"], Path("/course/keys"))
    >>> [str(p) for p in panel.resolve()]
    ['/course/keys/a.dcm', '/course/keys/b.dcm', '/course/keys/c.dcm']
    """

    files: tuple[Location, ...]

    @classmethod
    def parse(cls, value: object, base: Path | None) -> Experts:
        if isinstance(value, Experts):
            return value
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < MIN_EXPERTS:
            raise SpecProblem(
                "experts",
                f"must list at least {MIN_EXPERTS} outlines, one file per expert "
                f"(SEG, RTSTRUCT or .npz), not {value!r:.60}",
            )
        return cls(tuple(Location.parse(item, "experts", base) for item in value))

    def resolve(self) -> list[Path]:
        """Each expert's file on this machine (sample studies are written on first use)."""
        return [location.resolve() for location in self.files]

    def as_yaml(self) -> list[object]:
        return [location.as_yaml() for location in self.files]


class Delineate(Activity):
    """Outline the structure(s) on every slice where they show.

    Keys of its own: ``structures`` (names the learner draws, default the
    activity's name with a capital), ``reference_structure`` (which structure
    of the reference file is the answer when the activity has one structure
    and the file several or another name), ``full_marks``
    (``{dice: 0.85, surface_dice: 0.9}``: the scores that earn full points,
    :mod:`dicomteach.grading.delineation`) and ``experts``. ``tolerance_mm``
    (default 2) is the surface Dice tolerance.

    ``experts`` replaces ``reference`` when several experts outlined the
    structure(s): a list of at least two files, one per expert (a SEG, an
    RTSTRUCT or a ``.npz`` each, paths or sample locations; one SEG with an
    expert per segment is not read as a panel, since a SEG's segments are
    structures). The answer is graded against the experts' STAPLE consensus,
    with full points for a learner who agrees with it at least as well as the
    least agreeing expert (:func:`dicomteach.grading.grade_against_experts`),
    so ``full_marks`` is not given with it; ``reference_structure`` then names
    the structure in every expert's file. A released activity holds neither.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from dicomteach.io.volume import Volume
    >>> from dicomteach.roi import DelineationAnswer, save_delineation
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> vol = Volume(np.zeros((6, 32, 32), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    >>> truth = np.zeros((6, 32, 32), np.uint8); truth[2:5, 8:20, 10:22] = 1
    >>> _ = save_delineation(DelineationAnswer(truth, (2.0, 1.0, 1.0), ("Tumour",)), folder / "key.npz")
    >>> tumour = Delineate("tumour", vol, prompt="Outline the tumour", points=10,
    ...                    reference=folder / "key.npz", answer=folder / "tumour.npz")
    >>> tumour.question.labels = truth  # what strokes in the browser do: saved at once
    >>> tumour.grade().points
    10.0
    """

    kind = "delineate"
    suffix = ".npz"
    shows_prompt = False
    default_tolerance_mm = 2.0
    own_keys = {"structures", "reference_structure", "full_marks", "experts"}

    def __init__(self, name: str, study: Any = None, *, experts: Any = None, **kwargs: Any):
        super().__init__(name, study, **kwargs)
        if experts is None:
            return
        try:
            if self.reference is not None:
                raise SpecProblem(
                    "experts",
                    "replaces 'reference' (the experts' consensus is the answer key): give one "
                    "or the other, and list the reference among the experts to count it as one",
                )
            if self.full_marks is not None:
                raise SpecProblem(
                    "full_marks", "comes from the experts' spread when 'experts' are given"
                )
            self.reference = Experts.parse(
                experts, self.source.parent if self.source is not None else None
            )
        except SpecProblem as problem:
            raise problem.as_error(self.source) from None

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        default = self.name.replace("-", " ").replace("_", " ").capitalize()
        self.structures = check_names(options.get("structures", [default]), "structures")
        chosen = options.get("reference_structure")
        if chosen is not None and not isinstance(chosen, str):
            raise SpecProblem("reference_structure", f"must be a structure's name, not {chosen!r}")
        if chosen is not None and len(self.structures) > 1:
            raise SpecProblem(
                "reference_structure", "is for one structure; with several, names are matched"
            )
        self.reference_structure = chosen
        marks = options.get("full_marks")
        self.full_marks = None
        if marks is not None:
            if not isinstance(marks, Mapping) or set(marks) != {"dice", "surface_dice"}:
                raise SpecProblem("full_marks", "must be {dice: …, surface_dice: …}")
            dice = check_number(marks["dice"], "full_marks.dice", positive=True)
            surface = check_number(marks["surface_dice"], "full_marks.surface_dice", positive=True)
            if dice > 1 or surface > 1:
                raise SpecProblem("full_marks", "scores lie between 0 and 1")
            self.full_marks = Marks(dice, surface)

    def _reference(self, value: Any, base: Path | None) -> Location:
        return Location.parse(value, "reference", base)

    def _options_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"structures": list(self.structures)}
        if self.reference_structure is not None:
            data["reference_structure"] = self.reference_structure
        if self.full_marks is not None:
            data["full_marks"] = {
                "dice": self.full_marks.dice,
                "surface_dice": self.full_marks.surface_dice,
            }
        return data

    def _reference_dict(self) -> Any:
        return self.reference.as_yaml()

    def to_dict(self, *, reference: bool = False) -> dict[str, Any]:
        if not isinstance(self.reference, Experts):
            return super().to_dict(reference=reference)
        data = super().to_dict(reference=False)
        if reference:
            data["experts"] = self.reference.as_yaml()
            data["tolerance_mm"] = self.tolerance_mm
        return data

    def _build_question(self) -> Any:
        from dicomteach.widgets import Delineator

        return Delineator(
            self.volume,
            self.structures,
            answer=self.answer_path,
            window=self._first_window(),
            frame=self._frame,
        )

    def _drawn_structures(self, answer: Path) -> dict[str, Any] | None:
        """Each structure's mask in a Delineator's answer, by the names it saved (absent: empty).

        A label map in which only some structures were drawn holds only those
        values; matched by number or by "the only one", a missing structure
        would be graded with another's outline. ``None`` when the file is not
        a Delineator's answer on this image: the grader then reads it and says
        what is wrong with it.
        """
        import numpy as np

        from dicomteach.roi import load_delineation

        shape = tuple(self.volume.pixels.shape[:3])
        try:
            found = load_delineation(answer, shape=shape)
            found.check_against(self.volume)
        except Exception:
            return None
        names = [n.casefold() for n in found.names]
        return {
            name: found.mask == names.index(name.casefold()) + 1
            if name.casefold() in names
            else np.zeros(shape, bool)
            for name in self.structures
        }

    def _reference_masks(self) -> dict[str, Any]:
        """The reference's structures by name; with experts, their consensus of each."""
        from dicomteach.roi import load_structures

        if not isinstance(self.reference, Experts):
            found = load_structures(self.reference.resolve(), image=self.volume)
            return {found.names.get(n, str(n)): m for n, m in found.masks.items()}
        from dicomteach.scoring.consensus import staple

        by_name: dict[str, list[Any]] = {}
        for path in self.reference.resolve():
            found = load_structures(path, image=self.volume)
            for number, mask in found.masks.items():
                by_name.setdefault(found.names.get(number, str(number)), []).append(mask)
        return {
            name: staple(masks).mask for name, masks in by_name.items() if len(masks) >= MIN_EXPERTS
        }

    def _reveal(self) -> Any:
        def show() -> None:
            self.question.set_reference(self._reference_masks())

        return show

    def _grade(self, answer: Path) -> Feedback:
        if isinstance(self.reference, Experts):
            return self._grade_against_experts(answer, self.reference.resolve())
        # the masks prepared for grading a class (activities/prepared.py), else the file
        reference = getattr(self, "_prepared_reference", None) or self.reference.resolve()
        share = self.points / len(self.structures)
        if len(self.structures) == 1:
            return grade_delineation(
                answer,
                reference,
                self.points,
                tolerance_mm=self.tolerance_mm,
                full_marks=self.full_marks,
                image=self.volume,
                window=self._first_window(),
                structure=self.structures[0],
                reference_structure=self.reference_structure,
            )
        drawn = self._drawn_structures(answer)
        parts = [
            (
                name,
                grade_delineation(
                    answer if drawn is None else drawn[name],
                    reference,
                    share,
                    tolerance_mm=self.tolerance_mm,
                    full_marks=self.full_marks,
                    image=self.volume,
                    window=self._first_window(),
                    structure=name,
                    reference_structure=name,
                    stand_in=False,
                ),
            )
            for name in self.structures
        ]
        return _combined(parts, self.points)

    def expert_structures(self) -> list[tuple[str, str | None]]:
        """(the answer's structure, the experts' structure) for each structure graded."""
        if len(self.structures) == 1:
            return [(self.structures[0], self.reference_structure)]
        return [(name, name) for name in self.structures]

    def _experts_for(self, name: str, experts: list[Path]) -> Any:
        """The experts' outlines of ``name`` as prepared for a class (activities/prepared.py),
        else their files."""
        prepared = getattr(self, "_prepared_experts", None) or {}
        return prepared.get(name, experts)

    def _grade_against_experts(self, answer: Path, experts: list[Path]) -> Feedback:
        options: dict[str, Any] = {
            "tolerance_mm": self.tolerance_mm,
            "image": self.volume,
            "window": self._first_window(),
        }
        if len(self.structures) == 1:
            return grade_against_experts(
                answer,
                self._experts_for(self.structures[0], experts),
                self.points,
                structure=self.structures[0],
                expert_structure=self.reference_structure,
                **options,
            )
        drawn = self._drawn_structures(answer)
        share = self.points / len(self.structures)
        parts = [
            (
                name,
                grade_against_experts(
                    answer if drawn is None else drawn[name],
                    self._experts_for(name, experts),
                    share,
                    structure=name,
                    expert_structure=name,
                    **options,
                ),
            )
            for name in self.structures
        ]
        return _combined(parts, self.points)


def _combined(parts: list[tuple[str, Feedback]], max_points: float) -> Feedback:
    """One feedback for several structures: points added, lines and images by structure."""
    lines, images, details = [], {}, {}
    for name, part in parts:
        lines += [f"{name}: {line}" for line in part.lines]
        images.update({f"{name}-{k}": v for k, v in part.images.items()})
        details[name] = {**part.as_dict(), "images": list(part.images)}
    statuses = [part.status for _, part in parts]
    # the instructor's problem first; else one structure graded makes the answer graded
    # (the others' lines say what was wrong with them)
    status = next(
        s for s in (Status.GRADING_ERROR, Status.GRADED, Status.INVALID_ANSWER) if s in statuses
    )
    points = round(sum(part.points for _, part in parts), 2)
    return Feedback(points, max_points, None, lines, images, status, {"structures": details})
