"""The picture and the figures of docs/samples.md's "Expert outlines": three observers, two lesions.

    PYTHONPATH=. python tests/experts_gallery.py docs/samples/experts.png

writes the CT chest (full size, and the 256×256×60 variant the lessons
use) and the MR brain (seed 0) into a temporary folder, reads
each observer's SEG back, prints every pair's Dice and volume ratio and each
observer's Dice with the reference and with the STAPLE consensus, and draws
the nodule (lung window) on three slices and the glioma's enhancing tumour
(T1+C) and oedema (FLAIR) on two, each observer's outline in its colour.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from dicomteach import io
from dicomteach.grading.render import _font
from dicomteach.imaging import modality_values
from dicomteach.roi import read_seg
from dicomteach.samples import ct_chest, mr_brain
from dicomteach.scoring import dice, score
from dicomteach.scoring.consensus import expert_spread

#: Each observer's colour (A generous, B tight, C loose hand).
COLOURS = {"A": (255, 128, 40), "B": (70, 160, 255), "C": (255, 226, 0)}
LETTERS = ("A", "B", "C")
TILE_PX = 250
"""The side of each picture; pixels are repeated to fill it."""
CROP_MM = {"nodule": 28.0, "glioma": 76.0}


def _window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.clip((values - (centre - width / 2.0)) / width * 255.0, 0, 255).astype(np.uint8)


def _observers(folder: Path, stem: str, volume) -> dict[str, object]:
    return {
        x: read_seg(folder / "experts" / f"{stem}-observer-{x.lower()}.dcm", volume)
        for x in LETTERS
    }


def figures(name: str, reference: np.ndarray, masks: dict[str, np.ndarray], spacing) -> None:
    """Print the agreement of the observers of one target."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    spread = expert_spread([masks[x] for x in LETTERS], spacing, 2.0)
    print(f"\n{name}: reference {reference.sum() * voxel_ml:.2f} mL")
    for x, s in zip(LETTERS, spread.scores, strict=True):
        versus = score(reference, masks[x], spacing, 2.0)
        drawn = np.flatnonzero(masks[x].any(axis=(1, 2)))
        print(
            f"  {x}: {masks[x].sum() * voxel_ml:.2f} mL, slices {drawn[0] + 1}-{drawn[-1] + 1}; "
            f"vs reference Dice {versus.dice:.2f}; vs consensus Dice {s.dice:.2f}, "
            f"surface Dice {s.surface_dice:.2f}"
        )
    for a, b in itertools.combinations(LETTERS, 2):
        big, small = sorted((masks[a].sum(), masks[b].sum()), reverse=True)
        print(f"  {a}-{b}: Dice {dice(masks[a], masks[b]):.2f}, volumes ×{big / small:.2f}")
    print(
        f"  consensus {spread.consensus_mm3 / 1000:.2f} mL, volume range ×{spread.volume_ratio:.2f}"
    )


def _tile(gray: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    factor = max(1, TILE_PX // max(gray.shape))
    up = np.repeat(np.repeat(gray, factor, 0), factor, 1)
    rgb = np.repeat(up[..., None], 3, axis=2)
    for x in LETTERS:
        mask = np.repeat(np.repeat(masks[x], factor, 0), factor, 1)
        edge = mask & ~ndimage.binary_erosion(mask, iterations=max(1, factor // 3))
        rgb[edge] = COLOURS[x]
    return rgb


def _crop(centre: np.ndarray, spacing, crop_mm: float) -> tuple[slice, slice]:
    half = [int(round(crop_mm / 2.0 / s)) for s in spacing[1:]]
    return tuple(
        slice(int(round(c)) - h, int(round(c)) + h) for c, h in zip(centre[1:], half, strict=True)
    )


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiles, labels = [], []
        for size, slices in ((512, 120), (256, 60)):
            folder = tmp / f"ct-{size}"
            ct_chest.write(folder, seed=0, size=size, slices=slices)
            base = folder / "baseline"
            volume = io.load(base / "ct")
            reference = read_seg(base / "seg-nodule.dcm", volume).masks[1]
            masks = {x: s.masks[1] for x, s in _observers(base, "seg-nodule", volume).items()}
            figures(f"CT nodule {size}×{size}×{slices}", reference, masks, volume.spacing)
            if size != 512:
                continue
            hu = modality_values(volume)
            centre = np.array(ndimage.center_of_mass(reference))
            rows, cols = _crop(centre, volume.spacing, CROP_MM["nodule"])
            drawn = np.flatnonzero(reference.any(axis=(1, 2)))
            for k in (drawn[1], int(round(centre[0])), drawn[-2]):
                gray = _window(hu[k, rows, cols], -600.0, 1500.0)
                tiles.append(_tile(gray, {x: m[k, rows, cols] for x, m in masks.items()}))
                labels.append(f"CT, lung window, slice {k + 1}")
        folder = tmp / "mr"
        mr_brain.write(folder, seed=0)
        t1c, flair = io.load(folder / "t1c"), io.load(folder / "flair")
        reference = read_seg(folder / "seg-tumour.dcm", t1c)
        observers = _observers(folder, "seg-tumour", t1c)
        for number, name in ((1, "enhancing tumour"), (2, "oedema")):
            masks = {x: s.masks[number] for x, s in observers.items()}
            figures(f"MR glioma, {name}", reference.masks[number], masks, t1c.spacing)
        centre = np.array(ndimage.center_of_mass(reference.masks[2]))
        rows, cols = _crop(centre, t1c.spacing, CROP_MM["glioma"])
        k = int(round(centre[0])) + 3
        for number, series, window, name in (
            (1, t1c, (700.0, 1400.0), "T1+C, enhancing tumour"),
            (2, flair, (620.0, 1240.0), "FLAIR, oedema"),
        ):
            gray = _window(modality_values(series)[k, rows, cols], *window)
            masks = {x: s.masks[number][k, rows, cols] for x, s in observers.items()}
            tiles.append(_tile(gray, masks))
            labels.append(f"{name}, slice {k + 1}")
    _save(tiles, labels, out)


def _save(tiles: list[np.ndarray], labels: list[str], out: str) -> None:
    size = TILE_PX
    gap, top, legend = 10, 22, 30
    canvas = Image.new(
        "RGB", (len(tiles) * (size + gap) + gap, legend + top + size + gap), (32, 33, 36)
    )
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    x = gap
    for letter, text in (
        ("A", "observer A, generous"),
        ("B", "observer B, tight"),
        ("C", "observer C, loose hand"),
    ):
        draw.rectangle([x, 12, x + 18, 16], fill=COLOURS[letter])
        draw.text((x + 24, 6), text, fill=(232, 234, 237), font=font)
        x += 24 + int(draw.textlength(text, font=font)) + 24
    for n, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        image = Image.fromarray(tile)
        x = gap + n * (size + gap)
        canvas.paste(image, (x, legend + top))
        draw.text((x, legend + 4), label, fill=(154, 160, 166), font=font)
    canvas.save(out)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "experts.png")
