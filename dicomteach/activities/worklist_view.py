"""The widget of :class:`~dicomteach.activities.Worklist`: a PACS-like worklist, a viewer, verdicts.

Apart from worklist.py so that ipywidgets is imported where a question is
shown, not where one is graded (an autograde builds no widget).
"""

from __future__ import annotations

import html
import io
import logging
import os
import time
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from dicomteach.activities.verdict_view import say, status_line, verdict_buttons
from dicomteach.activities.worklist import (
    Event,
    WorklistAnswer,
    save_worklist_answer,
)
from dicomteach.roi.errors import AnswerError

__all__ = ["WorklistQuestion"]

log = logging.getLogger(__name__)

_CHOICES = [("Abnormal", "abnormal"), ("Normal", "normal")]


def _png(gray: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(gray, np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()


class WorklistQuestion(ipywidgets.VBox):
    """The worklist (one row a case: thumbnail, label, the AI's score when shown, Open, a verdict)
    and, under it, a :class:`~dicomteach.widgets.Viewer` of the case opened.

    Every open and verdict is logged with its time (seconds from the first
    case opened, the kernel's monotonic clock) and saved at once to
    ``answer`` (docs/decisions.md, decision 3); a saved log is read back when
    the widget is built again, and the clock goes on from its last event. A
    file it cannot use is moved aside, never overwritten. A verdict is given
    only to a case opened. ``answered`` and ``answer_trait`` are what
    :class:`~dicomteach.widgets.CheckAnswer` watches.
    """

    verdicts = traitlets.Dict()
    """Each case's verdict by label: ``"abnormal"`` or ``"normal"``."""
    answer_trait = "verdicts"

    def __init__(self, activity: Any, *, answer: str | os.PathLike[str]) -> None:
        from dicomteach.widgets._answers import answer_path

        self.activity = activity
        self.answer_path = answer_path(answer, ".json")
        scores = activity.scores()
        self.shown = activity.shown(scores)
        self.show_scores = activity.order == "ai"
        thumbs = activity.thumbnails()
        self.events: list[Event] = []
        self._origin: float | None = None
        self.opened: str | None = None
        self.openers: dict[str, ipywidgets.Button] = {}
        self.pickers: dict[str, ipywidgets.ToggleButtons] = {}
        head = ["", "Case", *(["AI score"] if self.show_scores else []), "", "Your verdict"]
        cells: list[ipywidgets.Widget] = [ipywidgets.HTML(f"<b>{html.escape(h)}</b>") for h in head]
        self.rows: dict[str, list[ipywidgets.Widget]] = {}
        for n in self.shown:
            label = activity.labels[n]
            thumb = ipywidgets.Image(value=_png(thumbs[n]), format="png")
            thumb.add_class("dt-worklist-thumbnail")
            name = ipywidgets.HTML(f"<b>{html.escape(label)}</b>")
            name.add_class("dt-worklist-label")
            row: list[ipywidgets.Widget] = [thumb, name]
            if self.show_scores:
                score, flagged = scores[n]
                flag = ' <span style="color:#b00020">⚑ flagged</span>' if flagged else ""
                shown_score = ipywidgets.HTML(f"{100 * score:.0f} %{flag}")
                shown_score.add_class("dt-worklist-score")
                row.append(shown_score)
            opener = ipywidgets.Button(description="Open", icon="folder-open")
            opener.add_class("dt-worklist-open")
            opener.on_click(lambda _b, label=label: self.open_case(label))
            picker = verdict_buttons(_CHOICES, "dt-worklist-verdict", disabled=True)
            picker.observe(lambda change, label=label: self._picked(label, change), names="value")
            self.openers[label], self.pickers[label] = opener, picker
            row += [opener, picker]
            self.rows[label] = row
            cells += row
        columns = "auto auto " + ("auto " if self.show_scores else "") + "auto 1fr"
        table = ipywidgets.GridBox(
            cells,
            layout=ipywidgets.Layout(
                grid_template_columns=columns, grid_gap="4px 12px", align_items="center"
            ),
        )
        table.add_class("dt-worklist-table")
        prompt = ipywidgets.HTML(f"<p><b>{html.escape(activity.prompt)}</b></p>")
        self.heading = ipywidgets.HTML("<p><em>Open a case to read it.</em></p>")
        self.heading.add_class("dt-worklist-heading")
        self.viewer_box = ipywidgets.Box()
        self.viewer: Any = None
        self.status = status_line("dt-worklist-status")
        super().__init__([prompt, table, self.status, self.heading, self.viewer_box])
        self.add_class("dt-worklist")
        self._loading = True
        self._load_existing()
        self._loading = False

    # ------------------------------------------------------------------ what the learner does

    @property
    def answered(self) -> bool:
        """True once one case has a verdict."""
        return bool(self.verdicts)

    def _now(self) -> float:
        if self._origin is None:
            self._origin = time.monotonic()
        return round(time.monotonic() - self._origin, 3)

    def open_case(self, label: str) -> None:
        """Open case ``label`` in the viewer, as a click on its Open button does (and save)."""
        from dicomteach.widgets import Viewer

        n = self.activity.labels.index(label)
        self.events.append(Event(self._now(), label, "open"))
        self._save()
        self.opened = label
        for other, button in self.openers.items():
            button.button_style = "info" if other == label else ""
        self.pickers[label].disabled = False
        self.heading.value = f"<p><b>{html.escape(label)}</b></p>"
        self.viewer = Viewer(self.activity.case_volume(n))
        self.viewer_box.children = (self.viewer,)

    def give(self, label: str, verdict: str | None) -> None:
        """Give case ``label`` a verdict, as a click on its button does (and save)."""
        self.pickers[label].value = verdict

    def _picked(self, label: str, change: dict) -> None:
        verdict = change["new"]
        if self._loading or verdict is None:
            return
        self.events.append(Event(self._now(), label, verdict))
        self.verdicts = {**self.verdicts, label: verdict}
        self._save()

    # ------------------------------------------------------------------ the answer file

    def _answer(self) -> WorklistAnswer:
        labels = self.activity.labels
        return WorklistAnswer(
            self.activity.name,
            self.activity.order,
            [labels[n] for n in self.shown],
            list(self.events),
        )

    def _say(self, text: str, error: bool = False) -> None:
        say(self.status, text, error)

    def _save(self) -> None:
        try:
            save_worklist_answer(self.answer_path, self._answer())
        except OSError as exc:
            self._say(
                f"Your answer could not be saved in {self.answer_path.name} ({exc.strerror or exc}).",
                error=True,
            )
            return
        self._say(f"Saved in {self.answer_path.name} at {time.strftime('%H:%M:%S')}.")

    def _load_existing(self) -> None:
        from dicomteach.widgets._answers import move_aside

        path = self.answer_path
        if not path.exists():
            return
        try:
            found = self.activity.answer_for(path)
        except (AnswerError, ValueError) as exc:
            reason = (
                f"it could not be read ({exc.problem})"
                if isinstance(exc, AnswerError)
                else str(exc)
            )
        else:
            self.events = list(found.events)
            if self.events:  # the clock goes on from the last event
                self._origin = time.monotonic() - max(e.t for e in self.events)
            verdicts = {}
            for label, read in found.reads().items():
                if read.opened is not None:
                    self.pickers[label].disabled = False
                if read.verdict is not None:
                    self.pickers[label].value = read.verdict
                    verdicts[label] = read.verdict
            self.verdicts = verdicts
            self._say(f"Your answer was loaded from {path.name}.")
            return
        moved = move_aside(path, reason, stacklevel=5)
        log.warning("%s", moved.notice)
        self.answer_path = moved.answer
        self._say(moved.notice, error=True)
