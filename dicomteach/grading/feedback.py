"""What a grader returns: points, the scores behind them, text a learner can act on, images."""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from dicomteach.io.atomic import write_atomically
from dicomteach.scoring import Scores

__all__ = ["Feedback", "Status"]


class Status(StrEnum):
    """How a grading went (for instructors' reports; learners read ``Feedback.lines``)."""

    GRADED = "graded"
    """The answer was scored."""
    INVALID_ANSWER = "invalid answer"
    """The answer is missing, unreadable, empty or on the wrong grid: 0 points."""
    GRADING_ERROR = "grading error"
    """The reference or the grader's arguments are wrong: 0 points, the instructor must act."""


@dataclass
class Feedback:
    """Points and feedback for one answer.

    ``lines`` are sentences in the learner's terms (mm, slices numbered from 1,
    anatomical directions); ``images`` are PNG files by name, in display order.

    Examples
    --------
    >>> f = Feedback(3.5, 5.0, lines=["The posterior margin is missed on slice 4."])
    >>> print(f)
    3.5 / 5 points
    The posterior margin is missed on slice 4.
    >>> "<li>" in f.to_html()
    True
    """

    points: float
    max_points: float
    scores: Scores | None = None
    lines: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    status: Status = Status.GRADED
    details: dict = field(default_factory=dict)
    """Grader-specific numbers (targets, credits, per-finding results) for instructors."""

    def __str__(self) -> str:
        return "\n".join([f"{self.points:g} / {self.max_points:g} points", *self.lines])

    def as_dict(self) -> dict:
        """Everything but the images, ready for ``json.dumps``."""
        return {
            "points": self.points,
            "max_points": self.max_points,
            "status": str(self.status),
            "scores": None if self.scores is None else self.scores.as_dict(),
            "lines": list(self.lines),
            "images": list(self.images),
            "details": self.details,
        }

    def to_html(self) -> str:
        """A self-contained HTML fragment (PNGs as data URIs) for nbgrader feedback and Jupyter."""
        parts = [
            '<div class="dicomteach-feedback">',
            f"<p><strong>{self.points:g} / {self.max_points:g} points</strong></p>",
        ]
        if self.lines:
            parts.append("<ul>")
            parts.extend(f"<li>{html.escape(line)}</li>" for line in self.lines)
            parts.append("</ul>")
        for name, data in self.images.items():
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(
                f'<p><img src="data:image/png;base64,{encoded}" alt="{html.escape(name)}" '
                'style="max-width:100%"></p>'
            )
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def save(self, folder: str | os.PathLike[str], prefix: str = "") -> list[Path]:
        """Write the images, ``feedback.txt`` and ``feedback.html`` into ``folder``, atomically.

        ``prefix`` (e.g. ``"q3-"``) keeps the files of several graders apart.
        Returns the paths written.
        """
        folder = Path(folder)
        written = []
        for name, data in self.images.items():
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
            written.append(
                write_atomically(folder / f"{prefix}{safe}", lambda fh, d=data: fh.write(d))
            )
        text = (str(self) + "\n").encode("utf-8")
        written.append(
            write_atomically(folder / f"{prefix}feedback.txt", lambda fh: fh.write(text))
        )
        page = self.to_html().encode("utf-8")
        written.append(
            write_atomically(folder / f"{prefix}feedback.html", lambda fh: fh.write(page))
        )
        return written
