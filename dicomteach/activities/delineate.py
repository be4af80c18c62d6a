"""``Delineate``: outline one or several structures; graded against a reference delineation.

The learner draws in a :class:`~dicomteach.widgets.Delineator`, which saves the
delineation ``.npz`` of :mod:`dicomteach.roi.npz` beside the notebook on every
stroke. The reference is a DICOM SEG, an RTSTRUCT or a ``.npz`` (its
structures matched to the activity's by name); each structure is graded by
:func:`dicomteach.grading.grade_delineation` and earns its share of the points.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dicomteach.activities.base import Activity
from dicomteach.activities.spec import Location, SpecProblem, check_names, check_number
from dicomteach.grading import Feedback, Marks, Status, grade_delineation

__all__ = ["Delineate"]


class Delineate(Activity):
    """Outline the structure(s) on every slice where they show.

    Keys of its own: ``structures`` (names the learner draws, default the
    activity's name with a capital), ``reference_structure`` (which structure
    of the reference file is the answer when the activity has one structure
    and the file several or another name) and ``full_marks``
    (``{dice: 0.85, surface_dice: 0.9}``: the scores that earn full points,
    :mod:`dicomteach.grading.delineation`). ``tolerance_mm`` (default 2) is the
    surface Dice tolerance.

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
    own_keys = {"structures", "reference_structure", "full_marks"}

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
        from dicomteach.roi import load_structures

        found = load_structures(self.reference.resolve(), image=self.volume)
        return {found.names.get(n, str(n)): m for n, m in found.masks.items()}

    def _reveal(self) -> Any:
        def show() -> None:
            self.question.set_reference(self._reference_masks())

        return show

    def _grade(self, answer: Path) -> Feedback:
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
