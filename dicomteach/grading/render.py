"""PNG images of delineation feedback, drawn with numpy and Pillow only.

Colours (one meaning each, in every image and in the legend):

* reference outline — green, drawn just outside the reference;
* your outline — yellow, drawn just inside the answer (so both show where they agree);
* too large (included, not in the reference) — tinted red;
* too small (in the reference, missed) — tinted blue.

Images are scaled up with nearest-neighbour to about :data:`PANEL_PX` pixels,
keeping millimetres square; letters at the edges name the patient directions
when the geometry is known. Output is deterministic: same input, same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dicomteach.grading.analysis import SliceErrors
from dicomteach.grading.directions import edge_letters
from dicomteach.imaging import window_to_uint8
from dicomteach.io.volume import Window
from dicomteach.scoring.signed import surface_voxels

__all__ = ["bar_chart_png", "slices_png"]

PANEL_PX = 300
"""Longest side of one slice panel, in pixels (small crops are scaled up to it)."""

BACKGROUND = (32, 33, 36)
TEXT = (232, 234, 237)
MUTED = (154, 160, 166)
REFERENCE = (40, 220, 90)
ANSWER = (255, 214, 0)
TOO_LARGE = (235, 50, 50)
TOO_SMALL = (40, 120, 255)
TINT_ALPHA = 0.5
NO_IMAGE_GRAY = 70
"""Gray level under the outlines when no image is given."""


def _font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _crop_box(answer: np.ndarray, reference: np.ndarray, spacing: tuple, margin_mm: float = 12):
    """In-plane rows and columns holding both masks on every slice, with a margin."""
    plane = answer.any(axis=0) | reference.any(axis=0)
    rows, cols = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    mr = max(4, int(np.ceil(margin_mm / spacing[1])))
    mc = max(4, int(np.ceil(margin_mm / spacing[2])))
    r0, r1 = max(0, rows[0] - mr), min(plane.shape[0], rows[-1] + 1 + mr)
    c0, c1 = max(0, cols[0] - mc), min(plane.shape[1], cols[-1] + 1 + mc)
    return slice(r0, r1), slice(c0, c1)


def _factors(shape: tuple[int, int], spacing: tuple) -> tuple[int, int]:
    """Whole-number up-scaling per axis: about PANEL_PX pixels, millimetres kept square."""
    height_mm, width_mm = shape[0] * spacing[1], shape[1] * spacing[2]
    px_per_mm = PANEL_PX / max(height_mm, width_mm)
    return max(1, round(px_per_mm * spacing[1])), max(1, round(px_per_mm * spacing[2]))


def _up(array: np.ndarray, factors: tuple[int, int]) -> np.ndarray:
    return np.repeat(np.repeat(array, factors[0], axis=0), factors[1], axis=1)


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one pixel along rows and columns (nothing enters from the edges)."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def _ring(mask: np.ndarray, width: int, outside: bool) -> np.ndarray:
    """A ``width``-pixel band just inside (or just outside) the edge of ``mask``."""
    if outside:
        grown = mask
        for _ in range(width):
            grown = _grow(grown)
        return grown & ~mask
    band = np.zeros_like(mask)
    current = mask
    for _ in range(width):
        edge = surface_voxels(current)
        band |= edge
        current = current & ~edge
    return band


def _panel(
    answer: np.ndarray,
    reference: np.ndarray,
    background: np.ndarray | None,
    factors: tuple[int, int],
) -> np.ndarray:
    """RGB uint8 of one slice with tints and outlines, scaled up."""
    if background is None:
        gray = np.full(answer.shape, NO_IMAGE_GRAY, np.uint8)
    else:
        gray = background
    rgb = np.repeat(_up(gray, factors)[..., None], 3, axis=2).astype(np.float32)
    a, r = _up(answer, factors), _up(reference, factors)
    for region, colour in ((a & ~r, TOO_LARGE), (r & ~a, TOO_SMALL)):
        rgb[region] = (1 - TINT_ALPHA) * rgb[region] + TINT_ALPHA * np.asarray(colour, np.float32)
    line = max(2, min(factors) // 2)
    rgb[_ring(r, line, outside=True)] = REFERENCE
    rgb[_ring(a, line, outside=False)] = ANSWER
    return np.rint(rgb).astype(np.uint8)


_LEGEND = (
    (REFERENCE, "reference", "line"),
    (ANSWER, "your outline", "line"),
    (TOO_LARGE, "too large (included)", "fill"),
    (TOO_SMALL, "too small (missed)", "fill"),
)


def _legend_width(font) -> int:
    """Pixels the legend of :func:`_legend` takes, from its first key to its last letter."""
    return sum(24 + int(font.getlength(text)) + 22 for _, text, _ in _LEGEND) - 22


def _legend(draw: ImageDraw.ImageDraw, x: int, y: int, font) -> None:
    for colour, text, style in _LEGEND:
        if style == "line":
            draw.rectangle([x, y + 6, x + 18, y + 9], fill=colour)
        else:
            draw.rectangle([x, y + 1, x + 18, y + 14], fill=colour)
        draw.text((x + 24, y), text, fill=TEXT, font=font)
        x += 24 + int(draw.textlength(text, font=font)) + 22


def _shadowed(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font, anchor: str):
    draw.text((xy[0] + 1, xy[1] + 1), text, fill=(0, 0, 0), font=font, anchor=anchor)
    draw.text(xy, text, fill=TEXT, font=font, anchor=anchor)


def _edge_letters(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], letters: dict[str, str], font
) -> None:
    """The patient's directions at the middle of each edge of the panel ``box`` (x, y, w, h)."""
    x, top, width, height = box
    for edge, (lx, ly, anchor) in {
        "top": (x + width / 2, top + 4, "ma"),
        "bottom": (x + width / 2, top + height - 4, "md"),
        "left": (x + 5, top + height / 2, "lm"),
        "right": (x + width - 5, top + height / 2, "rm"),
    }.items():
        if edge in letters:
            _shadowed(draw, (lx, ly), letters[edge], font, anchor)


def _caption(errors: SliceErrors, k: int, tolerance_mm: float) -> str:
    small, large = errors.worst_too_small_mm[k], errors.worst_too_large_mm[k]
    parts = []
    if small > tolerance_mm:
        parts.append(f"missed by up to {small:.1f} mm")
    if large > tolerance_mm:
        parts.append(f"too large by up to {large:.1f} mm")
    return ", ".join(parts) if parts else f"within {tolerance_mm:g} mm"


def slices_png(
    answer: np.ndarray,
    reference: np.ndarray,
    slices: list[int],
    errors: SliceErrors,
    spacing: tuple,
    tolerance_mm: float,
    *,
    image: np.ndarray | Mapping[int, np.ndarray] | None = None,
    window: Window | None = None,
    direction: np.ndarray | None = None,
    title: str = "",
) -> bytes:
    """PNG: the given slices (array indices) side by side, worst first, with a legend.

    ``image`` holds modality values on the masks' grid (e.g. CT in HU), or
    only those of the slices shown (by index), seen through ``window``;
    without it the outlines are drawn on gray.
    """
    rows, cols = _crop_box(answer, reference, spacing)
    factors = _factors((rows.stop - rows.start, cols.stop - cols.start), spacing)
    font, small_font, big_font = _font(13), _font(12), _font(15)
    letters = edge_letters(direction)
    panels = []
    for k in slices:
        background = None
        if image is not None and window is not None:
            background = window_to_uint8(image[k][rows, cols], window)
        panels.append(_panel(answer[k][rows, cols], reference[k][rows, cols], background, factors))
    height, width = panels[0].shape[:2]
    gap, pad, top, bottom = 16, 14, 58, 30
    title = title or "Where your outline differs"
    captions = [_caption(errors, k, tolerance_mm) for k in slices]
    # on a panel too narrow for the slice number beside the top letter, the caption says it
    named_inside = 6 + font.getlength(f"slice {max(slices) + 1}") + 8 < width / 2 - 6
    if not named_inside:
        captions = [f"slice {k + 1}: {c}" for k, c in zip(slices, captions, strict=True)]
    # each panel's column is as wide as its caption, and the picture as wide as the legend
    # and the title, whatever the crop's shape and however few slices are shown
    slot = max(width, *(int(small_font.getlength(c)) + 8 for c in captions))
    inner = max(
        len(panels) * slot + (len(panels) - 1) * gap,
        _legend_width(small_font),
        int(big_font.getlength(title)),
    )
    canvas = Image.new("RGB", (2 * pad + inner, top + height + bottom), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 8), title, fill=TEXT, font=big_font)
    _legend(draw, pad, 32, small_font)
    for n, (k, panel) in enumerate(zip(slices, panels, strict=True)):
        x = pad + n * (slot + gap) + (slot - width) // 2
        canvas.paste(Image.fromarray(panel), (x, top))
        if named_inside:
            _shadowed(draw, (x + 6, top + 5), f"slice {k + 1}", font, "la")
        _edge_letters(draw, (x, top, width, height), letters, small_font)
        draw.text(
            (x + width / 2, top + height + 8),
            captions[n],
            fill=MUTED,
            font=small_font,
            anchor="ma",
        )
    return _png(canvas)


def bar_chart_png(errors: SliceErrors, marked: list[int], width_px: int = 640) -> bytes:
    """PNG: per slice, area too large (red, up) and too small (blue, down), in mm².

    ``marked`` slices (array indices) are labelled with their number, from 1.
    """
    present = np.flatnonzero((errors.reference_mm2 > 0) | (errors.answer_mm2 > 0))
    first = max(0, int(present[0]) - 1) if present.size else 0
    last = min(errors.reference_mm2.size - 1, int(present[-1]) + 1) if present.size else 0
    n = last - first + 1
    bar = int(np.clip((width_px - 90) // n, 2, 24))
    plot_w = bar * n
    plot_h = 80
    left, top = 64, 34
    font, small_font = _font(13), _font(11)
    title = "Area wrong on each slice (square mm)"
    keys = ((TOO_LARGE, "too large"), (TOO_SMALL, "too small"))
    # as wide as the title and the legend need, however few slices the chart has
    legend_end = 12 + int(font.getlength(title)) + 20
    legend_end += sum(17 + int(small_font.getlength(text)) + 16 for _, text in keys)
    width = max(left + plot_w + 24, legend_end)
    canvas = Image.new("RGB", (width, top + 2 * plot_h + 44), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 8), title, fill=TEXT, font=font)
    x_legend = 12 + int(draw.textlength(title, font=font)) + 20
    for colour, text in keys:
        draw.rectangle([x_legend, 11, x_legend + 12, 22], fill=colour)
        draw.text((x_legend + 17, 9), text, fill=TEXT, font=small_font)
        x_legend += 17 + int(draw.textlength(text, font=small_font)) + 16
    large = errors.too_large_mm2[first : last + 1]
    small = errors.too_small_mm2[first : last + 1]
    scale = max(float(large.max(initial=0)), float(small.max(initial=0)), 1e-9)
    zero = top + plot_h
    # faint band where the reference is present, so missing ends stand out
    for i, k in enumerate(range(first, last + 1)):
        x0 = left + i * bar
        if errors.reference_mm2[k] > 0:
            draw.rectangle([x0, top, x0 + bar - 1, top + 2 * plot_h], fill=(44, 46, 50))
    for i in range(n):
        x0, x1 = left + i * bar, left + i * bar + max(1, bar - 1) - 1
        up = int(round(plot_h * large[i] / scale))
        down = int(round(plot_h * small[i] / scale))
        if up:
            draw.rectangle([x0, zero - up, x1, zero - 1], fill=TOO_LARGE)
        if down:
            draw.rectangle([x0, zero + 1, x1, zero + down], fill=TOO_SMALL)
    draw.line([left, zero, left + plot_w, zero], fill=MUTED)
    draw.text((left - 6, top), f"{scale:.0f}", fill=MUTED, font=small_font, anchor="ra")
    draw.text((left - 6, zero), "0", fill=MUTED, font=small_font, anchor="rm")
    draw.text(
        (left - 6, top + 2 * plot_h), f"{scale:.0f}", fill=MUTED, font=small_font, anchor="rd"
    )
    step = max(1, int(np.ceil(40 / bar)))
    for i, k in enumerate(range(first, last + 1)):
        x = left + i * bar + bar / 2
        if k in marked:
            draw.text(
                (x, top + 2 * plot_h + 4), f"{k + 1}", fill=ANSWER, font=small_font, anchor="ma"
            )
        elif (k + 1) % step == 0 and all(abs(k - m) * bar > 24 for m in marked):
            draw.text(
                (x, top + 2 * plot_h + 4), f"{k + 1}", fill=MUTED, font=small_font, anchor="ma"
            )
    draw.text(
        (left + plot_w / 2, top + 2 * plot_h + 22),
        "slice (yellow: shown above)",
        fill=MUTED,
        font=small_font,
        anchor="ma",
    )
    return _png(canvas)
