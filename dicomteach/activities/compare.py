"""``CompareFindings``: a baseline and its follow-up read side by side, as a tumour board would.

For each finding the learner says what changed (new, grown, stable, shrunk,
resolved) and draws the lesion's longest diameter on each date with the
ruler of :class:`~dicomteach.widgets.Compare` (the follow-up registered onto
the baseline, scrolled and windowed together). Every ruler and every pick is
written at once to the reading of :mod:`dicomteach.roi.followup` beside the
notebook (docs/decisions.md, decision 3), with each line's ends in its own
date's series, and read back when the widget is built again.
:func:`dicomteach.grading.grade_followup` grades it against the lesion's
outline on each date, and explains the percent change and the RECIST-style
response.

The activity file::

    type: compare-findings
    study: {sample: ct-chest, path: baseline/ct, size: 256, slices: 60}
    followup: {sample: ct-chest, path: followup/ct, size: 256, slices: 60}
    prompt: Has the nodule changed? Measure its longest diameter on both dates.
    points: 3
    findings: [nodule]
    reference:
      nodule:
        change: grown
        baseline: {file: …/baseline/seg-nodule.dcm}
        followup: {file: …/followup/seg-nodule.dcm, diameter_mm: 20.5}
    tolerance_mm: 3

``findings`` names the findings asked about (default one, ``lesion``);
``register`` (default true) aligns the follow-up to the baseline rigidly,
false shows it in its own patient coordinates. Each finding's reference
gives its ``change`` and, for each date where the lesion is present, a
region of :mod:`dicomteach.activities.targets` (a structure of a SEG,
RTSTRUCT or ``.npz``; a polygon; or a point with a ``radius_mm`` covering the
lesion, which then needs ``diameter_mm``) on that date's series, with
``diameter_mm`` to give the reference diameter rather than measure it from the
outline. A new lesion has no ``baseline``, a resolved one no ``followup``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.activities.base import Activity
from dicomteach.activities.spec import Location, SpecProblem, check_names, check_number
from dicomteach.activities.targets import Region, parse_targets, target_masks
from dicomteach.grading import Feedback, Finding, grade_followup
from dicomteach.grading.followup import CHANGES
from dicomteach.io.volume import Volume
from dicomteach.roi.errors import AnswerError
from dicomteach.roi.followup import DATES, load_reading

__all__ = ["CompareFindings"]


def __getattr__(name: str) -> Any:
    # the widget lives in compare_view.py: ipywidgets is imported where a question is shown
    if name == "FindingsQuestion":
        from dicomteach.activities.compare_view import FindingsQuestion

        return FindingsQuestion
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CompareFindings(Activity):
    """Say what changed for each finding, and measure it on both dates (see the module docstring).

    Parameters
    ----------
    followup : path, Volume, or sample location
        The follow-up study (``study`` is the baseline).
    findings : list of str
        The findings asked about, each with its own "what changed?" buttons.
    register : bool
        Align the follow-up to the baseline (a rigid registration), default True.

    The others are :class:`~dicomteach.activities.Activity`'s; ``study`` is
    the baseline, and ``tolerance_mm`` (default 3) how far a diameter may be
    from the reference's, and each end of the line from the lesion.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> k, r, c = np.mgrid[0:4, 0:40, 0:40]
    >>> def ct(radius):
    ...     disc = (k == 2) & ((r - 20) ** 2 + (c - 20) ** 2 <= radius**2)
    ...     return Volume(np.where(disc, 40, -800).astype(np.int16), (2.5, 1.0, 1.0),
    ...                   (0.0, 0.0, 0.0), np.eye(3), modality="CT")
    >>> folder = pathlib.Path(tempfile.mkdtemp())  # the notebook's folder
    >>> key = {"nodule": {"change": "grown", "baseline": {"point": [20, 20], "slice": 3,
    ...                   "radius_mm": 8, "diameter_mm": 11}, "followup": {"point": [20, 20],
    ...                   "slice": 3, "radius_mm": 10, "diameter_mm": 17}}}
    >>> task = CompareFindings("nodule", ct(5), followup=ct(8), findings=["nodule"],
    ...                        prompt="What changed?", points=3, register=False,
    ...                        answer=folder / "nodule.json", reference=key)
    >>> task.question.pick("nodule", "grown")
    >>> task.question.compare.measurements = [  # a ruler drawn on each side, in the browser
    ...     {"kind": "ruler", "side": "before", "plane": "axial", "slice": 2, "length_mm": 11.0,
    ...      "points": [[20.5, 15.0], [20.5, 26.0]], "array": [[2, 20, 14.5], [2, 20, 25.5]]},
    ...     {"kind": "ruler", "side": "after", "plane": "axial", "slice": 2, "length_mm": 16.0,
    ...      "points": [[20.5, 12.5], [20.5, 28.5]], "array": [[2, 20, 12], [2, 20, 28]]}]
    >>> feedback = task.grade()
    >>> feedback.points, feedback.lines[3]
    (3.0, 'Reference: sum of longest diameters 11.0 mm → 17.0 mm (+55 %, +6.0 mm): progressive disease (PD).')
    """

    kind = "compare-findings"
    suffix = ".json"
    default_tolerance_mm = 3.0
    shows_prompt = False
    own_keys = {"followup", "findings", "register"}

    # ------------------------------------------------------------------ the file's keys

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        followup = options.get("followup")
        if followup is None:
            raise SpecProblem("followup", "is needed: the later study compared with 'study'")
        self._followup_volume = followup if isinstance(followup, Volume) else None
        self.followup = (
            None if isinstance(followup, Volume) else Location.parse(followup, "followup", base)
        )
        self.findings = check_names(options.get("findings", ["lesion"]), "findings")
        register = options.get("register", True)
        if not isinstance(register, bool):
            raise SpecProblem("register", f"must be true or false, not {register!r:.40}")
        self.register = register

    def _reference(self, value: Any, base: Path | None) -> dict[str, dict[str, Any]]:
        if not isinstance(value, Mapping):
            raise SpecProblem("reference", "must map each finding to its change and lesions")
        by_name = {" ".join(str(k).split()).casefold(): v for k, v in value.items()}
        missing = [n for n in self.findings if n.casefold() not in by_name]
        extra = sorted(set(by_name) - {n.casefold() for n in self.findings})
        if missing or extra:
            raise SpecProblem(
                "reference",
                f"must have one entry per finding (missing {missing}, not findings {extra})",
            )
        return {
            name: _finding_key(by_name[name.casefold()], f"reference.{name}", base)
            for name in self.findings
        }

    def _options_dict(self) -> dict[str, Any]:
        if self.followup is None:
            raise ValueError("An activity built on a Volume cannot be written to a file")
        out: dict[str, Any] = {"followup": self.followup.as_yaml(), "findings": list(self.findings)}
        if not self.register:
            out["register"] = False
        return out

    def _reference_dict(self) -> Any:
        from dicomteach.activities.questions import _regions_dict

        out: dict[str, Any] = {}
        for name, key in self.reference.items():
            item: dict[str, Any] = {"change": key["change"]}
            for date in DATES:
                region, diameter = key[date]
                if region is None:
                    continue
                item[date] = _regions_dict((region,))[region.name]
                if diameter is not None:
                    item[date]["diameter_mm"] = diameter
            out[name] = item
        return out

    # ------------------------------------------------------------------ the images

    @property
    def followup_volume(self) -> Volume:
        """The follow-up's image, read on first use."""
        if self._followup_volume is None:
            from dicomteach import io

            assert self.followup is not None
            self._followup_volume = io.load(self.followup.resolve())
        return self._followup_volume

    def _build_question(self) -> Any:
        from dicomteach.activities.compare_view import FindingsQuestion

        return FindingsQuestion(
            self.volume,
            self.followup_volume,
            self.findings,
            answer=self.answer_path,
            activity=self.name,
            register=self.register,
            window=self._first_window(),
            frame=self._frame,
        )

    # ------------------------------------------------------------------ grading

    def _grade(self, answer: Path) -> Feedback:
        from dicomteach.grading._inputs import Problem
        from dicomteach.imaging import default_window, modality_values

        if not answer.exists():
            raise Problem(
                "No answer was found: measure the lesion and say what changed (your answer "
                f"file '{answer.name}' was not found)."
            )
        try:
            reading = load_reading(answer)
        except AnswerError as exc:
            raise Problem(
                f"Your answer file '{answer.name}' could not be read ({exc.problem}): "
                "answer again in the activity."
            ) from None
        before, after = self.volume, self.followup_volume
        if (reading.series_uid, reading.followup_series_uid) != (
            before.series_uid,
            after.series_uid,
        ):
            raise Problem(
                f"Your answer file '{answer.name}' holds a reading of other series than this "
                "activity's: answer again in the activity."
            )
        volumes = {"baseline": before, "followup": after}
        findings = {}
        for name, key in self.reference.items():
            masks: dict[str, np.ndarray | None] = {}
            for date in DATES:
                region, _ = key[date]
                masks[date] = (
                    None if region is None else target_masks((region,), volumes[date])[date]
                )
            findings[name] = Finding(
                key["change"],
                masks["baseline"],
                masks["followup"],
                key["baseline"][1],
                key["followup"][1],
            )
        window = self._first_window() or default_window(before)
        return grade_followup(
            reading,
            findings,
            before.spacing,
            after.spacing,
            self.points,
            self.tolerance_mm,
            baseline_image=modality_values(before),
            followup_image=modality_values(after),
            window=window,
        )


def _finding_key(value: object, key: str, base: Path | None) -> dict[str, Any]:
    """One finding's key: ``{"change": str, "baseline": (Region | None, mm | None), "followup": …}``."""
    if not isinstance(value, Mapping):
        raise SpecProblem(
            key, f"must be a mapping with 'change' and the lesion on each date, not {value!r:.40}"
        )
    unknown = sorted(set(map(str, value)) - {"change", *DATES})
    if unknown:
        raise SpecProblem(key, f"has unknown keys {unknown} (it takes change, baseline, followup)")
    change = value.get("change")
    if change not in CHANGES:
        raise SpecProblem(
            f"{key}.change", f"must be one of {', '.join(CHANGES)}, not {change!r:.40}"
        )
    out: dict[str, Any] = {"change": change}
    for date in DATES:
        out[date] = _lesion(value.get(date), f"{key}.{date}", date, base)
    present = [out[d][0] is not None for d in DATES]
    expected = {"new": [False, True], "resolved": [True, False]}.get(change, [True, True])
    if present != expected:
        needs = " and ".join(d for d, p in zip(DATES, expected, strict=True) if p)
        raise SpecProblem(key, f"is {change!r}, so it needs a lesion on the {needs} only")
    return out


def _lesion(
    value: object, key: str, date: str, base: Path | None
) -> tuple[Region | None, float | None]:
    if value is None:
        return None, None
    if isinstance(value, str | Location):
        value = {"file": value}
    if not isinstance(value, Mapping):
        raise SpecProblem(key, f"must be a region (file, polygon or point), not {value!r:.40}")
    value = dict(value)
    diameter = value.pop("diameter_mm", None)
    if diameter is not None:
        diameter = check_number(diameter, f"{key}.diameter_mm", positive=True)
    regions = parse_targets({date: value}, key.rsplit(".", 1)[0], base)
    assert isinstance(regions, tuple)
    region = regions[0]
    if region.kind == "point" and diameter is None:
        raise SpecProblem(key, "is a point: give the lesion's 'diameter_mm' too")
    return region, diameter
