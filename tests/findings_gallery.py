"""The pictures of docs/samples.md's "Findings": each finding of the teaching file, its mimics, a real lung.

    PYTHONPATH=. python tests/findings_gallery.py docs/samples/ct-findings.png

writes the teaching file (``ct-chest-findings``, seed 0) into a temporary
folder and draws, for each finding, the slice where its SEG is largest, 44 mm
square round it, at the lung window (W1500 L−600) above and the mediastinal
window (W350 L50) below, its SEG outlined in a third row; then each vessel
seen end-on on three successive slices; then the one real lung there is to
compare with, pydicom's ``CT_small.dcm``, at the same scale.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.data import get_testdata_file
from scipy import ndimage

from dicomteach import io
from dicomteach.roi import read_seg
from dicomteach.samples import ct_findings

#: Side of each crop (mm), and how many screen pixels a millimetre gets.
CROP_MM = 44.0
SCALE = 4.0
LUNG, MEDIASTINUM = (-600.0, 1500.0), (50.0, 350.0)


def _window(hu: np.ndarray, centre_width: tuple[float, float]) -> np.ndarray:
    centre, width = centre_width
    return np.clip((hu - (centre - width / 2.0)) / width * 255.0, 0, 255).astype(np.uint8)


def _crop(plane: np.ndarray, row: float, col: float, pixel: float) -> np.ndarray:
    half = int(round(CROP_MM / pixel / 2.0))
    r, c = int(round(row)), int(round(col))
    padded = np.pad(plane, half, mode="edge")
    return padded[r : r + 2 * half, c : c + 2 * half]


def _tile(
    gray: np.ndarray, outline: np.ndarray | None = None, *, ring: bool = False
) -> Image.Image:
    side = int(CROP_MM * SCALE)
    image = Image.fromarray(gray).resize((side, side), Image.LANCZOS).convert("RGB")
    if ring:  # where the mimic is, without hiding it
        r, c = 5.0 * SCALE, side / 2.0
        ImageDraw.Draw(image).ellipse((c - r, c - r, c + r, c + r), outline=(255, 200, 0), width=2)
    if outline is not None:
        edge = outline & ~ndimage.binary_erosion(outline)
        big = np.array(Image.fromarray(edge.astype(np.uint8) * 255).resize((side, side)))
        pixels = np.array(image)
        pixels[big > 127] = (255, 200, 0)
        image = Image.fromarray(pixels)
    return image


def _column(tiles: list[Image.Image], caption: str) -> Image.Image:
    side = tiles[0].width
    out = Image.new("RGB", (side, 36 + len(tiles) * (side + 4)), "white")
    ImageDraw.Draw(out).text((4, 8), caption, fill="black")
    for n, tile in enumerate(tiles):
        out.paste(tile, (0, 36 + n * (side + 4)))
    return out


def gallery(folder: Path) -> Image.Image:
    """The picture, from a written teaching file."""
    vol = io.load(folder / "ct")
    hu = vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]
    pixel = float(vol.spacing[1])
    segs = read_seg(folder / ct_findings.SEG_NAME, vol)
    manifest = ct_findings.read_manifest(folder)
    columns = []
    for entry in manifest.findings:
        mask = segs.masks[entry.segment]
        k = int(mask.sum(axis=(1, 2)).argmax())
        row, col = ndimage.center_of_mass(mask[k])
        plane = hu[k]
        columns.append(
            _column(
                [
                    _tile(_window(_crop(plane, row, col, pixel), LUNG)),
                    _tile(_window(_crop(plane, row, col, pixel), MEDIASTINUM)),
                    _tile(
                        _window(_crop(plane, row, col, pixel), LUNG),
                        _crop(mask[k], row, col, pixel),
                    ),
                ],
                entry.label,
            )
        )
    for mimic in manifest.mimics[:2]:
        k, row, col = vol.lps_to_index(mimic.centre_mm)
        k = int(round(k))
        tiles = [
            _tile(_window(_crop(hu[kk], row, col, pixel), LUNG), ring=kk == k)
            for kk in (k - 1, k, k + 1)
        ]
        columns.append(_column(tiles, mimic.label))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    real_hu = real.pixel_array * float(real.RescaleSlope) + float(real.RescaleIntercept)
    # its lungs are two corners of a 128-pixel image: the right one, at the same scale
    lung = real_hu[0:64, 0:44]
    size = (
        int(44 * float(real.PixelSpacing[1]) * SCALE),
        int(64 * float(real.PixelSpacing[0]) * SCALE),
    )
    columns.append(
        _column(
            [
                Image.fromarray(_window(lung, window)).resize(size, Image.LANCZOS).convert("RGB")
                for window in (LUNG, MEDIASTINUM)
            ],
            "real: CT_small.dcm (GE)",
        )
    )
    height = max(c.height for c in columns)
    out = Image.new("RGB", (sum(c.width + 6 for c in columns), height), "white")
    x = 0
    for column in columns:
        out.paste(column, (x, 0))
        x += column.width + 6
    return out


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path("ct-findings.png")
    with tempfile.TemporaryDirectory() as tmp:
        ct_findings.write(tmp, seed=0)
        # a palette of greys and the outline colour keeps the file small
        gallery(Path(tmp)).quantize(colors=96).save(target, optimize=True)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
