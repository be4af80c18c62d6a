"""Click and label activities: ``Hotspot`` (click the findings) and ``LabelDrop`` (name the anatomy).

Both show the question widgets of :mod:`dicomteach.widgets.questions`, whose
answer is the JSON of :mod:`dicomteach.roi.answers`, and grade with
:func:`dicomteach.grading.grade_click` and :func:`dicomteach.grading.grade_labels`.
Their reference is a file of structures or named regions
(:mod:`dicomteach.activities.targets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dicomteach.activities.base import Activity
from dicomteach.activities.spec import Location, SpecProblem, check_names, check_number
from dicomteach.activities.targets import Region, parse_targets, target_masks
from dicomteach.grading import Feedback, grade_click, grade_labels
from dicomteach.roi import load_answer

__all__ = ["Hotspot", "LabelDrop"]


def _regions_dict(reference: Location | tuple[Region, ...]) -> Any:
    if isinstance(reference, Location):
        return reference.as_yaml()
    out: dict[str, Any] = {}
    for region in reference:
        if region.kind == "file":
            assert region.file is not None
            item: dict[str, Any] = {"file": region.file.as_yaml()}
            if region.structure is not None:
                item["structure"] = region.structure
        else:
            coords = [list(c) for c in region.coordinates]
            item = {"point": coords[0]} if region.kind == "point" else {"polygon": coords}
            if region.slice != 1:
                item["slice"] = region.slice
            if region.kind == "point":
                item["radius_mm"] = region.radius_mm
        out[region.name] = item
    return out


class Hotspot(Activity):
    """Click the finding(s) on the image; each one found earns its share of the points.

    ``reference``: a file of structures (each a finding) or named regions
    (:mod:`dicomteach.activities.targets`); ``tolerance_mm`` (default 5) is how
    far outside a finding a click still counts; ``clicks`` (default: one per
    finding) is how many markers the learner may place;
    ``penalty_per_extra_click`` (default 0) takes points off for each click
    that finds nothing (on no finding, or on one already found), never below
    0. Give it with ``clicks`` above the number of findings, so that the
    number of markers does not give the findings away and guessing costs.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from dicomteach.io.volume import Volume
    >>> vol = Volume(np.zeros((1, 60, 60), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    >>> folder = pathlib.Path(tempfile.mkdtemp())  # the notebook's folder
    >>> mass = Hotspot("mass", vol, prompt="Click the mass", points=2, answer=folder / "mass.json",
    ...                reference={"mass": {"point": [20, 40], "radius_mm": 6}})
    >>> mass.grade().lines
    ["No answer was found: place your click and save (your answer file 'mass.json' was not found)."]
    >>> mass.question.marks = [{"image": [0, 22, 37], "label": ""}]  # a click in the browser
    >>> mass.grade().points
    2.0

    Three markers allowed for two findings, half a point off for each click wasted:

    >>> spots = Hotspot("spots", vol, prompt="Click each nodule", points=2, clicks=3,
    ...                 penalty_per_extra_click=0.5, answer=folder / "spots.json",
    ...                 reference={"left": {"point": [20, 15], "radius_mm": 4},
    ...                            "right": {"point": [20, 45], "radius_mm": 4}})
    >>> spots.question.marks = [{"image": [0, 20, 15], "label": ""},
    ...                         {"image": [0, 50, 50], "label": ""}]
    >>> print(spots.grade())
    0.5 / 2 points
    left: found (your click is on it).
    right: your nearest click is 26.5 mm from it (5 mm allowed); it lies anterior of your click.
    1 click hit nothing: −0.5 points.
    """

    kind = "hotspot"
    suffix = ".json"
    default_tolerance_mm = 5.0
    own_keys = {"clicks", "penalty_per_extra_click"}

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        clicks = options.get("clicks")
        if clicks is not None and (
            isinstance(clicks, bool) or not isinstance(clicks, int) or clicks < 1
        ):
            raise SpecProblem("clicks", f"must be a whole number of at least 1, not {clicks!r}")
        self.clicks = clicks
        penalty = options.get("penalty_per_extra_click", 0.0)
        self.penalty_per_extra_click = check_number(penalty, "penalty_per_extra_click")

    def _reference(self, value: Any, base: Path | None) -> Any:
        return parse_targets(value, "reference", base)

    @property
    def max_clicks(self) -> int:
        """How many markers the learner may place."""
        if self.clicks is not None:
            return self.clicks
        if isinstance(self.reference, tuple):
            return len(self.reference)
        return 1

    def _options_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.clicks is None else {"clicks": self.clicks}
        if self.penalty_per_extra_click:
            out["penalty_per_extra_click"] = self.penalty_per_extra_click
        return out

    def _reference_dict(self) -> Any:
        return _regions_dict(self.reference)

    def _build_question(self) -> Any:
        from dicomteach.widgets import Hotspot as HotspotWidget

        return HotspotWidget(
            self.volume,
            prompt=self.prompt,
            answer=self.answer_path,
            max_points=self.max_clicks,
            activity=self.name,
            window=self._first_window(),
            frame=self._frame,
        )

    def _grade(self, answer: Path) -> Feedback:
        answer = _checked_answer_or_problem(answer, "click")
        volume = self.volume
        targets = target_masks(self.reference, volume)
        return grade_click(
            answer,
            targets,
            volume.spacing,
            self.points,
            self.tolerance_mm,
            direction=volume.direction if volume.geometry_known else None,
            max_clicks=self.max_clicks,
            penalty_per_extra_click=self.penalty_per_extra_click,
        )


class LabelDrop(Activity):
    """Drag each name onto its structure; each correct label earns its share of the points.

    ``labels``: the names offered; ``reference``: a file of structures or named
    regions, one per label; ``tolerance_mm`` (default 2) is how far outside its
    structure a label still counts.
    """

    kind = "labels"
    suffix = ".json"
    default_tolerance_mm = 2.0
    own_keys = {"labels"}

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        if "labels" not in options:
            raise SpecProblem("labels", "is needed: the names the learner drags onto the image")
        self.labels = check_names(options["labels"], "labels")

    def _reference(self, value: Any, base: Path | None) -> Any:
        reference = parse_targets(value, "reference", base)
        if isinstance(reference, tuple):
            names = {r.name.casefold() for r in reference}
            missing = [n for n in self.labels if n.casefold() not in names]
            extra = sorted(names - {n.casefold() for n in self.labels})
            if missing or extra:
                raise SpecProblem(
                    "reference",
                    f"must have one region per label (missing {missing}, not labels {extra})",
                )
        return reference

    def _options_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    def _reference_dict(self) -> Any:
        return _regions_dict(self.reference)

    def _build_question(self) -> Any:
        from dicomteach.widgets import LabelDrop as LabelDropWidget

        return LabelDropWidget(
            self.volume,
            self.labels,
            prompt=self.prompt,
            answer=self.answer_path,
            activity=self.name,
            window=self._first_window(),
            frame=self._frame,
        )

    def _grade(self, answer: Path) -> Feedback:
        answer = _checked_answer_or_problem(answer, "label")
        volume = self.volume
        found = target_masks(self.reference, volume)
        by_name = {n.casefold(): m for n, m in found.items()}
        missing = [n for n in self.labels if n.casefold() not in by_name]
        if missing:
            raise ValueError(f"the reference has no structure for {missing}")
        return grade_labels(
            answer,
            {n: by_name[n.casefold()] for n in self.labels},
            volume.spacing,
            self.points,
            self.tolerance_mm,
            direction=volume.direction if volume.geometry_known else None,
        )


def _checked_answer_or_problem(answer: Path, what: str) -> Path:
    """The answer file, read once to check it, or a :class:`Problem` saying what is wrong."""
    from dicomteach.errors import DicomTeachError
    from dicomteach.grading._inputs import Problem

    if not answer.exists():
        raise Problem(
            f"No answer was found: place your {what} and save (your answer file "
            f"'{answer.name}' was not found)."
        )
    try:
        load_answer(answer)  # bounded (MAX_ANSWER_BYTES), before the grader reads it again
    except DicomTeachError as exc:
        raise Problem(
            f"Your answer file '{answer.name}' could not be read ({exc.problem}): "
            "answer again in the activity."
        ) from None
    return answer
