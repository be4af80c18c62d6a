"""A "Check my answer" button under a question widget, with the feedback beneath it.

In a Voilà app the cells run once, when the page opens: a grading cell placed
after a question answers "click the nodule first" and never again. ``CheckAnswer``
puts the grading behind a button instead, so a learner who never sees code gets
feedback whenever they ask, and can show the answer (the reference outline, the
expert's reading) only once they have answered.

The widget does not grade: it calls the function it is given, which usually
wraps one of :mod:`dicomteach.grading`'s graders reading the answer file the
question writes; whatever that returns is shown as HTML (``to_html()``,
``_repr_html_()`` or its text).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets

__all__ = ["CheckAnswer"]

log = logging.getLogger(__name__)

_STALE = "Your answer changed since it was checked: check it again."


def _as_html(result: object) -> str:
    for method in ("to_html", "_repr_html_"):
        render = getattr(result, method, None)
        if callable(render):
            return str(render())
    return f"<pre>{html.escape(str(result))}</pre>"


# Inline colours: an ipywidgets HTML carries no style sheet of ours in every front end.
_COLOURS = {"": "inherit", "dt-check-stale": "#8a5a00", "dt-check-error": "#b00020"}


def _status(text: str, kind: str = "") -> str:
    cls = f"dt-check-status {kind}".strip()
    return (
        f'<span class="{cls}" role="status" aria-live="polite" '
        f'style="color:{_COLOURS[kind]}">{html.escape(text)}</span>'
    )


class CheckAnswer(ipywidgets.VBox):
    """``question`` with a "Check my answer" button; the feedback appears under it.

    Parameters
    ----------
    question : Hotspot, LabelDrop or Delineator
        The widget the learner answers in (anything with ``answered`` and
        ``answer_trait``).
    grade : callable
        Called with no argument when the learner asks; returns the feedback
        (e.g. a :class:`dicomteach.grading.Feedback`). An exception it raises
        is shown as one line, and the learner's answer is untouched.
    reveal : callable, optional
        Called once, after the first check: what it returns (or displays) is
        shown under the feedback — the answer, only once the learner has
        given theirs.
    label : str
        The button's text.

    The button is disabled until the question holds an answer; once checked,
    a change to the answer says the feedback is out of date.
    """

    def __init__(
        self,
        question: Any,
        grade: Callable[[], object],
        *,
        reveal: Callable[[], object] | None = None,
        label: str = "Check my answer",
    ) -> None:
        if not callable(grade):
            raise ValueError(f"Argument 'grade' must be callable, not {type(grade).__name__}")
        if reveal is not None and not callable(reveal):
            raise ValueError(f"Argument 'reveal' must be callable, not {type(reveal).__name__}")
        self.question = question
        self.result: object | None = None
        """What ``grade`` returned at the last check (None before)."""
        self._grade = grade
        self._reveal = reveal
        self._revealed = False
        self._checked = False
        self.button = ipywidgets.Button(description=label, tooltip=label)
        self.button.add_class("dt-check-button")
        self.status = ipywidgets.HTML()
        self.feedback = ipywidgets.HTML()
        self.feedback.add_class("dt-check-feedback")
        self.answer = ipywidgets.Output()
        self.answer.add_class("dt-check-reveal")
        self.button.on_click(lambda _button: self.check())
        super().__init__(
            [question, ipywidgets.HBox([self.button, self.status]), self.feedback, self.answer]
        )
        self.add_class("dt-check")
        question.observe(self._answer_changed, names=question.answer_trait)
        self._update_button()

    def _update_button(self) -> None:
        answered = bool(self.question.answered)
        self.button.disabled = not answered
        if not answered:
            self.status.value = _status("Answer on the image first, then check it here.")

    def _answer_changed(self, _change: dict) -> None:
        self._update_button()
        if self._checked and self.question.answered:
            self.status.value = _status(_STALE, "dt-check-stale")

    def check(self) -> object | None:
        """Grade the answer now and show the feedback (what the button does)."""
        if not self.question.answered:
            self._update_button()
            return None
        try:
            result = self._grade()
        except Exception as exc:  # a learner's click must never end in a traceback
            log.exception("checking the answer failed")
            self.status.value = _status(f"Could not check your answer: {exc}", "dt-check-error")
            return None
        self.result = result
        self._checked = True
        self.feedback.value = _as_html(result)
        self.status.value = _status("Checked. Change your answer and check again if you like.")
        self.button.description = self.button.tooltip = "Check again"
        if self._reveal is not None and not self._revealed:
            self._revealed = True
            try:
                with self.answer:  # what ``reveal`` displays itself lands here
                    shown = self._reveal()
            except Exception as exc:  # the feedback is shown; only the answer is missing
                log.exception("revealing the answer failed")
                self.status.value = _status(f"Could not show the answer: {exc}", "dt-check-error")
                return result
            if shown is not None:
                # formatted here (a figure as PNG), not through the output hook, so it
                # shows the same in a kernel, a Voilà app, and a test without a front end
                self.answer.append_display_data(shown)
        return result
