"""The picture of kernels and streaks in docs/samples.md: one patient four ways.

    python tests/ct_kernel_picture.py docs/samples/ct-chest-kernels.png

Run with the repository first on ``PYTHONPATH``. Patient 0 of
``ct_chest.population(0, 8)`` (a big man, GE habits), written at 512² for one
slab near the lung apices: the soft kernel, the lung kernel (edges lifted,
noise sharper), and the soft kernel with streaks from the bones, then the
streaks alone (the streaked image minus the plain one; same noise, same
anatomy). The top row is a 12 cm crop of the right posterior chest wall at the
lung window at the hila (z −22.5 mm), the bottom row the whole slice at the
apices (z 57.5 mm) at the mediastinal window.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dicomteach import io
from dicomteach.samples import ct_chest

SLICES = 48  # 2.5 mm slices from 95 mm down: the apices to the hila
HILA, APICES = 8, 40  # the slices shown (counted from the bottom): z -22.5 and 57.5 mm


def _window(hu: np.ndarray, centre: float, width: float) -> np.ndarray:
    return (np.clip((hu - centre + width / 2.0) / width, 0.0, 1.0) * 255).astype(np.uint8)


def _write(folder: Path, person, exam) -> np.ndarray:
    ct_chest.write(folder, seed=person.seed, person=person, examination=exam, slices=SLICES)
    vol = io.load(folder / "baseline" / "ct")
    return (vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0])[[HILA, APICES]]


def picture() -> Image.Image:
    person, exam = ct_chest.population(0, 8)[0]
    cases = {
        "soft kernel": dataclasses.replace(exam, kernel="soft", streaks=False),
        "lung kernel": dataclasses.replace(exam, kernel="sharp", streaks=False),
        "soft, streaks": dataclasses.replace(exam, kernel="soft", streaks=True),
    }
    with tempfile.TemporaryDirectory() as tmp:
        hu = {
            name: _write(Path(tmp) / str(i), person, case)
            for i, (name, case) in enumerate(cases.items())
        }
    pixel = exam.field_of_view / 512
    crop = int(round(120.0 / pixel))
    r0, c0 = 256 - crop // 4, 256 - int(round(150.0 / pixel))
    top, bottom = [], []
    for name, image in hu.items():
        top.append((name, _window(image[0, r0 : r0 + crop, c0 : c0 + crop], -600, 1500)))
        bottom.append((name, _window(image[1], 40, 400)))
    streak = hu["soft, streaks"] - hu["soft kernel"]
    top.append(("streaks alone ±50 HU", _window(streak[0, r0 : r0 + crop, c0 : c0 + crop], 0, 100)))
    bottom.append(("streaks alone ±50 HU", _window(streak[1], 0, 100)))
    size = 300
    sheet = Image.new("L", (size * 4, size * 2 + 40), 0)
    draw = ImageDraw.Draw(sheet)
    for row, panels in enumerate((top, bottom)):
        for col, (name, array) in enumerate(panels):
            tile = Image.fromarray(array).resize((size, size), Image.BILINEAR)
            sheet.paste(tile, (col * size, row * (size + 20) + 20))
            if row == 0:
                draw.text((col * size + 6, 4), name, fill=255)
    return sheet


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "ct-chest-kernels.png")
    picture().save(out, optimize=True)
    print(f"wrote {out}")
