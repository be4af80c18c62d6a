"""PNG of a class's outlines of one structure against its reference, one small panel each.

What a presenter shows a class after delineating together: on one slice,
each person's outline (yellow, drawn just inside) against the reference or
the class's consensus (green, just outside), with the course's tints where
the outline is too large (red) or too small (blue): the colours and panels
of :mod:`dicomteach.grading.render`, smaller, in a grid, each captioned with
a name and a score. Output is deterministic: same input, same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dicomteach.grading.directions import edge_letters
from dicomteach.grading.render import (
    ANSWER,
    BACKGROUND,
    MUTED,
    REFERENCE,
    TEXT,
    TOO_LARGE,
    TOO_SMALL,
    _crop_box,
    _edge_letters,
    _font,
    _panel,
    _png,
)
from dicomteach.imaging import window_to_uint8
from dicomteach.io.volume import Window

__all__ = ["CLASS_PANEL_PX", "FOLLOWING_STATES", "class_png", "following_png"]

CLASS_PANEL_PX = 180
"""Longest side of one person's panel, in pixels."""
COLUMNS = 6
"""Panels per row at most."""


def _factors(shape: tuple[int, int], spacing: Sequence[float]) -> tuple[int, int]:
    """Whole-number up-scaling per axis to about :data:`CLASS_PANEL_PX`, millimetres square."""
    px_per_mm = CLASS_PANEL_PX / max(shape[0] * spacing[-2], shape[1] * spacing[-1])
    return max(1, round(px_per_mm * spacing[-2])), max(1, round(px_per_mm * spacing[-1]))


def _fitted(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text`` cut (with an ellipsis) to ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def class_png(
    outlines: Sequence[tuple[str, str, np.ndarray]],
    reference: np.ndarray,
    spacing: Sequence[float],
    *,
    image: np.ndarray | None = None,
    window: Window | None = None,
    direction: np.ndarray | None = None,
    title: str = "",
    reference_name: str = "the reference",
) -> bytes:
    """PNG: one panel per outline on one slice, against ``reference``, in a grid.

    Parameters
    ----------
    outlines : sequence of (name, caption, mask)
        Each person's 2D bool mask on the slice, their name and a short caption (a score).
    reference : numpy.ndarray
        The 2D bool mask they are compared with, on the same grid.
    spacing : sequence of float
        Millimetres per axis; the last two are the slice's rows and columns.
    image : numpy.ndarray, optional
        Modality values of the slice on the same grid, shown through ``window``.
    direction : 3×3 array, optional
        LPS unit vectors of the array axes, to letter the panels' edges.

    Examples
    --------
    >>> truth = np.zeros((20, 20), bool); truth[5:15, 5:15] = True
    >>> wide = np.zeros_like(truth); wide[5:15, 5:17] = True
    >>> png = class_png([("Ann", "Dice 1.00", truth), ("Bo", "Dice 0.91", wide)], truth, (1, 1))
    >>> png[:4] == b"\\x89PNG"
    True
    """
    if not outlines:
        raise ValueError("Argument 'outlines' must hold at least one outline.")
    reference = np.asarray(reference, bool)
    stack = np.stack([np.asarray(mask, bool) for _, _, mask in outlines])
    if stack.shape[1:] != reference.shape or reference.ndim != 2:
        raise ValueError(
            f"Argument 'outlines' must hold 2D masks of the reference's shape {reference.shape}."
        )
    flat_spacing = (1.0, float(spacing[-2]), float(spacing[-1]))
    if stack.any() or reference.any():
        rows, cols = _crop_box(stack, reference[None], flat_spacing)
    else:
        rows, cols = slice(0, reference.shape[0]), slice(0, reference.shape[1])
    factors = _factors((rows.stop - rows.start, cols.stop - cols.start), flat_spacing)
    background = None
    if image is not None and window is not None and np.shape(image) == reference.shape:
        background = window_to_uint8(np.asarray(image, float)[rows, cols], window)
    panels = [
        _panel(mask[rows, cols], reference[rows, cols], background, factors) for mask in stack
    ]
    height, width = panels[0].shape[:2]
    font, small, big = _font(13), _font(12), _font(15)
    columns = min(COLUMNS, len(panels))
    lines = (len(panels) + columns - 1) // columns
    gap, pad, top, caption = 12, 14, 58, 36
    slot = max(width, 120)
    inner = max(columns * slot + (columns - 1) * gap, 560)
    canvas = Image.new("RGB", (2 * pad + inner, top + lines * (height + caption + gap)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 8), title or f"Each outline against {reference_name}", fill=TEXT, font=big)
    x = pad
    for colour, text, style in (
        (REFERENCE, reference_name, "line"),
        (ANSWER, "their outline", "line"),
        (TOO_LARGE, "too large", "fill"),
        (TOO_SMALL, "too small", "fill"),
    ):
        if style == "line":
            draw.rectangle([x, 38, x + 18, 41], fill=colour)
        else:
            draw.rectangle([x, 33, x + 18, 46], fill=colour)
        draw.text((x + 24, 32), text, fill=TEXT, font=small)
        x += 24 + int(draw.textlength(text, font=small)) + 22
    letters = edge_letters(direction)
    for n, ((name, note, _), panel) in enumerate(zip(outlines, panels, strict=True)):
        x = pad + (n % columns) * (slot + gap) + (slot - width) // 2
        y = top + (n // columns) * (height + caption + gap)
        canvas.paste(Image.fromarray(panel), (x, y))
        _edge_letters(draw, (x, y, width, height), letters, small)
        centre = x + width / 2
        draw.text(
            (centre, y + height + 3), _fitted(draw, name, font, slot), fill=TEXT, font=font,
            anchor="ma",
        )  # fmt: skip
        draw.text((centre, y + height + 19), note, fill=MUTED, font=small, anchor="ma")
    return _png(canvas)


#: What a learner did about one of the AI's errors, and its colour in :func:`following_png`.
FOLLOWING_STATES = {
    "followed": ("changed to agree with it", TOO_LARGE),
    "agreed": ("agreed before seeing it", (230, 150, 40)),
    "resisted": ("never agreed", REFERENCE),
    "corrected": ("agreed, then changed", TOO_SMALL),
    "": ("no second reading", (70, 72, 76)),
}


def following_png(
    learners: Sequence[str],
    errors: Sequence[str],
    states: Sequence[Sequence[str]],
    *,
    title: str = "",
) -> bytes:
    """PNG: for each learner (rows) and each of the AI's errors (columns), what they did.

    ``states[i][j]`` is a key of :data:`FOLLOWING_STATES`: ``"followed"`` (their
    first reading disagreed with the AI's error, their revised one agreed:
    automation bias), ``"agreed"`` (both agreed), ``"resisted"`` (neither),
    ``"corrected"`` (the first agreed, the revised did not) or ``""``. Each row
    and column ends with how often the AI was followed when it was wrong, out
    of the chances to (the errors the first reading did not share).

    >>> png = following_png(["ann", "bo"], ["false positive, slice 28", "miss: granuloma"],
    ...                     [["followed", "resisted"], ["agreed", "followed"]])
    >>> png[:4] == b"\\x89PNG"
    True
    """
    if not learners or not errors:
        raise ValueError("Argument 'learners' and 'errors' must each hold at least one.")
    font, small, big = _font(13), _font(11), _font(15)
    cell, gap, pad = 34, 2, 14
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    names_w = min(220, max(int(probe.textlength(n, font=font)) for n in learners) + 12)
    head_h = 210
    top = 64
    width = pad + names_w + len(errors) * (cell + gap) + 110 + pad
    height = top + head_h + len(learners) * (cell + gap) + 40 + pad
    canvas = Image.new("RGB", (max(width, 760), height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 8), title or "How often the class followed the AI when it was wrong",
              fill=TEXT, font=big)  # fmt: skip
    x = pad
    for _key, (text, colour) in FOLLOWING_STATES.items():
        draw.rectangle([x, 36, x + 14, 50], fill=colour)
        draw.text((x + 20, 36), text, fill=TEXT, font=small)
        x += 20 + int(draw.textlength(text, font=small)) + 16

    def rate(values: Sequence[str]) -> str:
        chances = [v for v in values if v in ("followed", "resisted")]
        if not chances:
            return "n/a"  # the bitmap font has no dash
        return f"{sum(v == 'followed' for v in chances)}/{len(chances)}"

    x0, y0 = pad + names_w, top + head_h
    for j, error in enumerate(errors):
        # the column's label, written upwards
        label = Image.new("RGB", (head_h - 6, cell), BACKGROUND)
        ImageDraw.Draw(label).text(
            (2, cell // 2), _fitted(draw, error, small, head_h - 10), fill=TEXT, font=small,
            anchor="lm",
        )  # fmt: skip
        canvas.paste(label.rotate(90, expand=True), (x0 + j * (cell + gap), top))
    for i, name in enumerate(learners):
        y = y0 + i * (cell + gap)
        draw.text((pad, y + cell // 2), _fitted(draw, name, font, names_w - 8), fill=TEXT,
                  font=font, anchor="lm")  # fmt: skip
        for j, state in enumerate(states[i]):
            colour = FOLLOWING_STATES.get(state, FOLLOWING_STATES[""])[1]
            x = x0 + j * (cell + gap)
            draw.rectangle([x, y, x + cell, y + cell], fill=colour)
        draw.text((x0 + len(errors) * (cell + gap) + 8, y + cell // 2), rate(states[i]),
                  fill=TEXT, font=font, anchor="lm")  # fmt: skip
    y = y0 + len(learners) * (cell + gap) + 6
    for j in range(len(errors)):
        column = [states[i][j] for i in range(len(learners))]
        draw.text((x0 + j * (cell + gap) + cell / 2, y), rate(column), fill=MUTED, font=small,
                  anchor="ma")  # fmt: skip
    draw.text((pad, y), "followed / chances", fill=MUTED, font=small)
    return _png(canvas)
