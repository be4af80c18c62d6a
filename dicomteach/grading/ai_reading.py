"""Grading a reading made beside an AI: what a second reader changed, and a critique of its marks.

An AI's mark reaches grading as an :class:`OtherMark`: where it is, how sure
the model was, and the reference finding it lies on (None: a false
positive), judged by the activity that ran the model. Two graders:

* :func:`grade_second_reading`: the learner read first, then saw the AI's
  marks and may have revised. Points are the revised reading's
  (:func:`~dicomteach.grading.grade_click`); the first reading is graded
  alike and shown beside it. Every change between the two readings, and
  every error of the AI the learner ended up agreeing with, is named: which
  changes followed the AI rightly (a finding it marked added, a click on
  nothing removed where it marked nothing), which wrongly (a click added on
  its false positive, a finding removed that it left unmarked, a miss kept
  that it missed too), and which were the learner's own.
* :func:`grade_critique`: the learner said of each AI mark whether it is a
  finding (a true positive) or not; each right verdict earns its share.

Both draw the places that matter as tiles (:mod:`dicomteach.grading.render_ai`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.grading._inputs import Problem, failure, internal_error, reference_problem
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.grading.points import _spacing, _targets, grade_click, point_distance
from dicomteach.io.volume import Window
from dicomteach.roi import Answer, Point, load_answer

__all__ = ["OtherMark", "grade_critique", "grade_second_outline", "grade_second_reading"]

SAME_PLACE_MM = 8.0
"""Two clicks of the two readings this close (mm) are one click kept (perhaps nudged)."""


@dataclass(frozen=True)
class OtherMark:
    """A mark of another reader (an AI's candidate), as grading sees it.

    ``image`` is its centre (frame, row, column: array indices), ``radius_mm``
    half its diameter, ``finding`` the reference finding it lies on, or None
    for a false positive.
    """

    image: tuple[float, float, float]
    radius_mm: float
    probability: float
    finding: str | None

    @property
    def text(self) -> str:
        """How the mark is labelled on the image: ``"AI 97 %"``."""
        return f"AI {100 * self.probability:.0f} %"


def _answer(answer: object) -> Answer:
    if isinstance(answer, Answer):
        return answer
    if not isinstance(answer, str | os.PathLike):
        raise Problem(f"Your answer is not a reading ({type(answer).__name__}).")
    name = os.path.basename(os.fspath(answer))
    if not os.path.exists(answer):
        raise Problem(f"Your answer file '{name}' was not found: read the image and save.")
    try:
        return load_answer(answer)
    except DicomTeachError as exc:
        raise Problem(
            f"Your answer file '{name}' could not be read ({exc.problem}): answer again "
            "in the activity."
        ) from None


def _mm(point: Sequence[float], spacing: Sequence[float]) -> np.ndarray:
    return np.asarray(point, float) * np.asarray(spacing, float)


def _on_mark(click: Point, marks: Sequence[OtherMark], spacing, tolerance_mm: float) -> int | None:
    """The mark a click is on (its outline reached within the tolerance), nearest first."""
    best, nearest = None, np.inf
    for n, mark in enumerate(marks):
        distance = float(np.linalg.norm(_mm(click.image, spacing) - _mm(mark.image, spacing)))
        if distance <= mark.radius_mm + tolerance_mm and distance < nearest:
            best, nearest = n, distance
    return best


def _on_finding(click: Point, targets: Mapping[str, np.ndarray], spacing, tolerance_mm) -> bool:
    return any(point_distance(click.image, m, spacing)[0] <= tolerance_mm for m in targets.values())


def _kept(click: Point, others: Sequence[Point], spacing) -> bool:
    here = _mm(click.image, spacing)
    return any(np.linalg.norm(here - _mm(o.image, spacing)) <= SAME_PLACE_MM for o in others)


def _slice_of(mask: np.ndarray) -> int:
    return int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))


def grade_second_reading(
    answer: object,
    targets: Mapping[str, np.ndarray],
    marks: Sequence[OtherMark],
    spacing_mm: Sequence[float],
    points: float = 1.0,
    tolerance_mm: float = 5.0,
    *,
    direction: np.ndarray | None = None,
    max_clicks: int | None = None,
    penalty_per_extra_click: float = 0.0,
    image: np.ndarray | None = None,
    window: Window | None = None,
) -> Feedback:
    """Points for the revised reading, and what each change owed to the AI's marks.

    Parameters
    ----------
    answer : Answer or path
        The reading (``points``, as revised) and the first reading
        (``first_points``, kept when the AI's marks were shown).
    targets : {name: mask}
        The reference findings.
    marks : sequence of OtherMark
        What the AI showed, each judged against the same findings.
    image, window : optional
        The image's modality values (an array, or anything with a ``shape``
        that gives ``[slice, rows, columns]``) and a window, for the picture.

    The other parameters are :func:`~dicomteach.grading.grade_click`'s, which
    grades both readings. Never raises.

    Examples
    --------
    >>> a = np.zeros((3, 40, 40), bool); a[1, 8:12, 8:12] = True
    >>> b = np.zeros((3, 40, 40), bool); b[1, 28:32, 28:32] = True
    >>> marks = [OtherMark((1.0, 10.0, 10.0), 2.0, 0.97, "nodule A"),
    ...          OtherMark((1.0, 20.0, 30.0), 2.0, 0.81, None)]
    >>> reading = Answer("1.2.3", [Point((1.0, 10.0, 10.0)), Point((1.0, 20.0, 30.0))],
    ...                  first_points=[Point((1.0, 30.0, 30.0))])
    >>> f = grade_second_reading(reading, {"nodule A": a, "nodule B": b}, marks, (1, 1, 1),
    ...                          points=2, tolerance_mm=2, max_clicks=4)
    >>> f.points, f.details["first_points"]
    (1.0, 1.0)
    >>> for line in f.lines[1:4]: print(line)
    ✓ nodule A: added after the AI marked it (AI 97 %): you followed the AI rightly.
    ✗ nodule B: you had found it and removed it after the AI left it unmarked: you followed the AI wrongly.
    ✗ slice 2: a click added on the AI's false positive (AI 81 %): you followed the AI wrongly.
    """
    max_points = float(points)
    try:
        reading = _answer(answer)
        found = _targets(targets)
        spacing = _spacing(spacing_mm)
        options = {
            "direction": direction,
            "max_clicks": max_clicks,
            "penalty_per_extra_click": penalty_per_extra_click,
        }
        final = grade_click(reading, found, spacing, max_points, tolerance_mm, **options)
        if final.status != Status.GRADED:
            return final
        after = list(reading.points)[:max_clicks] if max_clicks else list(reading.points)
        if reading.first_points is None:
            lines = [
                "You did not ask to see the AI ('Show me the AI'): your reading is graded "
                "alone, with no second reader to compare.",
                *final.lines,
            ]
            return Feedback(
                final.points,
                max_points,
                None,
                lines,
                {},
                Status.GRADED,
                {**final.details, "first_points": None, "changes": [], "ai_errors": []},
            )
        before = (
            list(reading.first_points)[:max_clicks] if max_clicks else list(reading.first_points)
        )
        first = grade_click(
            Answer(reading.series_uid, before), found, spacing, max_points, tolerance_mm, **options
        )
        first_points = first.points if first.status == Status.GRADED else 0.0
        was = {n: bool(first.details.get("findings", {}).get(n, {}).get("found")) for n in found}
        now = {n: bool(final.details["findings"][n]["found"]) for n in found}
        marked = {n: [m for m in marks if m.finding == n] for n in found}
        changes, errors = [], []
        for name, mask in found.items():
            k = _slice_of(mask) + 1
            ai = marked[name]
            p = f"AI {100 * max(m.probability for m in ai):.0f} %" if ai else ""
            change = None
            if not was[name] and now[name]:
                change = (
                    (
                        "added-marked",
                        True,
                        True,
                        f"✓ {name}: added after the AI marked it ({p}): "
                        "you followed the AI rightly.",
                    )
                    if ai
                    else (
                        "added-own",
                        True,
                        False,
                        f"✓ {name}: added on your own; the AI did not mark it.",
                    )
                )
            elif was[name] and not now[name]:
                change = (
                    (
                        "removed-marked",
                        False,
                        False,
                        f"✗ {name}: you had found it and removed it, "
                        f"although the AI marked it too ({p}).",
                    )
                    if ai
                    else (
                        "removed-unmarked",
                        False,
                        True,
                        f"✗ {name}: you had found it and "
                        "removed it after the AI left it unmarked: you followed the AI wrongly.",
                    )
                )
            elif not was[name] and not now[name]:
                change = (
                    (
                        "missed-marked",
                        False,
                        False,
                        f"✗ {name}: missed, although the AI marked it ({p}); look at slice {k}.",
                    )
                    if ai
                    else (
                        "missed-unmarked",
                        False,
                        True,
                        f"✗ {name}: missed, and the AI missed it "
                        f"too: a miss kept that the AI also missed (slice {k}).",
                    )
                )
            if change is not None:
                kind, right, followed, line = change
                changes.append(
                    {
                        "kind": kind,
                        "finding": name,
                        "slice": k,
                        "right": right,
                        "followed_ai": followed,
                        "line": line,
                    }
                )
            if not ai:  # an AI miss: did the learner end up agreeing (not finding it)?
                errors.append(
                    {
                        "error": "miss",
                        "finding": name,
                        "slice": k,
                        "agreed_before": not was[name],
                        "agreed_after": not now[name],
                    }
                )
        false_before = [c for c in before if not _on_finding(c, found, spacing, tolerance_mm)]
        false_after = [c for c in after if not _on_finding(c, found, spacing, tolerance_mm)]
        for click in false_after:
            if _kept(click, false_before, spacing):
                continue
            k = int(round(click.image[0])) + 1
            on = _on_mark(click, marks, spacing, tolerance_mm)
            if on is not None and marks[on].finding is None:
                kind, followed = "added-false-marked", True
                line = (
                    f"✗ slice {k}: a click added on the AI's false positive "
                    f"({marks[on].text}): you followed the AI wrongly."
                )
            else:
                kind, followed = "added-false-own", False
                line = f"✗ slice {k}: a click added where there is no finding; the AI marked nothing there."
            changes.append(
                {
                    "kind": kind,
                    "finding": None,
                    "slice": k,
                    "right": False,
                    "followed_ai": followed,
                    "line": line,
                    "image": list(click.image),
                }
            )
        for click in false_before:
            if _kept(click, false_after, spacing):
                continue
            k = int(round(click.image[0])) + 1
            on = _on_mark(click, marks, spacing, tolerance_mm)
            if on is None:
                kind, followed = "removed-false-unmarked", True
                line = (
                    f"✓ slice {k}: your click on no finding removed, where the AI marked "
                    "nothing: you followed the AI rightly."
                )
            else:
                kind, followed = "removed-false-marked", False
                line = (
                    f"✓ slice {k}: your click on no finding removed, although the AI marked it too."
                )
            changes.append(
                {
                    "kind": kind,
                    "finding": None,
                    "slice": k,
                    "right": True,
                    "followed_ai": followed,
                    "line": line,
                    "image": list(click.image),
                }
            )
        for n, mark in enumerate(marks):
            if mark.finding is not None:
                continue
            on_before = any(_on_mark(c, [mark], spacing, tolerance_mm) == 0 for c in before)
            on_after = any(_on_mark(c, [mark], spacing, tolerance_mm) == 0 for c in after)
            errors.append(
                {
                    "error": "false positive",
                    "mark": n,
                    "slice": int(round(mark.image[0])) + 1,
                    "probability": round(mark.probability, 4),
                    "agreed_before": on_before,
                    "agreed_after": on_after,
                }
            )
        rightly = sum(c["right"] and c["followed_ai"] for c in changes)
        wrongly = sum(not c["right"] and c["followed_ai"] for c in changes)
        summary = (
            f"Your reading after the AI: {final.points:g} / {max_points:g} points "
            f"(before it: {first_points:g}). "
            f"{rightly} change{'s' if rightly != 1 else ''} followed the AI rightly, "
            f"{wrongly} wrongly."
        )
        lines = [summary, *(c["line"] for c in changes)]
        if not changes:
            lines.append(
                "You changed nothing after seeing the AI, and missed nothing it could show."
            )
        lines += [f"Your revised reading: {line}" for line in final.lines]
        details = {
            **final.details,
            "first_points": first_points,
            "first_findings": first.details.get("findings", {}),
            "changes": changes,
            "ai_errors": errors,
            "followed_rightly": rightly,
            "followed_wrongly": wrongly,
        }
        images = {}
        try:
            from dicomteach.grading.render_ai import readings_png

            images["readings.png"] = readings_png(
                found, marks, before, after, spacing, image=image, window=window
            )
        except Exception:  # a picture never costs the learner the grade
            pass
        return Feedback(final.points, max_points, None, lines, images, Status.GRADED, details)
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)


VERDICTS = ("true", "false")
"""A critique's verdict on one mark: a finding (true positive) or not (false positive)."""


def grade_critique(
    verdicts: Sequence[str | None],
    marks: Sequence[OtherMark],
    points: float = 1.0,
    *,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    image: np.ndarray | None = None,
    window: Window | None = None,
) -> Feedback:
    """Points for the verdicts on an AI's marks: each right one earns ``points / len(marks)``.

    ``verdicts[n]`` is ``"true"`` (the mark is on a finding), ``"false"``
    (a false positive) or None (not judged) for ``marks[n]``. Never raises.

    >>> marks = [OtherMark((1.0, 10.0, 10.0), 2.0, 0.99, "nodule"),
    ...          OtherMark((1.0, 20.0, 30.0), 2.0, 0.81, None)]
    >>> f = grade_critique(["true", "true"], marks, points=2)
    >>> print(f)
    1 / 2 points
    ✓ Mark 1 (AI 99 %, slice 2): a finding (nodule), as you said.
    ✗ Mark 2 (AI 81 %, slice 2): you called it a finding; it is a false positive.
    """
    max_points = float(points)
    try:
        if not marks:
            raise reference_problem("the AI marked nothing on this image: nothing to critique")
        if len(verdicts) != len(marks):
            raise Problem(
                f"Your answer judges {len(verdicts)} marks and the AI made {len(marks)}: "
                "answer again in the activity."
            )
        share = max_points / len(marks)
        awarded, lines, wrong, results = 0.0, [], [], []
        for n, (said, mark) in enumerate(zip(verdicts, marks, strict=True)):
            truth = "true" if mark.finding is not None else "false"
            where = f"Mark {n + 1} ({mark.text}, slice {int(round(mark.image[0])) + 1})"
            what = f"a finding ({mark.finding})" if mark.finding else "a false positive"
            if said is None:
                lines.append(f"✗ {where}: not judged; it is {what}.")
            elif said == truth:
                awarded += share
                lines.append(f"✓ {where}: {what}, as you said.")
            else:
                called = "a finding" if said == "true" else "a false positive"
                lines.append(f"✗ {where}: you called it {called}; it is {what}.")
            if said != truth:
                wrong.append(n)
            results.append({"verdict": said, "truth": truth, "probability": mark.probability})
        images = {}
        if wrong and image is not None:
            try:
                from dicomteach.grading.render_ai import marks_png

                images["wrong-marks.png"] = marks_png(
                    [marks[n] for n in wrong],
                    [
                        f"mark {n + 1}: {results[n]['truth'] == 'true' and 'a finding' or 'false positive'}"
                        for n in wrong
                    ],
                    _spacing(spacing_mm),
                    image=image,
                    window=window,
                )
            except Exception:  # a picture never costs the learner the grade
                pass
        return Feedback(
            round(awarded, 2),
            max_points,
            None,
            lines,
            images,
            Status.GRADED,
            {"marks": results, "wrong": wrong},
        )
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)


CHANGE_DICE = 0.02
"""A change of Dice smaller than this is no change (a stroke's worth on a small nodule)."""


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def grade_second_outline(
    final: Feedback,
    first: np.ndarray | None,
    revised: np.ndarray,
    ai: np.ndarray | None,
    reference: np.ndarray,
    spacing_mm: Sequence[float],
    *,
    image: np.ndarray | None = None,
    window: Window | None = None,
) -> Feedback:
    """A revised outline's feedback (``final``, from :func:`~dicomteach.grading.grade_delineation`)
    with what the change after seeing the AI's outline owed to it.

    ``first`` and ``revised`` are the learner's masks before and after the AI's
    outline ``ai`` (None: it outlined nothing there) was shown, ``reference``
    the reference's. The change followed the AI when the outline came closer
    to the AI's (Dice); rightly when it also came closer to the reference.
    The points are ``final``'s. Never raises.

    >>> ref = np.zeros((3, 30, 30), bool); ref[1, 10:20, 10:20] = True
    >>> ai = np.zeros_like(ref); ai[1, 10:20, 11:20] = True
    >>> small = np.zeros_like(ref); small[1, 12:16, 12:16] = True
    >>> f = grade_second_outline(Feedback(9.0, 10.0, lines=["Dice 0.95."]), small, ai, ai, ref,
    ...                          (1, 1, 1))
    >>> print(f.lines[0])
    Your outline after the AI: Dice 0.95 with the reference (before it: 0.28); the AI's own: 0.95.
    >>> print(f.lines[1])
    ✓ Your outline came closer to the AI's (Dice 0.30 → 1.00) and to the reference: you followed the AI rightly.
    """
    try:
        if final.status != Status.GRADED:
            return final
        revised = np.asarray(revised, bool)
        reference = np.asarray(reference, bool)
        after = _dice(revised, reference)
        if first is None:
            lines = [
                "You did not ask to see the AI ('Show me the AI'): your outline is graded "
                "alone, with no second reader to compare.",
                *final.lines,
            ]
            return Feedback(
                final.points, final.max_points, final.scores, lines, final.images, final.status,
                {**final.details, "first_dice": None, "change": None},
            )  # fmt: skip
        first = np.asarray(first, bool)
        before = _dice(first, reference)
        ai_dice = None if ai is None else _dice(np.asarray(ai, bool), reference)
        head = (
            f"Your outline after the AI: Dice {after:.2f} with the reference (before it: "
            f"{before:.2f}); "
            + (
                "the AI outlined nothing there."
                if ai_dice is None
                else f"the AI's own: {ai_dice:.2f}."
            )
        )
        change, right, followed = "kept", None, None
        if ai is None:
            line = "The AI drew no outline here: any change was your own."
            if abs(after - before) >= CHANGE_DICE:
                change, right, followed = "own", after > before, False
        else:
            ai = np.asarray(ai, bool)
            towards_before, towards_after = _dice(first, ai), _dice(revised, ai)
            moved = towards_after - towards_before
            better = after - before
            if abs(better) < CHANGE_DICE and abs(moved) < CHANGE_DICE:
                line = "You kept your outline" + (
                    f"; the AI's was closer to the reference ({ai_dice:.2f} against your "
                    f"{after:.2f})."
                    if ai_dice is not None and ai_dice > after + CHANGE_DICE
                    else "."
                )
            elif moved >= CHANGE_DICE:
                change, followed, right = "towards the AI", True, better > -CHANGE_DICE / 2
                line = (
                    f"{'✓' if right else '✗'} Your outline came closer to the AI's (Dice "
                    f"{towards_before:.2f} → {towards_after:.2f}) and "
                    + (
                        "to the reference: you followed the AI rightly."
                        if right
                        else "further from the reference: you followed the AI wrongly."
                    )
                )
            else:
                change, followed, right = "own", False, better > 0
                line = (
                    f"{'✓' if right else '✗'} You changed your outline on your own (not towards "
                    f"the AI's), and it came {'closer to' if right else 'further from'} the "
                    "reference."
                )
        images = dict(final.images)
        try:
            from dicomteach.grading.render_ai import outlines_png

            images = {
                "outlines.png": outlines_png(
                    first, revised, ai, reference, _spacing(spacing_mm), image=image, window=window
                ),
                **images,
            }
        except Exception:  # a picture never costs the learner the grade
            pass
        details = {
            **final.details,
            "first_dice": round(before, 4),
            "revised_dice": round(after, 4),
            "ai_dice": None if ai_dice is None else round(ai_dice, 4),
            "change": change,
            "followed_ai": followed,
            "right": right,
        }
        lines = [head, line, *(f"Your revised outline: {x}" for x in final.lines)]
        return Feedback(
            final.points, final.max_points, final.scores, lines, images, final.status, details
        )
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, final.max_points)
