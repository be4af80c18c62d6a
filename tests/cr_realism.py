"""How real the sample chest radiograph looks: figures measured the same way on it and on a real CR.

The real film is ``RG1_UNCR.dcm`` (pydicom-data): a Philips PA chest CR,
MONOCHROME1, 1955 × 1841, of a woman with several lung metastases. Its header
gives no pixel spacing (0), so every figure that depends on scale is counted
in widths of the film's own thorax (:func:`thorax_width`, the span of the
lungs at mid-height), not in millimetres.

Each film is first put on one display scale (:func:`display`): MONOCHROME1
inverted so that white is dense, then 0 at the 1st and 1 at the 99th
percentile of its central three quarters. Regions are fractions of the film
``(row0, row1, col0, col1)`` chosen per film on the same anatomy
(:data:`REGIONS`): a right upper zone between the clavicle and the hilum, clear
of the real patient's metastases, and the heart over the spine.

- ``lung_level``, ``mediastinum_level``: medians of those regions: how dark
  the lungs are printed, how white the mediastinum;
- ``lung_texture``: the standard deviation, in the lung region, of a
  band-pass (a difference of Gaussians of 0.25 % and 1 % of the thorax width,
  about 0.7 and 3 mm): vessels, rib edges and noise at the scale a reader
  looks at;
- ``rib_period``: the strongest period of the vertical profile through the
  lung (a band at a quarter of the thorax width from the midline on the
  patient's right, detrended), in thorax widths: ribs crossing it.

``python tests/cr_realism.py PICTURE [--before FOLDER]`` writes the pictures of
``docs/samples.md`` (PICTURE: the sample's current and prior films, the real
one, and the film ``FOLDER/current/IM000001.dcm`` of an older generator if
given; ``PICTURE-nodule.png``: 6 cm round the nodule on the current film, the
prior and their difference) and prints the figures.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from dicomteach import io

#: Regions of each film (fractions: row0, row1, col0, col1) on the same anatomy.
REGIONS = {
    "sample": {"lung": (0.22, 0.36, 0.12, 0.3), "mediastinum": (0.48, 0.6, 0.47, 0.53)},
    "real": {"lung": (0.14, 0.3, 0.14, 0.34), "mediastinum": (0.5, 0.65, 0.48, 0.53)},
}


def display(path: Path) -> np.ndarray:
    """The film on one display scale: white dense, 0 and 1 at its central 1st and 99th percentiles."""
    vol = io.load(path)
    return display_values(vol.pixels[0], inverted=vol.inverted)


def display_values(stored: np.ndarray, *, inverted: bool) -> np.ndarray:
    """:func:`display` of stored values (``inverted``: MONOCHROME1)."""
    values = -stored.astype(float) if inverted else stored.astype(float)
    rows, cols = values.shape
    centre = values[rows // 8 : -rows // 8, cols // 8 : -cols // 8]
    low, high = np.percentile(centre, [1, 99])
    return (values - low) / (high - low)


def region(image: np.ndarray, fractions: tuple[float, float, float, float]) -> np.ndarray:
    rows, cols = image.shape
    r0, r1, c0, c1 = fractions
    return image[int(rows * r0) : int(rows * r1), int(cols * c0) : int(cols * c1)]


def thorax_width(image: np.ndarray, lung: float, mediastinum: float) -> int:
    """Pixels from the outer edge of one lung to the other's, on the rows at 30–40 % height.

    A column is lung where the median of those rows is darker than 40 % of
    the way from the lung's level to the mediastinum's, in a run at least 3 %
    of the film wide.
    """
    profile = np.median(region(image, (0.3, 0.4, 0.0, 1.0)), axis=0)
    dark = profile < lung + 0.4 * (mediastinum - lung)
    # the lungs are the long dark runs: a sliver of air at the film's edge is not
    labels, count = ndimage.label(dark)
    spans = ndimage.find_objects(labels)
    lungs = [s[0] for s in spans if s[0].stop - s[0].start >= 0.03 * len(profile)]
    return int(lungs[-1].stop - lungs[0].start)


def lung_texture(image: np.ndarray, lung_region: tuple, width: int) -> float:
    """Standard deviation of a band-pass (0.25 % to 1 % of the thorax width) in the lung region."""
    fine, coarse = 0.0025 * width, 0.01 * width
    band = ndimage.gaussian_filter(image, fine) - ndimage.gaussian_filter(image, coarse)
    return float(region(band, lung_region).std())


def rib_period(image: np.ndarray, width: int) -> float:
    """Strongest period (thorax widths) of the lung's vertical profile a quarter width right of centre."""
    rows, cols = image.shape
    centre = cols // 2
    column = centre - width // 4  # the patient's right: the image's left
    band = image[int(rows * 0.2) : int(rows * 0.6), column - width // 40 : column + width // 40]
    profile = band.mean(axis=1)
    trend = ndimage.gaussian_filter1d(profile, 0.04 * width)
    detail = profile - trend
    spectrum = np.abs(np.fft.rfft(detail * np.hanning(len(detail)))) ** 2
    periods = len(detail) / np.maximum(np.arange(len(spectrum)), 1e-9)
    usable = (periods > 0.03 * width) & (periods < 0.15 * width)
    best = np.argmax(np.where(usable, spectrum, 0))
    return float(periods[best] / width)


def figures(image: np.ndarray, regions: dict) -> dict[str, float]:
    """Every figure of one film on the display scale (:func:`display`)."""
    lung = float(np.median(region(image, regions["lung"])))
    mediastinum = float(np.median(region(image, regions["mediastinum"])))
    width = thorax_width(image, lung, mediastinum)
    return {
        "lung_level": lung,
        "mediastinum_level": mediastinum,
        "lung_texture": lung_texture(image, regions["lung"], width),
        "rib_period": rib_period(image, width),
        "thorax_width_fraction": width / image.shape[1],
    }


def real_film() -> Path:
    from pydicom.data import get_testdata_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom-data's lookup warns about files it cannot fetch
        path = get_testdata_file("RG1_UNCR.dcm", download=False)
    if path is None:
        raise FileNotFoundError("RG1_UNCR.dcm (pydicom-data) is not installed")
    return Path(path)


def _panel(path: Path, height: int) -> np.ndarray:
    from PIL import Image

    image = np.clip(display(path), 0.0, 1.0)
    rows, cols = image.shape
    picture = Image.fromarray((image * 255).astype(np.uint8))
    return np.asarray(picture.resize((round(cols * height / rows), height), Image.LANCZOS))


def _nodule_detail(current: Path, prior: Path, picture: Path) -> None:
    """6 cm round the nodule: the current film, the prior (the same anatomy), and their difference."""
    from PIL import Image

    from dicomteach.samples import cr_chest

    half = round(30.0 / cr_chest.PIXEL_MM)
    crops = []
    for exam, path in (("current", current), ("prior", prior)):
        image = display(path)
        row, col = (round(v) for v in cr_chest.nodule_pixel(0, exam))
        crops.append(image[row - half : row + half, col - half : col + half])
    change = crops[0] - crops[1]
    difference = 0.5 + 3.0 * (change - np.median(change))  # a temporal subtraction, ×3
    gap = np.ones((2 * half, 16))
    panels = [np.clip(crop, 0.0, 1.0) for crop in (*crops, difference)]
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    Image.fromarray((row * 255).astype(np.uint8)).resize(
        (row.shape[1] * 2 // 3, row.shape[0] * 2 // 3), Image.LANCZOS
    ).save(picture)


def main(argv: list[str]) -> int:
    from PIL import Image

    from dicomteach.samples import cr_chest

    picture = Path(argv[0])
    before = Path(argv[argv.index("--before") + 1]) if "--before" in argv else None
    with tempfile.TemporaryDirectory() as scratch:
        cr_chest.write(scratch, seed=0)
        current = Path(scratch) / "current" / "IM000001.dcm"
        prior = Path(scratch) / "prior" / "IM000001.dcm"
        films, names = [current, prior], ["sample now", "sample prior"]
        if before is not None:
            films.insert(0, before / "current" / "IM000001.dcm")
            names.insert(0, "sample before")
        films.append(real_film())
        names.append("real RG1")
        panels = [_panel(path, 440) for path in films]
        gap = np.full((440, 8), 255, dtype=np.uint8)
        row = np.concatenate([x for panel in panels for x in (panel, gap)][:-1], axis=1)
        Image.fromarray(row).save(picture)
        _nodule_detail(current, prior, picture.with_name(picture.stem + "-nodule.png"))
        for name, path in zip(names, films, strict=True):
            kind = "real" if name.startswith("real") else "sample"
            numbers = figures(display(path), REGIONS[kind])
            print(name, " ".join(f"{k}={v:.3f}" for k, v in numbers.items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
