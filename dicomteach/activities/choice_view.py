"""The question widget of a :class:`~dicomteach.activities.MultipleChoice`: the image and the options.

Kept apart from :mod:`dicomteach.activities.choice` (the activity and its
answer file) so that grading, which never shows it, does not import
ipywidgets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets
import traitlets

from dicomteach.activities.choice import Choice, _escape, load_choice, save_choice
from dicomteach.roi.errors import AnswerError

__all__ = ["ChoiceQuestion"]


class ChoiceQuestion(ipywidgets.VBox):
    """The image (a Viewer) with the options beside it; the pick is saved on every change.

    ``answered`` and ``answer_trait`` are what :class:`~dicomteach.widgets.CheckAnswer`
    watches, as on the other question widgets.
    """

    choice = traitlets.Unicode(None, allow_none=True)
    """The option picked, or None."""
    answer_trait = "choice"

    def __init__(
        self,
        image: Any,
        options: Sequence[str],
        *,
        prompt: str,
        answer: str | os.PathLike[str],
        activity: str = "",
        window: Any = None,
        frame: int | None = None,
    ) -> None:
        from dicomteach.widgets import Viewer
        from dicomteach.widgets._answers import answer_path, move_aside

        self.answer_path = answer_path(answer, ".json")
        self.activity = activity
        self.options = list(options)
        # ipywidgets draws options in a 300 px column of one-line rows: a longer option
        # overflows its row and hides its own button. As wide as the longest option.
        self.radio = ipywidgets.RadioButtons(
            options=self.options, value=None, layout=ipywidgets.Layout(width="max-content")
        )
        self.radio.add_class("dt-choice-options")
        self.status = ipywidgets.HTML()
        text = ipywidgets.HTML(f"<p><b>{_escape(prompt)}</b></p>")
        side = ipywidgets.VBox([text, self.radio, self.status])
        parts = [side]
        self.viewer = None
        if image is not None:
            self.viewer = Viewer(image, window=window, frame=frame)
            parts.insert(0, self.viewer)
        super().__init__([ipywidgets.HBox(parts)])
        self.add_class("dt-choice")
        path = self.answer_path
        if path.exists():
            reason = None
            try:
                found = load_choice(path)
            except AnswerError as exc:
                reason = f"it could not be read ({exc.problem})"
            else:
                if found.activity and activity and found.activity != activity:
                    reason = f"it holds the answer of another activity ({found.activity!r})"
                elif found.choice is not None and found.choice not in self.options:
                    reason = f"it holds an option this question does not have ({found.choice!r})"
                else:
                    self.choice = found.choice
                    self.radio.value = found.choice
                    self._say(f"Your answer was loaded from {path.name}.")
            if reason is not None:
                moved = move_aside(path, reason, stacklevel=4)
                self.answer_path = moved.answer
                self._say(moved.notice)
        self.radio.observe(self._picked, names="value")

    @property
    def answered(self) -> bool:
        """True once an option is picked."""
        return self.choice is not None

    def _say(self, text: str) -> None:
        self.status.value = f"<small>{_escape(text)}</small>"

    def _picked(self, change: dict) -> None:
        self.choice = change["new"]
        try:
            save_choice(Choice(self.activity, self.choice), self.answer_path)
        except OSError as exc:
            self._say(
                f"Your answer could not be saved in {self.answer_path.name} ({exc.strerror or exc})."
            )
            return
        self._say(f"Saved in {self.answer_path.name} at {time.strftime('%H:%M:%S')}.")

    def pick(self, option: str | None) -> None:
        """Pick ``option`` as a click on it does (and save)."""
        self.radio.value = option
