"""Tiles of a reading made beside an AI: before it, after it, the AI's marks, the reference.

:func:`readings_png` draws one row per place that matters to a second
reading (each reference finding, each of the AI's false positives, each click
of the learner on no finding), four tiles a row: the learner's clicks before
the AI was shown, after, the AI's marks, and the reference outline.
:func:`marks_png` draws AI marks with the slice above and below, the way a
reader tells a nodule (which ends) from a vessel (which runs on).

Colours follow :mod:`dicomteach.grading.render` (reference green, the
learner yellow), with the AI's marks in cyan as the widgets draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from dicomteach.grading.render import (
    ANSWER,
    BACKGROUND,
    MUTED,
    NO_IMAGE_GRAY,
    REFERENCE,
    TEXT,
    _font,
    _png,
    _ring,
    _up,
)
from dicomteach.imaging import window_to_uint8
from dicomteach.io.volume import Window

__all__ = ["AI", "marks_png", "outlines_png", "readings_png"]

AI = (0, 229, 255)
"""The AI's marks (as ``widgets/static/questions/panel.js`` draws them)."""
TILE_MM = 40.0
"""Side of a tile, in millimetres of the patient."""
TILE_PX = 132
"""Side of a tile, in pixels."""
MAX_ROWS = 8
"""Rows drawn at most (the rest are in the feedback's lines)."""


def _tile(
    image: np.ndarray | None,
    shape: tuple[int, int, int],
    spacing: Sequence[float],
    k: int,
    centre: Sequence[float],
    window: Window | None,
) -> tuple[np.ndarray, tuple[int, int], int]:
    """A gray tile of slice ``k`` round ``centre`` (row, column), its corner and scale."""
    half_r = int(round(TILE_MM / 2 / spacing[1]))
    half_c = int(round(TILE_MM / 2 / spacing[2]))
    r0, c0 = int(round(centre[0])) - half_r, int(round(centre[1])) - half_c
    rows, cols = 2 * half_r, 2 * half_c
    gray = np.full((rows, cols), NO_IMAGE_GRAY, np.uint8)
    k = min(max(k, 0), shape[0] - 1)
    rs, re = max(r0, 0), min(r0 + rows, shape[1])
    cs, ce = max(c0, 0), min(c0 + cols, shape[2])
    if image is not None and rs < re and cs < ce:
        part = np.asarray(image[k, rs:re, cs:ce], dtype=np.float64)
        if window is None:
            low, high = np.percentile(part, (1, 99)) if part.size else (0.0, 1.0)
            window = Window((low + high) / 2, max(high - low, 1.0))
        gray[rs - r0 : re - r0, cs - c0 : ce - c0] = window_to_uint8(part, window)
    scale = max(1, TILE_PX // max(rows, cols))
    return gray, (r0, c0), scale


def _rgb(gray: np.ndarray, scale: int) -> Image.Image:
    up = _up(gray, (scale, scale))
    return Image.fromarray(np.repeat(up[..., None], 3, axis=2))


def _ring_at(draw: ImageDraw.ImageDraw, xy: tuple[float, float], r: float, colour) -> None:
    x, y = xy
    draw.ellipse((x - r - 1, y - r - 1, x + r + 1, y + r + 1), outline=(0, 0, 0), width=2)
    draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=2)


def _screen(point: Sequence[float], corner: tuple[int, int], scale: int) -> tuple[float, float]:
    return ((point[2] - corner[1] + 0.5) * scale, (point[1] - corner[0] + 0.5) * scale)


def _clicks(draw, clicks, k: int, corner, scale: int, size: int) -> None:
    for click in clicks:
        if abs(click.image[0] - k) <= 1.0:
            x, y = _screen(click.image, corner, scale)
            if 0 <= x < size and 0 <= y < size:
                _ring_at(draw, (x, y), 7, ANSWER)


def _marks(draw, marks, k: int, corner, scale: int, spacing, size: int, font) -> None:
    for mark in marks:
        reach = max(mark.radius_mm, spacing[0]) / spacing[0]
        if abs(mark.image[0] - k) > reach:
            continue
        x, y = _screen(mark.image, corner, scale)
        half = max(6.0, mark.radius_mm / spacing[1] * scale + 3)
        if -half <= x < size + half and -half <= y < size + half:
            draw.rectangle(
                (x - half - 1, y - half - 1, x + half + 1, y + half + 1), outline=(0, 0, 0), width=1
            )
            draw.rectangle((x - half, y - half, x + half, y + half), outline=AI, width=2)
            draw.text((x - half, y - half - 14), mark.text, fill=AI, font=font)


def _reference(tile: Image.Image, targets, k: int, corner, scale: int, size: int) -> Image.Image:
    array = np.asarray(tile).copy()
    for mask in targets.values():
        if not 0 <= k < mask.shape[0]:
            continue
        r0, c0 = corner
        rows = cols = size // scale
        part = np.zeros((rows, cols), bool)
        rs, re = max(r0, 0), min(r0 + rows, mask.shape[1])
        cs, ce = max(c0, 0), min(c0 + cols, mask.shape[2])
        if rs < re and cs < ce:
            part[rs - r0 : re - r0, cs - c0 : ce - c0] = mask[k, rs:re, cs:ce]
        band = _ring(_up(part, (scale, scale)), 2, outside=True)
        array[band[: array.shape[0], : array.shape[1]]] = REFERENCE
    return Image.fromarray(array)


def _places(targets, marks, before, after, spacing) -> list[tuple[str, int, tuple[float, float]]]:
    """(caption, slice, (row, column)) of each place a row shows."""
    places = []
    for name, mask in targets.items():
        k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
        rows, cols = np.nonzero(mask[k])
        places.append((name, k, (float(rows.mean()), float(cols.mean()))))
    for mark in marks:
        if mark.finding is None:
            k = int(round(mark.image[0]))
            places.append((f"AI false positive ({mark.text})", k, (mark.image[1], mark.image[2])))

    def seen(point) -> bool:
        here = np.asarray(point, float) * np.asarray(spacing)
        for _, k, (r, c) in places:
            there = np.array([k, r, c]) * np.asarray(spacing)
            if np.linalg.norm(here - there) <= TILE_MM / 4:
                return True
        return False

    for click in [*before, *after]:
        if not seen(click.image) and not any(
            point_distance_zero(click.image, mask) for mask in targets.values()
        ):
            k = int(round(click.image[0]))
            places.append(("your click on no finding", k, (click.image[1], click.image[2])))
    return places


def point_distance_zero(point: Sequence[float], mask: np.ndarray) -> bool:
    """Whether the voxel holding ``point`` is in ``mask``."""
    index = tuple(int(np.floor(v + 0.5)) for v in point)
    return all(0 <= i < n for i, n in zip(index, mask.shape, strict=True)) and bool(mask[index])


def readings_png(
    targets: Mapping[str, np.ndarray],
    marks: Sequence[Any],
    before: Sequence[Any],
    after: Sequence[Any],
    spacing: Sequence[float],
    *,
    image: np.ndarray | None = None,
    window: Window | None = None,
) -> bytes:
    """One row per place (finding, AI false positive, stray click): before, after, AI, reference.

    >>> from dicomteach.grading.ai_reading import OtherMark
    >>> from dicomteach.roi import Point
    >>> nodule = np.zeros((3, 60, 60), bool); nodule[1, 20:26, 20:26] = True
    >>> png = readings_png({"nodule": nodule}, [OtherMark((1.0, 40.0, 40.0), 3.0, 0.8, None)],
    ...                    [], [Point((1.0, 22.0, 22.0))], (2.5, 1.0, 1.0))
    >>> import io
    >>> Image.open(io.BytesIO(png)).size  # two rows of four tiles: the nodule, the AI's mark
    (510, 318)
    """
    shape = next(iter(targets.values())).shape
    places = _places(targets, marks, before, after, spacing)[:MAX_ROWS]
    font, small = _font(13), _font(11)
    titles = ("your first reading", "after the AI", "the AI's marks", "reference")
    gap, caption = 6, 18
    size = None
    tiles = []
    for name, k, centre in places:
        gray, corner, scale = _tile(image, shape, spacing, k, centre, window)
        base = _rgb(gray, scale)
        size = base.size[0]
        row = []
        for column in range(4):
            tile = base.copy()
            if column == 3:
                tile = _reference(tile, targets, k, corner, scale, size)
            draw = ImageDraw.Draw(tile)
            if column == 0:
                _clicks(draw, before, k, corner, scale, size)
            elif column == 1:
                _clicks(draw, after, k, corner, scale, size)
            elif column == 2:
                _marks(draw, marks, k, corner, scale, spacing, size, small)
            row.append(tile)
        tiles.append((f"{name} · slice {k + 1}", row))
    size = size or TILE_PX
    width = 4 * size + 5 * gap
    height = 24 + len(tiles) * (size + caption + gap) + gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for column, title in enumerate(titles):
        draw.text((gap + column * (size + gap), 6), title, fill=MUTED, font=small)
    y = 24
    for text, row in tiles:
        draw.text((gap, y), text, fill=TEXT, font=font)
        y += caption
        for column, tile in enumerate(row):
            canvas.paste(tile, (gap + column * (size + gap), y))
        y += size + gap
    return _png(canvas)


def marks_png(
    marks: Sequence[Any],
    captions: Sequence[str],
    spacing: Sequence[float],
    *,
    image: np.ndarray | None = None,
    window: Window | None = None,
) -> bytes:
    """Each mark with the slice above and below it (the mark ringed in the middle tile).

    >>> from dicomteach.grading.ai_reading import OtherMark
    >>> png = marks_png([OtherMark((1.0, 30.0, 30.0), 3.0, 0.97, None)], ["mark 1"], (2.5, 1, 1),
    ...                 image=np.zeros((3, 60, 60)))
    >>> png[:4] == b"\\x89PNG"
    True
    """
    font, small = _font(13), _font(11)
    gap, caption = 6, 18
    shape = image.shape if image is not None else (1, 1, 1)
    rows = []
    size = TILE_PX
    for mark, text in zip(marks[:MAX_ROWS], captions, strict=False):
        k = int(round(mark.image[0]))
        row = []
        for dk in (1, 0, -1):  # above (towards the head: slices run from the feet up), at, below
            gray, corner, scale = _tile(image, shape, spacing, k + dk, mark.image[1:], window)
            tile = _rgb(gray, scale)
            size = tile.size[0]
            if dk == 0:
                _marks(ImageDraw.Draw(tile), [mark], k, corner, scale, spacing, size, small)
            row.append(tile)
        rows.append((f"{text} · slice {k + 1}", row))
    width = 3 * size + 4 * gap
    height = 24 + len(rows) * (size + caption + gap) + gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for column, title in enumerate(("slice above", "the AI's mark", "slice below")):
        draw.text((gap + column * (size + gap), 6), title, fill=MUTED, font=small)
    y = 24
    for text, row in rows:
        draw.text((gap, y), text, fill=TEXT, font=font)
        y += caption
        for column, tile in enumerate(row):
            canvas.paste(tile, (gap + column * (size + gap), y))
        y += size + gap
    return _png(canvas)


def outlines_png(
    first: np.ndarray,
    revised: np.ndarray,
    ai: np.ndarray | None,
    reference: np.ndarray,
    spacing: Sequence[float],
    *,
    image: np.ndarray | None = None,
    window: Window | None = None,
) -> bytes:
    """Four tiles on the reference's largest slice: the first outline, the revised one
    (yellow), the AI's (cyan), the reference (green).

    >>> ref = np.zeros((3, 60, 60), bool); ref[1, 20:30, 20:30] = True
    >>> outlines_png(ref, ref, None, ref, (2.5, 1.0, 1.0))[:4] == b"\\x89PNG"
    True
    """
    k = int(np.argmax(reference.reshape(reference.shape[0], -1).sum(axis=1)))
    rows, cols = np.nonzero(reference[k])
    centre = (float(rows.mean()), float(cols.mean())) if len(rows) else (0.0, 0.0)
    gray, corner, scale = _tile(image, reference.shape, spacing, k, centre, window)
    base = _rgb(gray, scale)
    size = base.size[0]
    font, small = _font(13), _font(11)
    tiles = []
    for mask, colour in ((first, ANSWER), (revised, ANSWER), (ai, AI), (reference, REFERENCE)):
        tile = np.asarray(base).copy()
        if mask is not None:
            part = np.zeros((size // scale, size // scale), bool)
            r0, c0 = corner
            rs, re = max(r0, 0), min(r0 + part.shape[0], mask.shape[1])
            cs, ce = max(c0, 0), min(c0 + part.shape[1], mask.shape[2])
            if rs < re and cs < ce:
                part[rs - r0 : re - r0, cs - c0 : ce - c0] = np.asarray(mask, bool)[k, rs:re, cs:ce]
            band = _ring(_up(part, (scale, scale)), 2, outside=colour is REFERENCE)
            tile[band[: tile.shape[0], : tile.shape[1]]] = colour
        tiles.append(Image.fromarray(tile))
    gap = 6
    canvas = Image.new("RGB", (4 * size + 5 * gap, size + 44), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    titles = ("your first outline", "after the AI", "the AI's outline", "reference")
    for column, (title, tile) in enumerate(zip(titles, tiles, strict=True)):
        draw.text((gap + column * (size + gap), 6), title, fill=MUTED, font=small)
        canvas.paste(tile, (gap + column * (size + gap), 22))
    draw.text((gap, size + 26), f"slice {k + 1}", fill=TEXT, font=font)
    return _png(canvas)
