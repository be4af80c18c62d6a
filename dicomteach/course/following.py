"""How often a class followed the AI when it was wrong: the second readings of an assignment.

Each learner's answer to a :class:`~dicomteach.activities.SecondReader`
holds their reading before they saw the AI's marks and after
(``first_points``, ``points``). Graded against the key, it says for each of
the AI's errors on the case (a false positive, a finding it missed) whether
the learner's first reading shared it and whether their revised one did
(:func:`dicomteach.grading.grade_second_reading`, ``details["ai_errors"]``).
:func:`follow_the_ai` gathers those for every submission of an assignment,
the answer files read as handed in (``submitted/<learner>/<assignment>/``),
with the model's marks prepared once beside the key
(:mod:`dicomteach.activities.prepared`); :meth:`Following.png` draws them,
one row per learner and one column per error of the AI.

A learner *followed* the AI on an error when their first reading did not
share it and their revised one did (automation bias); the chances to follow
are the errors their first reading did not share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dicomteach.errors import DicomTeachError

__all__ = ["Following", "follow_the_ai"]


def _state(error: dict) -> str:
    before, after = bool(error.get("agreed_before")), bool(error.get("agreed_after"))
    return {
        (False, True): "followed",
        (True, True): "agreed",
        (False, False): "resisted",
        (True, False): "corrected",
    }[(before, after)]


def _label(error: dict) -> str:
    if error["error"] == "miss":
        return f"missed: {error['finding']}"
    return f"false positive, slice {error['slice']} (AI {100 * error['probability']:.0f} %)"


@dataclass
class Following:
    """One second-reader activity of a class: what each learner did about each AI error."""

    activity: str
    learners: list[str]
    errors: list[str]
    """The AI's errors on the case, labelled for a reader (its false positives, then its misses)."""
    states: list[list[str]] = field(default_factory=list)
    """``states[i][j]``: learner ``i`` on error ``j`` (:data:`~dicomteach.grading.render_class.FOLLOWING_STATES`)."""

    def _rate(self, values: list[str]) -> float | None:
        chances = [v for v in values if v in ("followed", "resisted")]
        return None if not chances else sum(v == "followed" for v in chances) / len(chances)

    def by_learner(self) -> dict[str, float | None]:
        """Each learner's share of their chances on which they followed the AI's error."""
        return {name: self._rate(row) for name, row in zip(self.learners, self.states, strict=True)}

    def by_error(self) -> dict[str, float | None]:
        """Each error's share of the learners who could follow it and did."""
        return {
            error: self._rate([row[j] for row in self.states])
            for j, error in enumerate(self.errors)
        }

    def png(self) -> bytes:
        """The class as a picture (:func:`~dicomteach.grading.render_class.following_png`)."""
        from dicomteach.grading.render_class import following_png

        return following_png(
            self.learners,
            self.errors,
            self.states,
            title=f"{self.activity}: how often the class followed the AI when it was wrong",
        )


def follow_the_ai(
    course: str | os.PathLike[str], assignment: str, *, students: list[str] | None = None
) -> list[Following]:
    """What the class did about the AI's errors, one :class:`Following` per second-reader activity.

    Raises :class:`~dicomteach.errors.DicomTeachError` for an assignment without
    a second-reader key or without submissions.
    """
    from dicomteach.activities import Activity, SecondReader
    from dicomteach.activities.prepared import PREPARED_FOLDER, prepare

    course = Path(course).absolute()
    keys = sorted((course / "references" / assignment).glob("*.yaml"))
    readers = [a for a in (Activity.load(k) for k in keys) if isinstance(a, SecondReader)]
    if not readers:
        raise DicomTeachError(f"has no second-reader key in references/{assignment}/", course)
    submitted = course / "submitted"
    everyone = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    chosen = students or everyone
    if not chosen:
        raise DicomTeachError(f"has no submission of {assignment}", submitted)
    out = []
    for reader in readers:
        prepare(reader, course / "references" / assignment / PREPARED_FOLDER)
        found: dict[str, dict[tuple, str]] = {}
        labels: dict[tuple, str] = {}
        for student in chosen:
            answer = submitted / student / assignment / f"{reader.name}{reader.suffix}"
            feedback = reader.grade(answer)
            mine = {}
            if feedback.details.get("first_points") is not None:
                for error in feedback.details.get("ai_errors", []):
                    key = (error["error"], error.get("mark", error.get("finding")))
                    labels[key] = _label(error)
                    mine[key] = _state(error)
            found[student] = mine
        order = sorted(labels, key=lambda k: (k[0] != "false positive", str(k[1])))
        out.append(
            Following(
                reader.name,
                list(chosen),
                [labels[k] for k in order],
                [[found[s].get(k, "") for k in order] for s in chosen],
            )
        )
    return out
