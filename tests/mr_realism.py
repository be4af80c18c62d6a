"""How real the sample MR brain looks: figures measured the same way on it and on real MR files.

Each function takes a 2D image of modality values (one slice) and a mask of
the region it looks at, and returns a number a radiologist or a physicist
would recognise:

- ``background_ratio``: mean ÷ standard deviation of the air around the
  patient. A magnitude image's background is Rayleigh-distributed noise,
  whose ratio is √(π/2) ÷ √(2 − π/2) ≈ 1.91 whatever the noise level; a
  picture with Gaussian noise, or none, is far from it.
- ``snr``: the 90th percentile of the patient's signal over the noise σ
  estimated from the background's mean (σ = mean ÷ √(π/2)).
- ``contrast_ratio``: grey ÷ white matter, the means of the middle and
  bright classes of a three-class split (k-means) of the brain's values.
- ``texture``: in a homogeneous tissue, the coefficient of variation of the
  values after a 5×5 local mean is taken out, and the correlation of each
  pixel with its neighbours, averaged over rows and columns (noise that
  k-space filtering, zero filling or interpolation has smoothed is
  correlated; white noise is not).
- ``histogram_entropy``: bits of the 64-bin histogram of a region's values
  (1st to 99th percentile): an image drawn with a few flat grey levels has
  a spiky histogram and few bits, a real one is spread.

``python tests/mr_realism.py FOLDER`` writes the pictures and prints the
table of ``docs/samples.md`` for the MR study in FOLDER (written by
``dicomteach sample-data`` or ``mr_brain.write``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

#: Mean ÷ standard deviation of a Rayleigh distribution (a magnitude image's air).
RAYLEIGH_RATIO = math.sqrt(math.pi / 2) / math.sqrt(2 - math.pi / 2)


def background_ratio(image: np.ndarray, air: np.ndarray) -> float:
    """Mean ÷ standard deviation of the values in ``air``."""
    values = image[air].astype(float)
    return float(values.mean() / values.std())


def noise_sigma(image: np.ndarray, air: np.ndarray) -> float:
    """σ of the complex noise, from the mean of the Rayleigh-distributed air."""
    return float(image[air].astype(float).mean() / math.sqrt(math.pi / 2))


def snr(image: np.ndarray, patient: np.ndarray, air: np.ndarray) -> float:
    """90th percentile of the patient's values over the noise σ."""
    return float(np.percentile(image[patient], 90) / noise_sigma(image, air))


def three_classes(values: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Means of a three-class k-means of ``values`` (1D), dark to bright."""
    values = values.astype(float)
    centres = np.percentile(values, [15, 50, 85])
    for _ in range(iterations):
        nearest = np.abs(values[:, None] - centres[None, :]).argmin(axis=1)
        centres = np.array(
            [values[nearest == k].mean() if np.any(nearest == k) else centres[k] for k in range(3)]
        )
    return np.sort(centres)


def contrast_ratio(image: np.ndarray, brain: np.ndarray) -> float:
    """Grey ÷ white matter: middle ÷ bright class of the brain's values (T1: white is bright)."""
    _csf, grey, white = three_classes(image[brain])
    return float(grey / white)


def texture(image: np.ndarray, tissue: np.ndarray) -> tuple[float, float]:
    """Coefficient of variation and neighbour correlation of ``tissue`` after a 5×5 local mean."""
    image = image.astype(float)
    inner = ndimage.binary_erosion(tissue, iterations=3)
    residual = image - ndimage.uniform_filter(image, 5)
    values = residual[inner]
    cv = float(values.std() / image[inner].mean())
    correlations = []
    for axis in (0, 1):  # rows and columns: the phase-encoding direction is either
        first = [slice(None), slice(None)]
        second = [slice(None), slice(None)]
        first[axis], second[axis] = slice(None, -1), slice(1, None)
        pairs = inner[tuple(first)] & inner[tuple(second)]
        a, b = residual[tuple(first)][pairs], residual[tuple(second)][pairs]
        correlations.append(np.corrcoef(a, b)[0, 1])
    return cv, float(np.mean(correlations))


def histogram_entropy(image: np.ndarray, region: np.ndarray) -> float:
    """Bits of the 64-bin histogram of ``region`` between its 1st and 99th percentiles."""
    values = image[region].astype(float)
    low, high = np.percentile(values, [1, 99])
    counts, _edges = np.histogram(values, bins=64, range=(low, high))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def figures(
    image: np.ndarray, *, air: np.ndarray, patient: np.ndarray, brain: np.ndarray, white: np.ndarray
) -> dict[str, float]:
    """Every figure of one T1-weighted slice, given its regions."""
    cv, correlation = texture(image, white)
    return {
        "background_ratio": background_ratio(image, air),
        "snr": snr(image, patient, air),
        "contrast_ratio": contrast_ratio(image, brain),
        "texture_cv": cv,
        "texture_correlation": correlation,
        "histogram_entropy": histogram_entropy(image, brain),
    }


def sample_regions(fractions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Air, patient, normal brain and white matter of a slice of the sample, from its tissue fractions."""
    lesion = (fractions["enhancing"] + fractions["necrosis"] + fractions["oedema"]) > 0.05
    total = sum(fractions.values())
    normal = ~ndimage.binary_dilation(lesion, iterations=3)
    return {
        # air a centimetre away from the head: no partial volume, no ringing
        "air": ~ndimage.binary_dilation(total > 0.001, iterations=10),
        "patient": total > 0.5,
        "brain": ((fractions["grey"] + fractions["white"] + fractions["csf"]) > 0.95) & normal,
        "white": (fractions["white"] > 0.95) & normal,
    }


def real_mr_images() -> dict[str, np.ndarray]:
    """Modality values of the real MR files the figures are compared with (see docs/samples.md)."""
    import pydicom
    from pydicom.data import get_testdata_file

    out = {}
    for name in ("emri_small.dcm", "MR2_UNCR.dcm", "MR_small.dcm"):
        path = get_testdata_file(name, download=False)
        if path is None:
            continue
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(float)
        out[name] = pixels * float(ds.get("RescaleSlope", 1) or 1) + float(
            ds.get("RescaleIntercept", 0) or 0
        )
    return out


def real_figures() -> dict[str, dict[str, float]]:
    """The figures of each real file, where its content allows them (docs/samples.md says why not)."""
    images = real_mr_images()
    out: dict[str, dict[str, float]] = {}
    if "emri_small.dcm" in images:
        # Philips 3 T T1 TFE, a 64×64 crop inside the head: brain, no air
        frames = images["emri_small.dcm"]
        figures = {
            "contrast_ratio": [],
            "texture_cv": [],
            "texture_correlation": [],
            "histogram_entropy": [],
        }
        for frame in frames[:5]:  # the first five frames are the same contrast and level
            brain = frame > 0.15 * np.percentile(frame, 99)
            _csf, grey, white = three_classes(frame[brain])
            bright = frame > (grey + white) / 2
            bright = ndimage.binary_opening(bright, iterations=1)
            cv, correlation = texture(frame, bright)
            figures["contrast_ratio"].append(grey / white)
            figures["texture_cv"].append(cv)
            figures["texture_correlation"].append(correlation)
            figures["histogram_entropy"].append(histogram_entropy(frame, brain))
        out["emri_small.dcm"] = {k: float(np.median(v)) for k, v in figures.items()}
    if "MR2_UNCR.dcm" in images:
        # Philips 1.5 T T1 spin echo of a shoulder, 1024² (interpolated): air, fat, marrow
        image = images["MR2_UNCR.dcm"]
        air = np.zeros(image.shape, bool)
        air[150:350, 20:250] = True  # air above the shoulder, looked at: no patient, no padding
        patient = ndimage.uniform_filter(image, 9) > 0.2 * np.percentile(image, 99)
        marrow = _largest_bright_region(image, patient)
        cv, correlation = texture(image, marrow)
        out["MR2_UNCR.dcm"] = {
            "background_ratio": background_ratio(image, air),
            "snr": snr(image, patient, air),
            "texture_cv": cv,
            "texture_correlation": correlation,
        }
    if "MR_small.dcm" in images:
        # Toshiba T2 spin echo, a 64×64 crop: no air, no grey/white contrast to compare
        image = images["MR_small.dcm"]
        region = image > np.percentile(image, 5)
        out["MR_small.dcm"] = {"histogram_entropy": histogram_entropy(image, region)}
    return out


def _largest_bright_region(image: np.ndarray, patient: np.ndarray) -> np.ndarray:
    """The largest connected region of the patient's brightest third (fat or fatty marrow)."""
    level = np.percentile(image[patient], 67)
    labels, count = ndimage.label(ndimage.binary_opening(image > level, iterations=2) & patient)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=range(1, count + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def middle_slices(folder: Path) -> tuple[np.ndarray, ...]:
    """The middle axial slice of each series (T1, T1+C, FLAIR) of a written MR brain study, as shown.

    Read back through ``dicomteach.io`` and windowed with each series' own
    window, so this works on the files of any version of the generator (a
    series the version did not write is left out).
    """
    from dicomteach import io
    from dicomteach.imaging import modality_values, window_to_uint8

    shown = []
    for series in ("t1", "t1c", "flair"):
        if not (folder / series).is_dir():
            continue
        volume = io.load(folder / series)
        values = modality_values(volume)[volume.pixels.shape[0] // 2]
        shown.append(window_to_uint8(values, volume.windows[0]))
    return tuple(shown)


def real_panel() -> np.ndarray:
    """Real MR files beside the sample: emri_small's first frame (brain, 3 T T1) and MR2 (1.5 T T1 SE)."""
    from PIL import Image

    images = real_mr_images()
    tiles = []
    for name, size in (("emri_small.dcm", 256), ("MR2_UNCR.dcm", 256)):
        image = images[name][0] if images[name].ndim == 3 else images[name]
        scaled = np.clip(image / np.percentile(image, 99.5) * 255, 0, 255).astype(np.uint8)
        tiles.append(np.asarray(Image.fromarray(scaled).resize((size, size), Image.LANCZOS)))
    return np.concatenate(tiles, axis=1)


def main(argv: list[str]) -> int:  # pragma: no cover - a maintainer's tool for docs/samples.md
    """``python tests/mr_realism.py OUT.png`` (the sample) or ``--real OUT.png`` (the real files)."""
    import tempfile

    from PIL import Image

    if argv[:1] == ["--real"]:
        Image.fromarray(real_panel()).save(argv[1], optimize=True)
        for name, values in real_figures().items():
            print(name, {k: round(v, 3) for k, v in values.items()})
        return 0
    from dicomteach.samples import mr_brain

    with tempfile.TemporaryDirectory() as folder:
        mr_brain.write(Path(folder), seed=0)
        shown = middle_slices(Path(folder))
    Image.fromarray(np.concatenate(shown, axis=1)).save(argv[0], optimize=True)
    if hasattr(mr_brain, "brain_model"):
        head = mr_brain.brain_model(0)
        k = mr_brain.SHAPE[0] // 2
        values = mr_brain.intensities(head, "t1c", 0)[k]
        regions = sample_regions({name: f[k] for name, f in head.fractions.items()})
        print({name: round(v, 3) for name, v in figures(values, **regions).items()})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
