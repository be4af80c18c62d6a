"""The picture of the sample PET in docs/samples.md: a coronal MIP and three axial slices.

    python tests/pet_picture.py docs/samples/pet-after.png

Run with the repository first on ``PYTHONPATH``. The SUV comes from the generator
itself (``dicomteach.samples.pet_ct``), on the PET grid, inverted grey as nuclear
medicine readers look at FDG (black is hot), SUV 0 to 10.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dicomteach.samples import pet_ct

SCALE = 3  # screen pixels per PET pixel across
SUV_TOP = 10.0


def _grey(suv: np.ndarray, height_mm: float, width_mm: float) -> Image.Image:
    values = 255 - np.clip(suv / SUV_TOP, 0.0, 1.0) * 255
    image = Image.fromarray(values.astype(np.uint8))
    per_mm = SCALE / pet_ct.PET_MM
    return image.resize((round(width_mm * per_mm), round(height_mm * per_mm)), Image.BILINEAR)


def picture(seed: int = 0) -> Image.Image:
    """Coronal MIP (head up) beside axial slices through the brain, heart and kidneys."""
    suv = pet_ct.pet_suv(pet_ct.body_labels(seed), seed)
    n, rows, cols = suv.shape
    width_mm = cols * pet_ct.PET_MM
    mip = _grey(suv.max(axis=1)[::-1], n * pet_ct.SLICE_MM, width_mm)
    panels = [("coronal MIP", mip)]
    for name, z_mm in (("brain", 615.0), ("heart", 445.0), ("kidneys", 290.0)):
        k = int(round(z_mm / pet_ct.SLICE_MM))
        panels.append((f"{name}, z {z_mm:.0f} mm", _grey(suv[k], rows * pet_ct.PET_MM, width_mm)))
    gap, label = 8, 16
    width = sum(p.width for _, p in panels) + gap * (len(panels) - 1)
    height = max(p.height for _, p in panels) + label
    sheet = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(sheet)
    x = 0
    for name, panel in panels:
        draw.text((x + 2, 2), name, fill=0)
        sheet.paste(panel, (x, label))
        x += panel.width + gap
    return sheet


if __name__ == "__main__":
    picture().save(Path(sys.argv[1]))
