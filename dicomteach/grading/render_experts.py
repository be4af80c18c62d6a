"""PNG images of where a learner falls among several experts, drawn with numpy and Pillow only.

Two pictures, in the colours of :mod:`dicomteach.grading.render`:

* :func:`spread_png` — a dot for each expert's Dice and surface Dice against
  the experts' consensus, the learner's dot in yellow among them, over the
  bands where the points are full and where they fall off;
* :func:`experts_png` — slices of the image with the experts' band (cyan
  where every expert drew, violet where only some did), the
  consensus outline (green, the reference the learner is graded against) and
  the learner's outline (yellow).

Output is deterministic: same input, same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from dicomteach.grading.directions import edge_letters
from dicomteach.grading.render import (
    ANSWER,
    BACKGROUND,
    MUTED,
    NO_IMAGE_GRAY,
    REFERENCE,
    TEXT,
    _edge_letters,
    _factors,
    _font,
    _png,
    _ring,
    _shadowed,
    _up,
)
from dicomteach.imaging import window_to_uint8
from dicomteach.io.volume import Window

__all__ = ["EVERY_EXPERT", "SOME_EXPERTS", "experts_png", "panel_slices", "spread_png"]

EVERY_EXPERT = (0, 190, 205)
"""Tint where every expert drew (cyan)."""
SOME_EXPERTS = (205, 80, 230)
"""Tint where only some experts drew: the band of their disagreement (violet)."""
TINT_ALPHA = 0.5
FULL_BAND = (36, 84, 52)
"""Background of the scores that earn full points."""
PARTIAL_BAND = (52, 56, 60)
"""Background of the scores that earn part of the points."""
EXPERT_DOT = (200, 204, 210)


def _axis_range(values: Sequence[float]) -> tuple[float, float]:
    """From a round number below every value shown, to 1."""
    low = min(values)
    return max(0.0, float(np.floor((low - 0.02) * 20.0) / 20.0)), 1.0


def _stacked(xs: Sequence[float], taken: Sequence[float], step: int) -> list[int]:
    """How far up each dot at ``xs`` goes so that no two dots (nor one in ``taken``) overlap."""
    placed: list[tuple[float, int]] = [(x, 0) for x in taken]
    lifts = []
    for x in xs:
        lift = 0
        while any(abs(x - px) < step and lift == pl for px, pl in placed):
            lift += step
        placed.append((x, lift))
        lifts.append(lift)
    return lifts


def spread_png(
    experts: Sequence[tuple[float, float]],
    learner: tuple[float, float],
    full_marks: tuple[float, float],
    zero_marks: tuple[float, float],
    tolerance_mm: float,
    width_px: int = 640,
) -> bytes:
    """PNG: each expert's (Dice, surface Dice) against the consensus as a dot, the learner's in yellow.

    ``full_marks`` and ``zero_marks`` (Dice, surface Dice) shade where the
    points are full and where they fall off linearly. Each row's axis runs
    from just below the lowest dot to 1.
    """
    font, small, big = _font(13), _font(11), _font(15)
    rows = ("Dice", f"surface Dice at {tolerance_mm:g} mm")
    left, right, top, row_h, radius = 150, 24, 58, 92, 7
    height = top + 2 * row_h + 30
    canvas = Image.new("RGB", (width_px, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((14, 8), "Where you fall among the experts", fill=TEXT, font=big)
    draw.text(
        (14, 30),
        "each dot is one outline scored against the experts' consensus",
        fill=MUTED,
        font=small,
    )
    plot_w = width_px - left - right
    for r, name in enumerate(rows):
        values = [e[r] for e in experts] + [learner[r]]
        low, high = _axis_range(values)

        def x_of(value: float, low: float = low, high: float = high) -> float:
            return left + (float(np.clip(value, low, high)) - low) / (high - low) * plot_w

        base = top + r * row_h + row_h - 34  # the dots' line; stacked dots rise from it
        draw.text((14, base), name, fill=TEXT, font=font, anchor="lm")
        band_top = base - 3 * (2 * radius + 2) - 4
        draw.rectangle(
            [x_of(zero_marks[r]), band_top, x_of(full_marks[r]), base + radius + 3],
            fill=PARTIAL_BAND,
        )
        draw.rectangle(
            [x_of(full_marks[r]), band_top, x_of(high), base + radius + 3], fill=FULL_BAND
        )
        axis = base + radius + 4
        draw.line([left, axis, left + plot_w, axis], fill=MUTED)
        step = 0.05 if high - low <= 0.3 else 0.1
        for tick in np.arange(np.ceil(low / step - 1e-9) * step, high + 1e-9, step):
            x = x_of(float(tick))
            draw.line([x, axis, x, axis + 4], fill=MUTED)
            draw.text((x, axis + 5), f"{tick:.2f}", fill=MUTED, font=small, anchor="ma")
        you = x_of(learner[r])
        order = sorted(enumerate((e[r] for e in experts), 1), key=lambda t: t[1])
        xs = [x_of(value) for _, value in order]
        for (number, _), x, lift in zip(
            order, xs, _stacked(xs, [you], 2 * radius + 2), strict=True
        ):
            y = base - lift - (2 * radius + 2 if abs(x - you) < 2 * radius + 2 and lift == 0 else 0)
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=EXPERT_DOT)
            draw.text((x, y), str(number), fill=BACKGROUND, font=small, anchor="mm")
        draw.ellipse(
            [you - radius - 1, base - radius - 1, you + radius + 1, base + radius + 1],
            fill=ANSWER,
            outline=(0, 0, 0),
        )
    y = top + 2 * row_h + 4
    x = 14
    for kind, colour, text in (
        ("dot", EXPERT_DOT, "an expert (numbered)"),
        ("dot", ANSWER, "you"),
        ("box", FULL_BAND, "full points"),
        ("box", PARTIAL_BAND, "points fall off"),
    ):
        if kind == "dot":
            draw.ellipse([x, y + 2, x + 11, y + 13], fill=colour)
        else:
            draw.rectangle([x, y + 1, x + 16, y + 14], fill=colour)
        draw.text((x + 20, y + 1), text, fill=TEXT, font=small)
        x += 20 + int(draw.textlength(text, font=small)) + 22
    return _png(canvas)


def panel_slices(consensus: np.ndarray, union: np.ndarray, count: int = 3) -> list[int]:
    """Slices to show: where the consensus is largest, and half-way from it to each end of the union.

    >>> union = np.zeros((9, 4, 4), bool); union[1:8, 1:3, 1:3] = True
    >>> consensus = union.copy(); consensus[4, 0, 0] = True
    >>> panel_slices(consensus, union)
    [2, 4, 6]
    """
    drawn = np.flatnonzero(union.any(axis=(1, 2)))
    largest = int(np.argmax(consensus.sum(axis=(1, 2))))
    if count < 3 or drawn.size < 3:
        return [largest]
    below = (int(drawn[0]) + largest) // 2
    above = (largest + int(drawn[-1]) + 1) // 2
    return sorted({below, largest, above})


def _box(union: np.ndarray, spacing: Sequence[float], margin_mm: float = 8.0):
    plane = union.any(axis=0)
    rows, cols = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    mr = max(4, int(np.ceil(margin_mm / spacing[1])))
    mc = max(4, int(np.ceil(margin_mm / spacing[2])))
    return (
        slice(max(0, rows[0] - mr), min(plane.shape[0], rows[-1] + 1 + mr)),
        slice(max(0, cols[0] - mc), min(plane.shape[1], cols[-1] + 1 + mc)),
    )


def experts_png(
    experts: Sequence[np.ndarray],
    learner: np.ndarray,
    consensus: np.ndarray,
    slices: Sequence[int],
    spacing: Sequence[float],
    *,
    image: np.ndarray | Mapping[int, np.ndarray] | None = None,
    window: Window | None = None,
    direction: np.ndarray | None = None,
) -> bytes:
    """PNG: the given slices with the experts' band, their consensus and the learner's outline.

    Masks are 3D ``(slices, rows, columns)``; ``image`` holds modality values
    on their grid, shown through ``window``.
    """
    stack = np.stack([np.asarray(e, bool) for e in experts])
    every, some = stack.all(axis=0), stack.any(axis=0)
    rows, cols = _box(some | learner | consensus, spacing)
    factors = _factors((rows.stop - rows.start, cols.stop - cols.start), tuple(spacing))
    font, small, big = _font(13), _font(12), _font(15)
    letters = edge_letters(direction)
    panels = []
    for k in slices:
        if image is not None and window is not None:
            gray = window_to_uint8(image[k][rows, cols], window)
        else:
            gray = np.full(
                (rows.stop - rows.start, cols.stop - cols.start), NO_IMAGE_GRAY, np.uint8
            )
        rgb = np.repeat(_up(gray, factors)[..., None], 3, axis=2).astype(np.float32)
        for region, colour in ((some[k] & ~every[k], SOME_EXPERTS), (every[k], EVERY_EXPERT)):
            up = _up(region[rows, cols], factors)
            rgb[up] = (1 - TINT_ALPHA) * rgb[up] + TINT_ALPHA * np.asarray(colour, np.float32)
        line = max(2, min(factors) // 2)
        rgb[_ring(_up(consensus[k][rows, cols], factors), line, outside=True)] = REFERENCE
        rgb[_ring(_up(learner[k][rows, cols], factors), line, outside=False)] = ANSWER
        panels.append(np.rint(rgb).astype(np.uint8))
    height, width = panels[0].shape[:2]
    gap, pad, top, bottom = 16, 14, 58, 30
    canvas = Image.new(
        "RGB",
        (max(2 * pad + len(panels) * width + (len(panels) - 1) * gap, 560), top + height + bottom),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 8), "Your outline and the experts' band", fill=TEXT, font=big)
    x = pad
    for kind, colour, text in (
        ("box", EVERY_EXPERT, "every expert drew"),
        ("box", SOME_EXPERTS, "only some experts drew"),
        ("line", REFERENCE, "their consensus"),
        ("line", ANSWER, "your outline"),
    ):
        if kind == "box":
            draw.rectangle([x, 33, x + 18, 46], fill=colour)
        else:
            draw.rectangle([x, 38, x + 18, 41], fill=colour)
        draw.text((x + 24, 32), text, fill=TEXT, font=small)
        x += 24 + int(draw.textlength(text, font=small)) + 22
    for n, (k, panel) in enumerate(zip(slices, panels, strict=True)):
        x = pad + n * (width + gap)
        canvas.paste(Image.fromarray(panel), (x, top))
        _shadowed(draw, (x + 6, top + 5), f"slice {k + 1}", font, "la")
        _edge_letters(draw, (x, top, width, height), letters, small)
        drew = int(stack[:, k].any(axis=(1, 2)).sum())
        draw.text(
            (x + width / 2, top + height + 8),
            f"{drew} of {len(stack)} experts drew here",
            fill=MUTED,
            font=small,
            anchor="ma",
        )
    return _png(canvas)
