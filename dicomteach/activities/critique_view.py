"""The widget of :class:`~dicomteach.activities.CritiqueAI`: each AI mark as tiles, and a verdict.

Apart from ai_reading.py so that ipywidgets is imported where a question is
shown, not where one is graded (an autograde builds no widget).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import ipywidgets
import traitlets

from dicomteach.activities.ai_reading import Verdict, save_verdicts
from dicomteach.activities.verdict_view import say, status_line, verdict_buttons
from dicomteach.grading import OtherMark
from dicomteach.roi.errors import AnswerError

__all__ = ["CritiqueQuestion"]

log = logging.getLogger(__name__)

_CHOICES = [("Nodule (true positive)", "true"), ("Not a nodule (false positive)", "false")]


class CritiqueQuestion(ipywidgets.VBox):
    """One row per AI mark: the slice above, the mark's, the slice below, and two buttons.

    Every verdict is saved at once to ``answer`` (docs/decisions.md, decision 3)
    and read back when the widget is built again; a file it cannot use is
    moved aside, never overwritten. ``answered`` and ``answer_trait`` are what
    :class:`~dicomteach.widgets.CheckAnswer` watches.
    """

    verdicts = traitlets.List()
    """The verdict on each mark, in order: ``"true"``, ``"false"`` or None."""
    answer_trait = "verdicts"

    def __init__(self, activity: Any, *, answer: str | os.PathLike[str]) -> None:
        from dicomteach.grading.render_ai import marks_png
        from dicomteach.widgets._answers import answer_path

        self.activity = activity
        self.answer_path = answer_path(answer, ".json")
        self.marks = activity.candidates()
        picture = activity._picture()
        spacing = activity.volume.spacing
        self.pickers: list[ipywidgets.ToggleButtons] = []
        rows = []
        for n, c in enumerate(self.marks):
            mark = OtherMark(c.centre_index, c.diameter_mm / 2, c.probability, None)
            tile = ipywidgets.Image(
                value=marks_png([mark], [f"mark {n + 1}"], spacing, **picture), format="png"
            )
            picker = verdict_buttons(_CHOICES, "dt-critique-verdict")
            self.pickers.append(picker)
            row = ipywidgets.VBox([tile, picker])
            row.add_class("dt-critique-mark")
            rows.append(row)
        if not rows:
            rows.append(ipywidgets.HTML("<p>The AI marked nothing on this image.</p>"))
        self.status = status_line("dt-critique-status")
        super().__init__(
            [
                ipywidgets.GridBox(
                    rows,
                    layout=ipywidgets.Layout(
                        grid_template_columns="repeat(auto-fill, minmax(430px, 1fr))",
                        grid_gap="8px",
                    ),
                ),
                self.status,
            ]
        )
        self.add_class("dt-critique")
        self._loading = True
        self._load_existing()
        self._loading = False
        self.verdicts = [p.value for p in self.pickers]
        for picker in self.pickers:
            picker.observe(self._changed, names="value")

    @property
    def answered(self) -> bool:
        """True once one mark is judged."""
        return any(v is not None for v in self.verdicts)

    def judge(self, number: int, verdict: str | None) -> None:
        """Give mark ``number`` (from 1) a verdict, as a click on its button does (and save)."""
        self.pickers[number - 1].value = verdict

    def _say(self, text: str, error: bool = False) -> None:
        say(self.status, text, error)

    def _load_existing(self) -> None:
        from dicomteach.widgets._answers import move_aside

        path = self.answer_path
        if not path.exists():
            return
        try:
            found = self.activity.verdicts_for(path)
        except (AnswerError, ValueError) as exc:
            reason = (
                f"it could not be read ({exc.problem})"
                if isinstance(exc, AnswerError)
                else str(exc)
            )
        else:
            for picker, verdict in zip(self.pickers, found, strict=True):
                picker.value = verdict
            self._say(f"Your answer was loaded from {path.name}.")
            return
        moved = move_aside(path, reason, stacklevel=5)
        log.warning("%s", moved.notice)
        self.answer_path = moved.answer
        self._say(moved.notice, error=True)

    def _changed(self, _change: dict) -> None:
        self.verdicts = [p.value for p in self.pickers]
        if self._loading:
            return
        verdicts = [
            Verdict(
                tuple(round(float(v), 3) for v in c.centre_index), round(c.probability, 4), p.value
            )  # type: ignore[arg-type]
            for c, p in zip(self.marks, self.pickers, strict=True)
        ]
        try:
            save_verdicts(
                self.answer_path, self.activity.name, self.activity.volume.series_uid, verdicts
            )
        except OSError as exc:
            self._say(
                f"Your answer could not be saved in {self.answer_path.name} ({exc.strerror or exc}).",
                error=True,
            )
            return
        self._say(f"Saved in {self.answer_path.name} at {time.strftime('%H:%M:%S')}.")
