"""Grading a follow-up reading: what changed, and the lesion measured on both dates.

For each finding the learner says what changed (:data:`CHANGES`) and draws
the lesion's longest diameter on each date where it is present, as RECIST
measures a target lesion. Each finding earns an equal share of the points,
split equally between its change and each date's diameter:

* the change is right or wrong;
* a diameter counts when the line lies on the lesion (both ends within
  ``tolerance_mm`` of it: not the right length anywhere) and its length is
  within ``tolerance_mm`` of the reference diameter, which is measured from
  the reference outline (:func:`longest_diameter`) unless the instructor
  gives it.

Lines are matched to findings by where they are: a line belongs to the
finding both its ends are nearest to, and when several lines lie on one
finding on one date, the last one drawn counts (docs/decisions.md,
decision 30). The feedback also gives the percent change and the RECIST 1.1-style
response (:func:`recist_response`) from the reference and from the
learner's lines, and a picture of the learner's lines over the reference
outline on both dates (:mod:`dicomteach.grading.render_followup`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.grading._inputs import (
    Problem,
    as_spacing_mm,
    failure,
    internal_error,
    reference_problem,
)
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.grading.points import point_distance
from dicomteach.io.volume import Window
from dicomteach.roi.followup import DATES, Line, Reading, load_reading

__all__ = [
    "CHANGES",
    "CHANGE_WORDS",
    "Diameter",
    "Finding",
    "Response",
    "grade_followup",
    "longest_diameter",
    "recist_response",
]

CHANGES = ("new", "grown", "stable", "shrunk", "resolved")
"""What can have happened to a finding between the baseline and the follow-up."""

CHANGE_WORDS = {
    "new": "is new",
    "grown": "has grown",
    "stable": "is stable",
    "shrunk": "has shrunk",
    "resolved": "has resolved",
}
"""Each change as the feedback says it of a finding ("the nodule has grown")."""

DATE_NAMES = {"baseline": "baseline", "followup": "follow-up"}
"""How each date is written for learners."""

RECIST_RULE = (
    "RECIST 1.1 compares the sums of longest diameters (the baseline being the smallest "
    "so far): progression (PD) is an increase of at least 20 % and at least 5 mm, or a new "
    "lesion; partial response (PR) a decrease of at least 30 %; complete response (CR) "
    "every lesion gone; anything else is stable disease (SD)."
)
"""The rule the feedback states under the responses."""


@dataclass(frozen=True)
class Diameter:
    """The longest in-plane diameter of a lesion: its length and where it lies."""

    length_mm: float
    slice: int
    """The array index of the slice it lies on (axis 0)."""
    ends: tuple[tuple[float, float], tuple[float, float]]
    """``(row, column)`` of its two ends on that slice, at the edges of the lesion's pixels."""


@dataclass(frozen=True)
class Finding:
    """The key of one finding: what changed, and its lesion on each date.

    ``baseline`` and ``followup`` are masks on each date's grid (``None``
    where the lesion is absent: before a new one, after a resolved one);
    ``baseline_mm`` and ``followup_mm`` the reference diameters when the
    instructor gives them, else they are measured from the masks.
    """

    change: str
    baseline: np.ndarray | None = None
    followup: np.ndarray | None = None
    baseline_mm: float | None = None
    followup_mm: float | None = None

    def mask(self, date: str) -> np.ndarray | None:
        return self.baseline if date == "baseline" else self.followup

    def given_mm(self, date: str) -> float | None:
        return self.baseline_mm if date == "baseline" else self.followup_mm


@dataclass(frozen=True)
class Response:
    """A RECIST 1.1-style response between two sums of longest diameters."""

    category: str
    """``"PD"``, ``"SD"``, ``"PR"``, ``"CR"``, or ``"NE"`` (not evaluable: nothing at baseline)."""
    baseline_mm: float
    followup_mm: float
    new_lesion: bool = False

    @property
    def change_mm(self) -> float:
        return self.followup_mm - self.baseline_mm

    @property
    def change_pct(self) -> float:
        return 100.0 * self.change_mm / self.baseline_mm if self.baseline_mm > 0 else float("nan")

    def sentence(self) -> str:
        """The sums, their change and the category, in one clause.

        >>> recist_response(16.0, 20.4).sentence()
        '16.0 mm → 20.4 mm (+27 %, +4.4 mm): stable disease (SD), as the increase is under 5 mm'
        """
        words = {
            "PD": "progressive disease (PD)",
            "SD": "stable disease (SD)",
            "PR": "partial response (PR)",
            "CR": "complete response (CR)",
            "NE": "not evaluable (no lesion at baseline)",
        }[self.category]
        if self.baseline_mm <= 0:
            return f"{words}" + (", a new lesion" if self.new_lesion else "")
        pct, mm = self.change_pct, self.change_mm
        text = (
            f"{self.baseline_mm:.1f} mm → {self.followup_mm:.1f} mm "
            f"({pct:+.0f} %, {mm:+.1f} mm): {words}"
        )
        if self.new_lesion:
            return text + ", because of a new lesion"
        if self.category == "SD" and pct >= 20:
            return text + ", as the increase is under 5 mm"
        return text


def recist_response(
    baseline_mm: float, followup_mm: float, *, new_lesion: bool = False
) -> Response:
    """The RECIST 1.1-style response from two sums of longest diameters (mm).

    With two dates the baseline is the smallest sum so far (RECIST's nadir).
    Progression: +20 % and +5 mm at least, or a new lesion; partial response:
    −30 % at most; complete response: nothing left; else stable disease.

    Examples
    --------
    >>> [recist_response(16.0, f).category for f in (20.4, 21.0, 11.0, 0.0)]
    ['SD', 'PD', 'PR', 'CR']
    >>> recist_response(30.0, 24.0, new_lesion=True).category
    'PD'
    """
    b, f = float(baseline_mm), float(followup_mm)
    if new_lesion:
        category = "PD"
    elif b <= 0:
        category = "NE"
    elif f <= 0:
        category = "CR"
    elif f - b >= 5.0 and (f - b) >= 0.2 * b:
        category = "PD"
    elif f - b <= -0.3 * b:
        category = "PR"
    else:
        category = "SD"
    return Response(category, b, f, new_lesion)


def longest_diameter(mask: np.ndarray, spacing_mm: Sequence[float]) -> Diameter | None:
    """The longest line across the lesion within one slice, edge to edge, in mm.

    On each slice (axis 0, the plane RECIST measures in) the two pixels of
    the lesion farthest apart (centre to centre) are found, and the line
    between them is extended to the outer edges of those two pixels. ``None``
    for an empty mask.

    Examples
    --------
    >>> disc = np.zeros((3, 20, 20), bool)
    >>> rows, cols = np.ogrid[:20, :20]
    >>> disc[1] = (rows - 10) ** 2 + (cols - 10) ** 2 <= 5**2   # 11 pixels across
    >>> d = longest_diameter(disc, (2.5, 0.5, 0.5))
    >>> round(d.length_mm, 2), d.slice, d.ends
    (5.5, 1, ((4.5, 10.0), (15.5, 10.0)))
    """
    from scipy.spatial import ConvexHull, QhullError

    mask = np.asarray(mask, bool)
    if mask.ndim == 2:
        mask = mask[None]
    scale = np.asarray(spacing_mm, float)[-2:]
    best: tuple[float, int, np.ndarray, np.ndarray] | None = None
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        plane = mask[k]
        edge = plane & ~_eroded(plane)
        centres = np.argwhere(edge).astype(float)
        if len(centres) >= 3:
            try:
                centres = centres[ConvexHull(centres * scale).vertices]
            except QhullError:  # all on one line: every pixel is a candidate
                pass
        mm = centres * scale
        gaps = mm[:, None, :] - mm[None, :, :]
        lengths = np.einsum("ijk,ijk->ij", gaps, gaps)
        i, j = np.unravel_index(int(np.argmax(lengths)), lengths.shape)
        if best is None or lengths[i, j] > best[0]:
            best = (float(lengths[i, j]), int(k), centres[i], centres[j])
    if best is None:
        return None
    _, k, a, b = best
    step = (b - a) * scale
    length = float(np.hypot(*step))
    unit = step / length if length > 0 else np.array([0.0, 1.0])
    # the line leaves each end pixel where it first meets that pixel's edge
    with np.errstate(divide="ignore"):
        extent = float(np.min(np.where(unit != 0, scale / np.abs(unit), np.inf)))
    half = unit * extent / 2 / scale
    ends = (tuple(float(v) for v in a - half), tuple(float(v) for v in b + half))
    return Diameter(length + extent, k, ends)  # type: ignore[arg-type]


def _eroded(plane: np.ndarray) -> np.ndarray:
    """Pixels whose four neighbours are all in ``plane`` (the edge is what is left)."""
    inner = plane.copy()
    inner[1:] &= plane[:-1]
    inner[:-1] &= plane[1:]
    inner[:, 1:] &= plane[:, :-1]
    inner[:, :-1] &= plane[:, 1:]
    inner[0] = inner[-1] = False
    inner[:, 0] = inner[:, -1] = False
    return inner


# ---------------------------------------------------------------------- grading


@dataclass
class _Measured:
    """One finding on one date: the reference, and the learner's line counted for it."""

    reference_mm: float
    reference: Diameter | None
    line: Line | None = None
    line_mm: float | None = None
    ends_mm: tuple[float, float] | None = None
    nearest_mm: float | None = None
    """Without a line on it: how far the nearest line's farther end is."""

    def right(self, tolerance_mm: float) -> bool:
        return self.line_mm is not None and abs(self.line_mm - self.reference_mm) <= tolerance_mm


def _reading(answer: object) -> Reading:
    if answer is None:
        raise Problem("No answer was found: measure the lesion and say what changed.")
    if isinstance(answer, str | os.PathLike):
        name = os.path.basename(os.fspath(answer))
        if not os.path.exists(answer):
            raise Problem(
                f"No answer was found: measure the lesion and say what changed (your answer "
                f"file '{name}' was not found)."
            )
        try:
            answer = load_reading(answer)
        except DicomTeachError as exc:
            raise Problem(
                f"Your answer file '{name}' could not be read ({exc.problem}): "
                "answer again in the activity."
            ) from None
    if not isinstance(answer, Reading):
        raise Problem(f"Your answer is not a follow-up reading ({type(answer).__name__}).")
    return answer


def _line_mm(line: Line, spacing: tuple[float, ...]) -> float:
    a, b = (np.asarray(end, float) for end in line.image)
    return float(np.linalg.norm((b - a) * np.asarray(spacing)))


def _findings(findings: object, shapes: dict[str, tuple[int, ...] | None]) -> dict[str, Finding]:
    if not isinstance(findings, Mapping) or not findings:
        raise reference_problem("findings must be a non-empty mapping of names to Finding")
    out = {}
    for name, finding in findings.items():
        if not isinstance(finding, Finding) or finding.change not in CHANGES:
            raise reference_problem(
                f"finding {name!r} must be a Finding with a change in {CHANGES}"
            )
        for date in DATES:
            mask = finding.mask(date)
            if mask is None:
                continue
            mask = np.asarray(mask)
            if mask.ndim != 3 or mask.dtype != np.bool_ or not mask.any():
                raise reference_problem(f"finding {name!r}: its {date} mask is empty or not 3D")
            if shapes[date] is not None and mask.shape != shapes[date]:
                raise reference_problem(
                    f"finding {name!r}: its {date} mask is {mask.shape}, not {shapes[date]}"
                )
        present = [finding.mask(d) is not None for d in DATES]
        expected = {"new": [False, True], "resolved": [True, False]}.get(finding.change, [True] * 2)
        if present != expected:
            raise reference_problem(
                f"finding {name!r} {CHANGE_WORDS[finding.change]} but has a lesion on "
                f"{' and '.join(d for d, p in zip(DATES, present, strict=True) if p) or 'no date'}"
            )
        out[str(name)] = finding
    return out


def _measure(
    reading: Reading,
    findings: dict[str, Finding],
    spacings: dict[str, tuple[float, ...]],
    tolerance_mm: float,
) -> tuple[dict[tuple[str, str], _Measured], list[tuple[Line, float]]]:
    """Each finding's reference diameter per date, the line counted for it, and lines on none."""
    measured: dict[tuple[str, str], _Measured] = {}
    for name, finding in findings.items():
        for date in DATES:
            mask = finding.mask(date)
            if mask is None:
                continue
            diameter = longest_diameter(mask, spacings[date])
            given = finding.given_mm(date)
            assert diameter is not None
            measured[name, date] = _Measured(
                given if given is not None else diameter.length_mm, diameter
            )
    astray: list[tuple[Line, float]] = []
    for line in reading.lines:
        spacing = spacings[line.date]
        reach = {}
        for name, finding in findings.items():
            mask = finding.mask(line.date)
            if mask is not None:
                ends = tuple(point_distance(end, mask, spacing)[0] for end in line.image)
                reach[name] = ends
        on = {n: max(e) for n, e in reach.items() if max(e) <= tolerance_mm}
        if not on:
            nearest = min((max(e) for e in reach.values()), default=float("inf"))
            astray.append((line, nearest))
            for name in reach:
                m = measured[name, line.date]
                m.nearest_mm = min(m.nearest_mm or np.inf, max(reach[name]))
            continue
        name = min(on, key=lambda n: (on[n], list(findings).index(n)))
        m = measured[name, line.date]
        m.line, m.line_mm, m.ends_mm = line, _line_mm(line, spacing), reach[name]
    return measured, astray


def _change_line(name: str, said: object, finding: Finding) -> tuple[bool, str]:
    truth = CHANGE_WORDS[finding.change]
    if said is None:
        return False, f"✗ {name}: you did not say what changed; it {truth}."
    if said not in CHANGES:
        return False, f"✗ {name}: {str(said)[:40]!r} is not one of {', '.join(CHANGES)}."
    if said == finding.change:
        return True, f"✓ {name} {truth}."
    return False, f"✗ {name}: you said it {CHANGE_WORDS[str(said)]}; it {truth}."


def _diameter_line(name: str, date: str, m: _Measured, tolerance_mm: float) -> str:
    where = f"{name} on the {DATE_NAMES[date]}"
    if m.line_mm is None:
        near = (
            f" (the farther end of your nearest line is {m.nearest_mm:.1f} mm from it; "
            f"{tolerance_mm:g} mm allowed)"
            if m.nearest_mm is not None and np.isfinite(m.nearest_mm)
            else ""
        )
        return f"✗ {where}: not measured: no line of yours lies on it{near}."
    gap = m.line_mm - m.reference_mm
    said = f"your line is {m.line_mm:.1f} mm, the reference diameter {m.reference_mm:.1f} mm"
    if abs(gap) <= tolerance_mm:
        return f"✓ {where}: {said} ({tolerance_mm:g} mm allowed)."
    how = "too long" if gap > 0 else "too short"
    return f"✗ {where}: {said}: {abs(gap):.1f} mm {how} ({tolerance_mm:g} mm allowed)."


def _responses(
    findings: dict[str, Finding],
    measured: dict[tuple[str, str], _Measured],
    changes: Mapping[str, object],
) -> tuple[Response, Response | None]:
    """The reference's response, and the learner's when they measured every lesion it needs."""
    targets = [n for n, f in findings.items() if f.baseline is not None]
    new = any(f.change == "new" for f in findings.values())

    def total(date: str, learner: bool) -> float | None:
        values = []
        for name in targets:
            m = measured.get((name, date))
            if m is None:  # resolved: nothing left to measure
                continue
            values.append(m.line_mm if learner else m.reference_mm)
        return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]

    reference = recist_response(
        total("baseline", False) or 0.0, total("followup", False) or 0.0, new_lesion=new
    )
    b, f = total("baseline", True), total("followup", True)
    said_new = any(changes.get(n) == "new" for n in findings)
    learner = None if b is None or f is None else recist_response(b, f, new_lesion=said_new)
    return reference, learner


def grade_followup(
    answer: object,
    findings: Mapping[str, Finding],
    baseline_spacing: Sequence[float],
    followup_spacing: Sequence[float],
    points: float = 1.0,
    tolerance_mm: float = 3.0,
    *,
    baseline_image: np.ndarray | None = None,
    followup_image: np.ndarray | None = None,
    window: Window | None = None,
    draw: bool = True,
) -> Feedback:
    """Points for a follow-up reading: each finding's change, and its diameter on each date.

    Parameters
    ----------
    answer : Reading or path to the reading's JSON
        The learner's changes and lines (:mod:`dicomteach.roi.followup`).
    findings : {name: Finding}
        The key: each finding's change and its lesion on each date's grid.
    baseline_spacing, followup_spacing : sequence of 3 floats
        Voxel size (mm) of each date's grid ``(slice, row, column)``.
    tolerance_mm : float, default 3
        How far a diameter may be from the reference's, and a line's ends
        from the lesion.
    baseline_image, followup_image : arrays, optional
        Modality values on each grid, drawn under the picture through ``window``.
    draw : bool
        Make the picture (``followup.png``: the learner's lines over the
        reference outline on both dates).

    Never raises: a missing or unreadable answer gets 0 points and one line.

    Examples
    --------
    >>> from dicomteach.roi.followup import Line, Reading
    >>> k, r, c = np.ogrid[:5, :40, :40]
    >>> before = (k == 2) & ((r - 20) ** 2 + (c - 20) ** 2 <= 5**2)   # 11 pixels across
    >>> after = (k == 2) & ((r - 20) ** 2 + (c - 20) ** 2 <= 8**2)    # 17 pixels across
    >>> key = {"nodule": Finding("grown", before, after)}
    >>> lines = [Line("baseline", ((2, 20, 14.5), (2, 20, 25.5))),
    ...          Line("followup", ((2, 20, 12.0), (2, 20, 27.0)))]
    >>> f = grade_followup(Reading("1.2", "1.3", {"nodule": "grown"}, lines), key,
    ...                    (2.5, 1, 1), (2.5, 1, 1), points=3, draw=False)
    >>> print(f)  # doctest: +NORMALIZE_WHITESPACE
    3 / 3 points
    ✓ nodule has grown.
    ✓ nodule on the baseline: your line is 11.0 mm, the reference diameter 11.0 mm (3 mm allowed).
    ✓ nodule on the follow-up: your line is 15.0 mm, the reference diameter 17.0 mm (3 mm allowed).
    Reference: sum of longest diameters 11.0 mm → 17.0 mm (+55 %, +6.0 mm): progressive disease (PD).
    Yours: 11.0 mm → 15.0 mm (+36 %, +4.0 mm): stable disease (SD), as the increase is under 5 mm.
    RECIST 1.1 compares the sums of longest diameters (the baseline being the smallest so far): progression (PD) is an increase of at least 20 % and at least 5 mm, or a new lesion; partial response (PR) a decrease of at least 30 %; complete response (CR) every lesion gone; anything else is stable disease (SD).
    """
    max_points = float(points)
    try:
        spacings = {
            "baseline": as_spacing_mm(baseline_spacing, 3),
            "followup": as_spacing_mm(followup_spacing, 3),
        }
        shapes = {
            "baseline": None if baseline_image is None else tuple(np.shape(baseline_image)),
            "followup": None if followup_image is None else tuple(np.shape(followup_image)),
        }
        key = _findings(findings, shapes)
        reading = _reading(answer)
        if not reading.lines and not any(v is not None for v in reading.changes.values()):
            raise Problem("Your answer is empty: measure the lesion and say what changed.")
        measured, astray = _measure(reading, key, spacings, tolerance_mm)
        share = max_points / len(key)
        awarded, lines, results = 0.0, [], {}
        for name, finding in key.items():
            dates = [d for d in DATES if (name, d) in measured]
            part = share / (1 + len(dates))
            right, text = _change_line(name, reading.changes.get(name), finding)
            lines.append(text)
            earned = part if right else 0.0
            result: dict = {"change": reading.changes.get(name), "change_right": right}
            for date in dates:
                m = measured[name, date]
                lines.append(_diameter_line(name, date, m, tolerance_mm))
                ok = m.right(tolerance_mm)
                earned += part if ok else 0.0
                result[date] = {
                    "line_mm": m.line_mm,
                    "reference_mm": m.reference_mm,
                    "right": ok,
                }
            result["correct"] = bool(np.isclose(earned, share))
            results[name] = result
            awarded += earned
        if astray:
            n = len(astray)
            lines.append(
                f"{n} of your lines {'is' if n == 1 else 'are'} on no finding and "
                f"{'was' if n == 1 else 'were'} not graded: "
                + "; ".join(
                    f"{_line_mm(line, spacings[line.date]):.1f} mm on the {DATE_NAMES[line.date]}"
                    for line, _ in astray[:5]
                )
                + ("…" if n > 5 else "")
                + "."
            )
        reference, learner = _responses(key, measured, reading.changes)
        lines.append(f"Reference: sum of longest diameters {reference.sentence()}.")
        if learner is not None:
            lines.append(f"Yours: {learner.sentence()}.")
        lines.append(RECIST_RULE)
        details = {
            "findings": results,
            "recist": {"reference": reference.category},
        }
        if learner is not None:
            details["recist"]["yours"] = learner.category
        images: dict[str, bytes] = {}
        if draw:
            from dicomteach.grading.render_followup import followup_png

            try:
                images["followup.png"] = followup_png(
                    {
                        name: {d: measured[name, d] for d in DATES if (name, d) in measured}
                        for name in key
                    },
                    key,
                    [line for line, _ in astray],
                    spacings,
                    {"baseline": baseline_image, "followup": followup_image},
                    window,
                )
            except Exception as exc:  # a picture is not worth an autograde
                details["render_problem"] = f"{type(exc).__name__}: {exc}"
        return Feedback(round(awarded, 2), max_points, None, lines, images, Status.GRADED, details)
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)
