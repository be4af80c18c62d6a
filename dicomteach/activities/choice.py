"""``MultipleChoice``: one answer out of several, asked beside an image.

The learner scrolls and windows the image in a :class:`~dicomteach.widgets.Viewer`
and picks an option; the choice is written at once, atomically, to a small JSON
file beside the notebook (docs/decisions.md, decision 3), whose format has its
home here::

    {"version": 1, "activity": "finding", "choice": "Lung mass"}

``choice`` is ``null`` before the learner picks. A file this module cannot use
(unreadable, of a newer version, another activity, an option the question
does not have) is moved aside, never overwritten (docs/decisions.md, decision 12).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomteach.activities.base import Activity
from dicomteach.activities.spec import Location, SpecProblem, check_names
from dicomteach.grading import Feedback, Status
from dicomteach.io.atomic import write_atomically
from dicomteach.roi.answers import read_json_object
from dicomteach.roi.errors import AnswerError

__all__ = [
    "CHOICE_VERSION",
    "Choice",
    "MultipleChoice",
    "load_choice",
    "save_choice",
]

log = logging.getLogger(__name__)


def __getattr__(name: str) -> Any:
    # the widget lives in choice_view.py: ipywidgets is imported where a question is shown,
    # not by every autograde kernel that imports the activities
    if name == "ChoiceQuestion":
        from dicomteach.activities.choice_view import ChoiceQuestion

        return ChoiceQuestion
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CHOICE_VERSION = 1
"""The version of the choice file written; files of a later version are refused, not misread."""

MAX_CHOICE_BYTES = 64 * 1024
"""A choice file is a few dozen bytes; a larger one is not read."""


@dataclass(frozen=True)
class Choice:
    """A learner's pick among the options of one activity (``None``: nothing picked yet)."""

    activity: str
    choice: str | None


def save_choice(choice: Choice, path: str | os.PathLike[str]) -> Path:
    """Write ``choice`` as JSON, atomically.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "finding.json"
    >>> _ = save_choice(Choice("finding", "Lung mass"), target)
    >>> load_choice(target)
    Choice(activity='finding', choice='Lung mass')
    """
    data = {"version": CHOICE_VERSION, "activity": choice.activity, "choice": choice.choice}
    text = json.dumps(data, ensure_ascii=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def load_choice(path: str | os.PathLike[str]) -> Choice:
    """Read a file :func:`save_choice` wrote; :class:`AnswerError` (one line) for anything else."""
    name = os.fspath(path)
    data = read_json_object(name, MAX_CHOICE_BYTES, "a choice")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise AnswerError("'version' must be a whole number", name)
    if version > CHOICE_VERSION:
        raise AnswerError(
            f"version {version} was written by a newer dicomteach (this one reads {CHOICE_VERSION})",
            name,
        )
    activity, choice = data.get("activity", ""), data.get("choice")
    if not isinstance(activity, str):
        raise AnswerError("'activity' must be a string", name)
    if choice is not None and not isinstance(choice, str):
        raise AnswerError("'choice' must be a string or null", name)
    return Choice(activity, choice)


class MultipleChoice(Activity):
    """One right answer among ``options``, asked beside the image (``study`` may be left out).

    ``reference`` is the right option. Full points for it, none otherwise.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> answer = pathlib.Path(tempfile.mkdtemp()) / "finding.json"
    >>> quiz = MultipleChoice("finding", None, prompt="What does the radiograph show?",
    ...                       options=["Normal", "Lung mass"], reference="Lung mass", answer=answer)
    >>> quiz.question.pick("Normal")
    >>> print(quiz.grade())
    0 / 1 points
    ✗ You chose 'Normal'; the answer is 'Lung mass'.
    """

    kind = "multiple-choice"
    suffix = ".json"
    own_keys = {"options"}

    def _study(self, value: Any, base: Path | None) -> Location | None:
        return None if value is None else Location.parse(value, "study", base)

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        if "options" not in options:
            raise SpecProblem("options", "is needed: the answers the learner picks from")
        self.options = check_names(options["options"], "options", at_least=2)

    def _reference(self, value: Any, base: Path | None) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise SpecProblem("reference", f"must be one of the options, not {value!r:.60}")
        return value

    def _options_dict(self) -> dict[str, Any]:
        return {"options": list(self.options)}

    def _reference_dict(self) -> Any:
        return self.reference

    def _build_question(self) -> Any:
        from dicomteach.activities.choice_view import ChoiceQuestion

        has_image = self.study is not None or self._volume is not None
        return ChoiceQuestion(
            self.volume if has_image else None,
            self.options,
            prompt=self.prompt,
            answer=self.answer_path,
            activity=self.name,
            window=self._first_window() if has_image else None,
            frame=self._frame,
        )

    def _grade(self, answer: Path) -> Feedback:
        from dicomteach.grading._inputs import Problem

        if not answer.exists():
            raise Problem(
                f"No answer was found: pick an option (your answer file '{answer.name}' was not found)."
            )
        try:
            found = load_choice(answer)
        except AnswerError as exc:
            raise Problem(
                f"Your answer file '{answer.name}' could not be read ({exc.problem}): "
                "pick your option again in the activity."
            ) from None
        if found.choice is None:
            raise Problem("You did not pick an option.")
        right = found.choice == self.reference
        line = (
            f"✓ {found.choice!r} is right."
            if right
            else f"✗ You chose {found.choice!r}; the answer is {self.reference!r}."
            if found.choice in self.options
            else f"✗ {found.choice!r} is not one of the options; the answer is {self.reference!r}."
        )
        points = self.points if right else 0.0
        return Feedback(
            points, self.points, None, [line], {}, Status.GRADED, {"choice": found.choice}
        )


def _escape(text: str) -> str:
    import html

    return html.escape(text)
