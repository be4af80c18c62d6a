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

import html
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from dicomteach.activities.base import Activity
from dicomteach.activities.spec import Location, SpecProblem, check_names, check_number
from dicomteach.activities.targets import Region, parse_targets, target_masks
from dicomteach.grading import Feedback, Finding, grade_followup
from dicomteach.grading.followup import CHANGE_WORDS, CHANGES
from dicomteach.io.volume import Volume, Window
from dicomteach.roi.errors import AnswerError
from dicomteach.roi.followup import DATES, Line, Reading, load_reading, save_reading

__all__ = ["CompareFindings", "FindingsQuestion"]

log = logging.getLogger(__name__)

_SIDES = {"before": "baseline", "after": "followup"}
"""Compare's sides and the reading's dates."""

_TOOLS = ["ruler", "wl", "pan", "zoom"]


def _ends(values: object) -> list[list[float]] | None:
    try:
        ends = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    if ends.shape != (2, 3) or not np.all(np.isfinite(ends)):
        return None
    return ends.tolist()


class FindingsQuestion(ipywidgets.VBox):
    """The two dates in a :class:`~dicomteach.widgets.Compare`, and what changed for each finding.

    The ruler is the active tool: a line drawn on the baseline or on the
    follow-up is a measurement of that date (Delete, or "Remove last",
    takes the last one back). Every ruler and every pick is saved at once to
    ``answer``; a file this question cannot show (another series or activity,
    unreadable) is moved aside, never overwritten (docs/decisions.md, decision 12).
    ``answered`` and ``answer_trait`` are what :class:`~dicomteach.widgets.CheckAnswer` watches.
    """

    reading = traitlets.Dict()
    """The reading as last saved (:meth:`Reading.as_dict`)."""
    answer_trait = "reading"

    def __init__(
        self,
        baseline: Any,
        followup: Any,
        findings: list[str],
        *,
        answer: str | os.PathLike[str],
        activity: str = "",
        register: Any = True,
        window: Window | None = None,
        frame: int | None = None,
    ) -> None:
        from dicomteach.widgets import Compare
        from dicomteach.widgets._answers import answer_path

        self.answer_path: Path = answer_path(answer, ".json")  # type: ignore[assignment]
        self.activity = activity
        self.findings = list(findings)
        self.compare = Compare(
            baseline, followup, register=register, window=window, frame=frame, tools=list(_TOOLS)
        )
        self.compare.tool = "ruler"
        self.pickers: dict[str, ipywidgets.ToggleButtons] = {}
        rows = []
        for name in self.findings:
            picker = ipywidgets.ToggleButtons(
                options=[(change.capitalize(), change) for change in CHANGES],
                value=None,
                tooltips=[f"The {name} {CHANGE_WORDS[change]}" for change in CHANGES],
                style={"button_width": "auto"},
            )
            picker.add_class("dt-findings-change")
            self.pickers[name] = picker
            label = ipywidgets.HTML(
                f"<b>{html.escape(name)}</b>: what changed?",
                layout=ipywidgets.Layout(flex="0 0 auto", margin="0 1em 0 0"),
            )
            row = ipywidgets.HBox([label, picker])
            row.add_class("dt-findings-row")
            rows.append(row)
        self.status = ipywidgets.HTML()
        self.status.add_class("dt-findings-status")
        super().__init__([self.compare, *rows, self.status])
        self.add_class("dt-findings")
        self._loading = True
        if self.compare.after_volume is not None:
            self._load_existing()
        self._loading = False
        self.compare.observe(self._changed, names="measurements")
        for picker in self.pickers.values():
            picker.observe(self._changed, names="value")

    # ------------------------------------------------------------------ the answer

    @property
    def answered(self) -> bool:
        """True once a line is drawn or a change picked."""
        return bool(self.reading.get("lines")) or any(
            v is not None for v in self.reading.get("changes", {}).values()
        )

    @property
    def changes(self) -> dict[str, str | None]:
        """The change picked for each finding (None: not yet)."""
        return {name: picker.value for name, picker in self.pickers.items()}

    def pick(self, finding: str, change: str | None) -> None:
        """Pick what changed for ``finding``, as a click on its button does (and save)."""
        if finding not in self.pickers:
            raise ValueError(f"Argument 'finding' must be one of {self.findings}, not {finding!r}")
        self.pickers[finding].value = change

    def lines(self) -> list[Line]:
        """The rulers drawn on either date, each with its ends in its own date's series."""
        compare = self.compare
        out = []
        for m in compare.measurements:
            date = _SIDES.get(str(m.get("side")))
            array = _ends(m.get("array"))
            points = m.get("points")
            if m.get("kind") != "ruler" or date is None or array is None:
                continue
            if date == "baseline":
                volume, image = compare.volume, np.asarray(array)
            else:
                volume, image = compare.after_volume, compare.followup_index(array)
            assert volume is not None
            mm = volume.index_to_lps(image) if volume.geometry_known else None
            shown = {
                "plane": str(m.get("plane", "")),
                "slice": int(m.get("slice", 0)),
                "points": [[float(v) for v in p] for p in points],  # type: ignore[union-attr]
                "array": array,
                "length_mm": float(m.get("length_mm", 0.0)),
            }
            out.append(
                Line(
                    date,
                    tuple(tuple(round(float(v), 3) for v in end) for end in image),  # type: ignore[arg-type]
                    None if mm is None else tuple(tuple(round(float(v), 4) for v in e) for e in mm),  # type: ignore[arg-type]
                    shown,
                )
            )
        return out

    @property
    def answer(self) -> Reading:
        """The learner's reading now, as saved in :attr:`answer_path`."""
        compare = self.compare
        return Reading(
            compare.volume.series_uid if compare.volume is not None else "",
            compare.after_volume.series_uid if compare.after_volume is not None else "",
            self.changes,
            self.lines(),
            self.activity,
        )

    # ------------------------------------------------------------------ the file

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "inherit"
        self.status.value = f'<small style="color:{colour}">{html.escape(text)}</small>'

    def _mismatch(self, reading: Reading) -> str | None:
        compare = self.compare
        assert compare.volume is not None and compare.after_volume is not None
        if reading.activity and self.activity and reading.activity != self.activity:
            return f"it holds the answer of another activity ({reading.activity!r})"
        if (reading.series_uid, reading.followup_series_uid) != (
            compare.volume.series_uid,
            compare.after_volume.series_uid,
        ):
            return "it holds a reading of other series"
        unknown = sorted(set(reading.changes) - set(self.findings))
        if unknown:
            return f"it names findings this question does not ask about ({', '.join(unknown)})"
        odd = [c for c in reading.changes.values() if c is not None and c not in CHANGES]
        if odd:
            return f"it holds a change this question does not offer ({odd[0]!r})"
        if any(not line.shown for line in reading.lines):
            return "it holds lines this widget cannot draw again"
        return None

    def _load_existing(self) -> None:
        from dicomteach.widgets._answers import move_aside

        path = self.answer_path
        if not path.exists():
            return
        try:
            reading = load_reading(path)
        except AnswerError as exc:
            reason: str | None = f"it could not be read ({exc.problem})"
        else:
            reason = self._mismatch(reading)
            if reason is None:
                sides = {date: side for side, date in _SIDES.items()}
                self.compare.measurements = [
                    {"kind": "ruler", **dict(line.shown), "side": sides[line.date]}
                    for line in reading.lines
                ]
                for name, change in reading.changes.items():
                    self.pickers[name].value = change
                if reading.lines:
                    first = reading.lines[0].shown["array"][0]
                    self.compare.position = [int(round(v)) for v in first]
                self.reading = self.answer.as_dict()
                self._say(f"Your answer was loaded from {path.name}.")
                return
        moved = move_aside(path, reason, stacklevel=5)  # warned at the learner's cell
        log.warning("%s", moved.notice)
        self.answer_path = moved.answer
        self._say(moved.notice, error=True)

    def _changed(self, _change: dict) -> None:
        if self._loading or self.compare.after_volume is None:
            return
        reading = self.answer
        try:
            save_reading(reading, self.answer_path)
        except OSError as exc:
            self._say(
                f"Your answer could not be saved in {self.answer_path.name} "
                f"({exc.strerror or exc}).",
                error=True,
            )
            return
        self.reading = reading.as_dict()
        elsewhere = sum(1 for m in self.compare.measurements if m.get("side") not in _SIDES)
        note = (
            f" {elsewhere} line{'s' if elsewhere != 1 else ''} drawn on the difference image "
            "measure neither date: measure on the baseline or the follow-up."
            if elsewhere
            else ""
        )
        self._say(f"Saved in {self.answer_path.name} at {time.strftime('%H:%M:%S')}.{note}")


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
