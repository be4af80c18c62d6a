"""Grading a triage worklist: the verdicts, the misses, and how soon the first positive was read.

A worklist holds several studies, each with the AI's triage score; the
learner opens cases in the order they choose and says of each whether it is
abnormal. :func:`grade_worklist` gives each right verdict its share of the
points, and says what a reading room measures: the **misses** (an abnormal
case called normal, or never read), the **false alarms**, the **time and
rank** at which the first true positive was called, and whether the learner
read the AI's flagged cases first. :func:`worklist_png` draws the worklist
as it was shown, each case's verdict coloured and its reading on a timeline.

Pure: the cases and the reading come in as plain values (the answer file's
format has its home in :mod:`dicomteach.activities.worklist`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from dicomteach.grading._inputs import Problem, failure, internal_error, reference_problem
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.grading.render import BACKGROUND, MUTED, REFERENCE, TEXT, _font, _png

__all__ = ["Read", "WorklistCase", "grade_worklist", "worklist_png"]

WRONG = (235, 50, 50)
UNREAD = (110, 110, 110)
AI = (0, 229, 255)
"""The AI's colour (as ``grading/render_ai.py`` and the widgets draw its marks)."""


@dataclass(frozen=True)
class WorklistCase:
    """One case of a worklist: its label, the truth, and what the AI said of it."""

    label: str
    abnormal: bool
    score: float
    """The AI's triage score (0…1)."""
    flagged: bool
    """The score is at or above the model's threshold."""
    thumbnail: np.ndarray | None = None
    """A small gray (uint8) picture of the case for the feedback, if any."""


@dataclass(frozen=True)
class Read:
    """The learner's reading of one case: when it was first opened, and the verdict given."""

    opened: float | None = None
    """Seconds from the first case opened (None: never opened)."""
    verdict: str | None = None
    """``"abnormal"``, ``"normal"`` or None."""
    at: float | None = None
    """Seconds from the first case opened at which the verdict was last given."""


def _clock(seconds: float) -> str:
    """``"1 min 05 s"`` or ``"42 s"``.

    >>> _clock(65.4), _clock(42.0)
    ('1 min 05 s', '42 s')
    """
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _names(labels: Sequence[str]) -> str:
    return ", ".join(labels[:-1]) + f" and {labels[-1]}" if len(labels) > 1 else labels[0]


def grade_worklist(
    cases: Sequence[WorklistCase],
    reads: Mapping[str, Read],
    shown: Sequence[int],
    points: float = 1.0,
    *,
    scores_shown: bool = True,
    picture: bool = True,
) -> Feedback:
    """Points for a worklist read: each right verdict earns ``points / len(cases)``.

    ``cases`` in the order they arrived; ``shown`` the indices of ``cases`` in
    the order the worklist listed them; ``reads`` the learner's reading of each
    case by label (a case missing is one never opened). ``scores_shown`` says
    whether the learner saw the AI's scores (``order: ai``). Never raises.

    >>> cases = [WorklistCase("Case A", False, 0.1, False), WorklistCase("Case B", True, 0.9, True),
    ...          WorklistCase("Case C", True, 0.3, False)]
    >>> reads = {"Case B": Read(0.0, "abnormal", 20.0), "Case A": Read(25.0, "abnormal", 40.0)}
    >>> f = grade_worklist(cases, reads, [1, 2, 0], points=3, picture=False)
    >>> print(f)
    1 / 3 points
    ✓ Case B (AI 90 %, flagged): abnormal, as you said.
    ✗ Case C (AI 30 %): abnormal; you never read it: a miss.
    ✗ Case A (AI 10 %): normal; you called it abnormal: a false alarm.
    Misses: 1 of 2 abnormal cases (Case C).
    False alarms: 1 (Case A).
    Your first true positive was Case B, the 1st case you opened, called abnormal at 20 s.
    You read the AI's flagged case (Case B) before the others. Abnormal: 1 of the 1 flagged, 1 of the 2 others.
    Read in the AI's order, the first abnormal case would have been the 1st opened.
    """
    max_points = float(points)
    try:
        if not cases:
            raise reference_problem("the worklist has no cases")
        if sorted(shown) != list(range(len(cases))):
            raise reference_problem("the worklist's order does not list each case once")
        labels = {c.label for c in cases}
        unknown = sorted(set(reads) - labels)
        if unknown:
            raise Problem(
                f"Your answer names cases this worklist does not have ({_names(unknown)}): "
                "answer again in the activity."
            )
        share = max_points / len(cases)
        awarded, lines, results = 0.0, [], []
        misses, alarms = [], []
        for n in shown:
            case = cases[n]
            read = reads.get(case.label, Read())
            truth = "abnormal" if case.abnormal else "normal"
            ai = f"AI {100 * case.score:.0f} %{', flagged' if case.flagged else ''}"
            where = f"{case.label} ({ai})" if scores_shown else case.label
            if read.verdict == truth:
                awarded += share
                lines.append(f"✓ {where}: {truth}, as you said.")
            elif read.verdict is None:
                never = "you never read it" if read.opened is None else "you gave no verdict"
                lines.append(f"✗ {where}: {truth}; {never}{': a miss' if case.abnormal else ''}.")
            else:
                what = "a miss" if case.abnormal else "a false alarm"
                lines.append(f"✗ {where}: {truth}; you called it {read.verdict}: {what}.")
            if case.abnormal and read.verdict != "abnormal":
                misses.append(case.label)
            if not case.abnormal and read.verdict == "abnormal":
                alarms.append(case.label)
            results.append(
                {
                    "case": case.label,
                    "truth": truth,
                    "verdict": read.verdict,
                    "opened": read.opened,
                    "at": read.at,
                    "score": case.score,
                    "flagged": case.flagged,
                }
            )
        n_abnormal = sum(c.abnormal for c in cases)
        if n_abnormal:
            lines.append(
                f"Misses: {len(misses)} of {n_abnormal} abnormal case{'s' if n_abnormal != 1 else ''}"
                + (f" ({_names(misses)})." if misses else ".")
            )
        lines.append(f"False alarms: {len(alarms)}" + (f" ({_names(alarms)})." if alarms else "."))
        first = _first_true_positive(cases, reads)
        opened = sorted((r.opened, label) for label, r in reads.items() if r.opened is not None)
        rank = None
        if first is not None:
            label, at = first
            rank = [lab for _, lab in opened].index(label) + 1
            lines.append(
                f"Your first true positive was {label}, the {_ordinal(rank)} case you opened, "
                f"called abnormal at {_clock(at)}."
            )
        elif n_abnormal:
            lines.append("You called no abnormal case abnormal: no true positive.")
        ai_first = _ai_first(cases, reads)
        if ai_first is not None:
            lines.append(ai_first[0])
        by_ai = sorted(range(len(cases)), key=lambda k: -cases[k].score)
        ai_rank = next((r + 1 for r, k in enumerate(by_ai) if cases[k].abnormal), None)
        if ai_rank is not None:
            lines.append(
                f"Read in the AI's order, the first abnormal case would have been the "
                f"{_ordinal(ai_rank)} opened."
            )
        images = {}
        if picture:
            try:
                images["worklist.png"] = worklist_png(cases, reads, shown)
            except Exception:  # a picture never costs the learner the grade
                pass
        details = {
            "cases": results,
            "misses": misses,
            "false_alarms": alarms,
            "opened": [label for _, label in opened],
            "first_true_positive": None
            if first is None
            else {"case": first[0], "seconds": first[1], "rank": rank},
            "flagged_first": None if ai_first is None else ai_first[1],
            "first_abnormal_in_ai_order": ai_rank,
            "scores_shown": scores_shown,
        }
        return Feedback(round(awarded, 2), max_points, None, lines, images, Status.GRADED, details)
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)


def _ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd``.

    >>> [_ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 22)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '22nd']
    """
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _first_true_positive(
    cases: Sequence[WorklistCase], reads: Mapping[str, Read]
) -> tuple[str, float] | None:
    """The abnormal case called abnormal earliest, and when (seconds)."""
    found = [
        (reads[c.label].at, c.label)
        for c in cases
        if c.abnormal
        and c.label in reads
        and reads[c.label].verdict == "abnormal"
        and reads[c.label].at is not None
    ]
    if not found:
        return None
    at, label = min(found)
    return label, float(at)  # type: ignore[arg-type]


def _ai_first(cases: Sequence[WorklistCase], reads: Mapping[str, Read]) -> tuple[str, float] | None:
    """Whether the AI's flagged cases were opened before the others: a sentence and a share.

    The share is that of (flagged, not flagged) pairs where the flagged case
    was opened first (a case never opened counts as opened last): 1 when every
    flagged case came first, 0 when every one came last. None when the AI
    flagged all cases or none.
    """
    flagged = [c for c in cases if c.flagged]
    others = [c for c in cases if not c.flagged]
    if not flagged or not others:
        return None

    def when(c: WorklistCase) -> float:
        r = reads.get(c.label)
        return float("inf") if r is None or r.opened is None else float(r.opened)

    pairs = [(when(f), when(o)) for f in flagged for o in others]
    share = sum(1.0 if a < b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    names = _names([c.label for c in flagged])
    kind = f"flagged case{'s' if len(flagged) != 1 else ''} ({names})"
    if share == 1.0:
        said = f"You read the AI's {kind} before the others."
    elif share == 0.0:
        said = f"You read the AI's {kind} after all the others."
    else:
        said = (
            f"You read the AI's {kind} before the others in {100 * share:.0f} % of pairs "
            "(a flagged case against one not flagged)."
        )
    said += (
        f" Abnormal: {sum(c.abnormal for c in flagged)} of the {len(flagged)} flagged, "
        f"{sum(c.abnormal for c in others)} of the {len(others)} others."
    )
    return said, round(share, 3)


ROW_PX = 64
THUMB_PX = 56
TIMELINE_PX = 320


def worklist_png(
    cases: Sequence[WorklistCase],
    reads: Mapping[str, Read],
    shown: Sequence[int],
) -> bytes:
    """The worklist as shown, one row a case, and the reading on a timeline.

    Each row: the case's thumbnail, its label, the AI's score as a cyan bar
    (a flagged case's bar is outlined), the truth, the learner's verdict
    coloured green when right, red when wrong, gray when not given; on the
    right, the time the case was opened (a hollow ring) and that of its
    verdict (a filled dot in the verdict's colour), from the first case
    opened. A PNG.
    """
    font, small = _font(14), _font(12)
    left = 8 + THUMB_PX + 8
    columns = [left, left + 80, left + 270, left + 360]  # label, AI, truth, verdict
    timeline_x = left + 470
    width = timeline_x + TIMELINE_PX + 20
    height = 30 + ROW_PX * len(shown) + 26
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for x, title in zip(columns, ("case", "AI score", "truth", "your verdict"), strict=True):
        draw.text((x, 8), title, fill=MUTED, font=small)
    # the timeline's legend, its symbols drawn (the default font has no circles)
    draw.ellipse([timeline_x, 10, timeline_x + 10, 20], outline=TEXT, width=2)
    draw.text((timeline_x + 16, 8), "opened", fill=MUTED, font=small)
    draw.ellipse([timeline_x + 70, 10, timeline_x + 80, 20], fill=REFERENCE)
    draw.text(
        (timeline_x + 86, 8), "verdict (seconds from the first opened)", fill=MUTED, font=small
    )
    times = [
        t for r in reads.values() for t in (r.opened, r.at) if t is not None and np.isfinite(t)
    ]
    end = max([*times, 1.0])
    scale = (TIMELINE_PX - 10) / end
    first = _first_true_positive(cases, reads)
    for row, n in enumerate(shown):
        case = cases[n]
        read = reads.get(case.label, Read())
        y = 30 + row * ROW_PX
        if case.thumbnail is not None:
            thumb = Image.fromarray(np.asarray(case.thumbnail, np.uint8)).convert("RGB")
            thumb.thumbnail((THUMB_PX, THUMB_PX))
            image.paste(thumb, (8, y + (ROW_PX - thumb.height) // 2))
        mid = y + ROW_PX // 2
        draw.text((columns[0], mid - 8), case.label, fill=TEXT, font=font)
        bar = int(round(80 * case.score))
        draw.rectangle([columns[1], mid - 6, columns[1] + 80, mid + 6], outline=MUTED)
        if bar:
            draw.rectangle([columns[1], mid - 6, columns[1] + bar, mid + 6], fill=AI)
        said_score = f"{100 * case.score:.0f} %" + (" flagged" if case.flagged else "")
        draw.text((columns[1] + 88, mid - 7), said_score, fill=TEXT, font=small)
        truth = "abnormal" if case.abnormal else "normal"
        draw.text((columns[2], mid - 8), truth, fill=TEXT, font=font)
        colour = UNREAD if read.verdict is None else REFERENCE if read.verdict == truth else WRONG
        said = read.verdict or ("not read" if read.opened is None else "no verdict")
        draw.rectangle([columns[3] - 4, mid - 11, columns[3] + 84, mid + 11], fill=colour)
        draw.text((columns[3], mid - 8), said, fill=(0, 0, 0), font=font)
        draw.line([timeline_x, mid, timeline_x + TIMELINE_PX - 10, mid], fill=(60, 62, 66))
        if read.opened is not None:
            x = timeline_x + read.opened * scale
            draw.ellipse([x - 6, mid - 6, x + 6, mid + 6], outline=TEXT, width=2)
        if read.at is not None:
            x = timeline_x + read.at * scale
            draw.ellipse([x - 5, mid - 5, x + 5, mid + 5], fill=colour)
            if first is not None and first[0] == case.label:
                note = "first true positive"
                right = draw.textbbox((0, 0), note, font=small)[2]
                at = min(max(x - right / 2, timeline_x), width - 4 - right)
                draw.text((at, mid - 26), note, fill=REFERENCE, font=small)
    axis = 30 + ROW_PX * len(shown) + 4
    draw.text((timeline_x, axis), "0 s", fill=MUTED, font=small)
    label = _clock(end)
    draw.text((timeline_x + TIMELINE_PX - 10 - 8 * len(label), axis), label, fill=MUTED, font=small)
    return _png(image)
