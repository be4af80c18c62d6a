"""``grade("name")``: what an nbgrader autograder cell calls, revealing nothing.

nbgrader shows the autograder ("test") cells in the feedback it hands back,
hidden tests included, by design: a test cell must hold no reference, path or
value (docs/decisions.md, decision 4). So a test cell holds only
``grade("nodule")``, and the answer key is found through the course:

* the grading process names the course's reference folder in the environment
  variable :data:`REFERENCES_ENV` (``graders/nbgrader_config.py`` sets it, and
  the kernels nbgrader starts to autograde inherit it);
* the key of activity ``nodule`` in assignment ``A`` is the activity file
  ``<references>/A/nodule.yaml``; ``A`` is the folder the notebook runs in,
  which nbgrader names after the assignment at every step (``source/A``,
  ``autograded/<student>/A``, a learner's ``A``);
* the answer is the activity's file beside the notebook (``nodule.npz``).

In a learner's kernel the variable is absent: ``grade`` says that the answer is
saved and will be graded after submission, and gives 0 points (so that an
autograde run without the variable can never hand out points). The full
reasoning is docs/decisions.md, decision 28.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

from dicomteach.activities.base import Activity, quietly
from dicomteach.activities.spec import NAME_PATTERN
from dicomteach.grading import Feedback, Status
from dicomteach.grading._inputs import failure, internal_error, reference_problem

__all__ = ["REFERENCES_ENV", "GradeResult", "grade", "reference_file"]

REFERENCES_ENV = "DICOMTEACH_REFERENCES"
"""The environment variable naming the course's reference folder, set only where grading runs."""

_SUFFIXES = (".yaml", ".yml")


@dataclass
class GradeResult:
    """The outcome of :func:`grade`: shown as the feedback, read by nbgrader as the points.

    nbgrader gives an autograder cell partial credit when its result's plain
    text is a number: the plain text here is the points and nothing else; the
    HTML is what the learner reads in the feedback.
    """

    name: str
    feedback: Feedback
    graded: bool = True
    """False in a learner's kernel: nothing was graded (the points are 0)."""

    @property
    def points(self) -> float:
        return self.feedback.points

    def __repr__(self) -> str:
        return f"{self.feedback.points:g}"

    def _repr_html_(self) -> str:
        if not self.graded:
            return f'<div class="dicomteach-feedback"><p>{html.escape(self.feedback.lines[0])}</p></div>'
        title = f"<p><em>Activity {html.escape(self.name)}</em></p>"
        return title + self.feedback.to_html()


def reference_file(name: str, folder: str | os.PathLike[str] | None = None) -> Path | None:
    """The activity file holding the key of ``name`` for the notebook in ``folder`` (default: here).

    ``None`` when :data:`REFERENCES_ENV` is not set (a learner's kernel).
    Raises ``ValueError`` for a name that is not an activity's.

    >>> import os, tempfile
    >>> os.environ[REFERENCES_ENV] = "/course/references"
    >>> str(reference_file("nodule", "/home/learner/ct-nodule"))
    '/course/references/ct-nodule/nodule.yaml'
    >>> del os.environ[REFERENCES_ENV]
    >>> reference_file("nodule", "/home/learner/ct-nodule") is None
    True
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"Argument 'name' must be an activity's name, not {name!r:.60}")
    root = os.environ.get(REFERENCES_ENV, "").strip()
    if not root:
        return None
    assignment = Path(folder if folder is not None else Path.cwd()).absolute().name
    base = Path(root) / assignment
    for suffix in _SUFFIXES:
        candidate = base / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return base / f"{name}{_SUFFIXES[0]}"


def grade(name: str) -> GradeResult:
    """Grade the answer to activity ``name`` of this notebook's assignment; never raises.

    Put it, alone, in an nbgrader autograder cell whose points are the
    activity's::

        from dicomteach.activities import grade
        grade("nodule")

    Examples
    --------
    In a learner's kernel there is no reference to grade with:

    >>> result = grade("nodule")
    >>> result.graded, result.points
    (False, 0.0)
    >>> print(result.feedback.lines[0])
    Your answer to 'nodule' is saved beside this notebook; it is graded after you submit.
    """
    try:
        with quietly():
            key = reference_file(name)
    except ValueError as exc:
        return GradeResult(str(name), failure(reference_problem(str(exc)), 0.0))
    if key is None:
        saved = Feedback(
            0.0,
            0.0,
            lines=[
                f"Your answer to {name!r} is saved beside this notebook; it is graded after you submit."
            ],
            status=Status.INVALID_ANSWER,
            details={"problem": f"{REFERENCES_ENV} is not set: not a grading kernel"},
        )
        return GradeResult(name, saved, graded=False)
    try:
        with quietly():
            activity = Activity.load(key)
        if activity.name != name:
            raise ValueError(f"{key} is the activity {activity.name!r}, not {name!r}")
    except Exception as exc:  # the instructor's file: a grading error, never a crash
        return GradeResult(name, failure(reference_problem(str(exc) or type(exc).__name__), 0.0))
    try:
        with quietly():
            from dicomteach.activities.prepared import PREPARED_FOLDER, prepare

            # every submission is graded in a fresh kernel: the study and the reference
            # are read once for the class and kept beside the key (activities/prepared.py)
            prepare(activity, key.parent / PREPARED_FOLDER)
    except Exception:  # preparing only saves time: grading reads the files itself
        pass
    try:
        return GradeResult(name, activity.grade())
    except Exception as exc:  # Activity.grade does not raise; this is the last net
        return GradeResult(name, internal_error(exc, activity.points))
