"""The picture of a follow-up reading's feedback: the learner's lines over the reference lesion.

One row per finding, one panel per date (baseline, follow-up), each cropped
round the lesion on the slice the learner measured on (else the slice of the
reference diameter). The colours are those of :mod:`dicomteach.grading.render`:
the reference outline green, drawn just outside the lesion, with the reference
diameter as a thin green line; the learner's line counted for the finding
yellow; a line of theirs that lies on no finding red.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

from dicomteach.grading.render import (
    ANSWER,
    BACKGROUND,
    MUTED,
    NO_IMAGE_GRAY,
    REFERENCE,
    TEXT,
    TOO_LARGE,
    _font,
    _png,
    _ring,
    _shadowed,
    _up,
)
from dicomteach.imaging import window_to_uint8
from dicomteach.io.volume import Window
from dicomteach.roi.followup import DATES, Line

if TYPE_CHECKING:
    from dicomteach.grading.followup import Finding, _Measured

__all__ = ["followup_png"]

PANEL_PX = 260
"""Longest side of one panel, in pixels."""

MARGIN_MM = 10.0
"""Space shown round the lesion and the lines."""

_DATE_NAMES = {"baseline": "Baseline", "followup": "Follow-up"}


def _slice_of(line: Line) -> int:
    return int(round(float(np.mean([end[0] for end in line.image]))))


def _box(
    points: list[tuple[float, float]], shape: tuple[int, int], spacing: tuple[float, ...]
) -> tuple[slice, slice]:
    rows = [p[0] for p in points]
    cols = [p[1] for p in points]
    mr, mc = MARGIN_MM / spacing[1], MARGIN_MM / spacing[2]
    r0 = max(0, int(np.floor(min(rows) - mr)))
    r1 = min(shape[0], int(np.ceil(max(rows) + mr)) + 1)
    c0 = max(0, int(np.floor(min(cols) - mc)))
    c1 = min(shape[1], int(np.ceil(max(cols) + mc)) + 1)
    return slice(r0, max(r1, r0 + 1)), slice(c0, max(c1, c0 + 1))


@dataclass
class _Plan:
    """One date's panel: what it shows, on which slice, and the crop."""

    date: str
    measured: _Measured | None
    mask: np.ndarray | None
    stray: Line | None
    spacing: tuple[float, ...]
    image: np.ndarray | None
    slice: int
    rows: slice
    cols: slice

    @property
    def size_mm(self) -> float:
        height = (self.rows.stop - self.rows.start) * self.spacing[1]
        return max(height, (self.cols.stop - self.cols.start) * self.spacing[2])


def _plan(
    date: str,
    measured: _Measured | None,
    mask: np.ndarray | None,
    stray: Line | None,
    spacing: tuple[float, ...],
    image: np.ndarray | None,
) -> _Plan:
    """The slice the learner measured on (else the reference diameter's) and a crop round it."""
    line = measured.line if measured is not None else None
    diameter = measured.reference if measured is not None else None
    shown = line or stray
    k = _slice_of(shown) if shown is not None else diameter.slice if diameter is not None else 0
    shape = (
        tuple(np.shape(image)) if image is not None else mask.shape if mask is not None else None
    )
    if shape is None:
        ends = [end for end in shown.image] if shown is not None else [(0.0, 32.0, 32.0)]
        shape = (k + 1, int(max(e[1] for e in ends)) + 32, int(max(e[2] for e in ends)) + 32)
    k = int(np.clip(k, 0, shape[0] - 1))
    points: list[tuple[float, float]] = []
    if mask is not None and mask[k].any():
        rr, cc = np.nonzero(mask[k])
        points += [(float(rr.min()), float(cc.min())), (float(rr.max()), float(cc.max()))]
    elif diameter is not None:
        points += list(diameter.ends)
    for drawn in (line, stray):
        if drawn is not None:
            points += [(end[1], end[2]) for end in drawn.image]
    if not points:
        points = [(shape[1] / 2, shape[2] / 2)]
    rows, cols = _box(points, shape[1:3], spacing)
    return _Plan(date, measured, mask, stray, spacing, image, k, rows, cols)


def _panel(plan: _Plan, px_per_mm: float, window: Window | None) -> tuple[Image.Image, str]:
    """One date's panel, ``px_per_mm`` on screen (the same for every panel), and its caption."""
    k, rows, cols, spacing, mask = plan.slice, plan.rows, plan.cols, plan.spacing, plan.mask
    measured = plan.measured
    line = measured.line if measured is not None else None
    diameter = measured.reference if measured is not None else None
    factors = (max(1, round(px_per_mm * spacing[1])), max(1, round(px_per_mm * spacing[2])))
    if plan.image is not None and window is not None:
        gray = window_to_uint8(np.asarray(plan.image[k], float)[rows, cols], window)
    else:
        gray = np.full((rows.stop - rows.start, cols.stop - cols.start), NO_IMAGE_GRAY, np.uint8)
    rgb = np.repeat(_up(gray, factors)[..., None], 3, axis=2)
    if mask is not None:
        outline = _ring(_up(mask[k][rows, cols], factors), max(2, min(factors) // 2), outside=True)
        rgb[outline] = REFERENCE
    picture = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(picture)

    def xy(row: float, col: float) -> tuple[float, float]:
        return ((col - cols.start + 0.5) * factors[1], (row - rows.start + 0.5) * factors[0])

    if diameter is not None and diameter.slice == k:
        a, b = (xy(*end) for end in diameter.ends)
        draw.line([a, b], fill=REFERENCE, width=1)
    for drawn, colour in ((plan.stray, TOO_LARGE), (line, ANSWER)):
        if drawn is None:
            continue
        a, b = (xy(end[1], end[2]) for end in drawn.image)
        draw.line([a, b], fill=colour, width=3)
        for x, y in (a, b):
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=colour, width=2)
    caption = f"slice {k + 1}"
    if measured is None:
        caption += ": no lesion on this date"
    else:
        yours = f"yours {measured.line_mm:.1f} mm" if measured.line_mm is not None else "no line"
        caption += f": {yours} · reference {measured.reference_mm:.1f} mm"
        if mask is not None and not mask[k].any():
            present = np.flatnonzero(mask.any(axis=(1, 2)))
            caption += f" (lesion on slices {present[0] + 1}–{present[-1] + 1})"
    return picture, caption


def _wrapped(draw: ImageDraw.ImageDraw, text: str, width: int, font: Any) -> list[str]:
    """``text`` on one line, or two when it is wider than ``width`` (split before " (" or " · ")."""
    if draw.textlength(text, font=font) <= width:
        return [text]
    for mark in (" (", " · "):
        if mark in text:
            head, tail = text.split(mark, 1)
            return [head, tail if mark == " · " else "(" + tail]
    return [text]


def _legend(draw: ImageDraw.ImageDraw, x: int, y: int, font: Any) -> None:
    for colour, text in (
        (REFERENCE, "reference outline and diameter"),
        (ANSWER, "your line"),
        (TOO_LARGE, "your line on no finding"),
    ):
        draw.rectangle([x, y + 6, x + 18, y + 9], fill=colour)
        draw.text((x + 24, y), text, fill=TEXT, font=font)
        x += 24 + int(draw.textlength(text, font=font)) + 22


def followup_png(
    measured: Mapping[str, Mapping[str, _Measured]],
    findings: Mapping[str, Finding],
    astray: Sequence[Line],
    spacings: Mapping[str, tuple[float, ...]],
    images: Mapping[str, np.ndarray | None],
    window: Window | None,
) -> bytes:
    """PNG: for each finding, the baseline and the follow-up panel side by side.

    ``measured[name][date]`` is what :func:`~dicomteach.grading.grade_followup`
    found (reference diameter, the learner's line counted); ``astray`` the
    learner's lines on no finding: the last one of each date is drawn in the
    panels of that date that have no line counted.
    """
    font, small_font, big_font = _font(13), _font(12), _font(15)
    plans = []
    for name, finding in findings.items():
        row = []
        for date in DATES:
            m = measured.get(name, {}).get(date)
            stray = None
            if m is None or m.line is None:
                own = [line for line in astray if line.date == date]
                stray = own[-1] if own else None
            row.append(_plan(date, m, finding.mask(date), stray, spacings[date], images.get(date)))
        plans.append((name, row))
    # One scale for the panels of lesions measured, so that a lesion that grew looks larger;
    # a panel with a line on no finding is fitted on its own, to show where that line is.
    steady = [plan.size_mm for _, row in plans for plan in row if plan.stray is None]
    common = PANEL_PX / max(steady or [plan.size_mm for _, row in plans for plan in row])
    rows = [
        (
            name,
            [
                (
                    *_panel(
                        plan, common if plan.stray is None else PANEL_PX / plan.size_mm, window
                    ),
                    plan.date,
                )
                for plan in row
            ],
        )
        for name, row in plans
    ]
    pad, gap, top, label, caption = 14, 16, 58, 22, 40
    width = max(sum(p.width for p, _, _ in panels) + gap * (len(panels) - 1) for _, panels in rows)
    height = sum(label + max(p.height for p, _, _ in panels) + caption for _, panels in rows)
    canvas = Image.new("RGB", (2 * pad + max(width, 560), top + height + 8), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (pad, 8), "Your lines and the reference lesion on both dates", fill=TEXT, font=big_font
    )
    _legend(draw, pad, 32, small_font)
    y = top
    for name, panels in rows:
        draw.text((pad, y + 3), name, fill=TEXT, font=font)
        y += label
        x = pad
        for picture, text, date in panels:
            canvas.paste(picture, (x, y))
            _shadowed(draw, (x + 6, y + 5), _DATE_NAMES[date], font, "la")
            for n, part in enumerate(_wrapped(draw, text, picture.width, small_font)):
                draw.text((x, y + picture.height + 6 + 15 * n), part, fill=MUTED, font=small_font)
            x += picture.width + gap
        y += max(p.height for p, _, _ in panels) + caption
    return _png(canvas)
