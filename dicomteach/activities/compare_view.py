"""The widget of :class:`~dicomteach.activities.CompareFindings`: Compare with the ruler
ready and, per finding, what changed; the reading saved on every change.

Apart from compare.py so that ipywidgets is imported where a question is shown,
not where one is graded (an autograde builds no widget).
"""

from __future__ import annotations

import html
import logging
import os
import time
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from dicomteach.grading.followup import CHANGE_WORDS, CHANGES
from dicomteach.io.volume import Window
from dicomteach.roi.errors import AnswerError
from dicomteach.roi.followup import Line, Reading, load_reading, save_reading

__all__ = ["FindingsQuestion"]

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
