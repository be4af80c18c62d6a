"""Measurements of how real a CT looks (dicomteach/samples/realism.py), on real scans and samples.

The real CT files are the ones pydicom and pydicom-data ship, chosen because
they are ordinary clinical reconstructions of people (not phantoms or test
patterns) with their kernel named:

* ``CT_small.dcm`` (GE, STANDARD kernel, 0.66 mm): a piece of a chest, the
  only real chest CT there; fat and paraspinal muscle;
* ``bad_sequence.dcm`` (Siemens, B30s soft kernel, 0.29 mm, 1 mm slice): the
  back of the neck, large uniform muscles, the one Siemens body kernel;
* ``explicit_VR-UN.dcm`` (abdomen, 0.86 mm): plenty of fat; its soft tissue is
  contrast-enhanced, so only its fat peak is used;
* ``693_UNCR.dcm`` and ``J2K_pixelrep_mismatch.dcm`` (head, STANDARD/"11"
  kernels): brain is the most uniform soft tissue there is; used for the
  soft-tissue peak and the noise texture, not for fat.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomteach.samples import ct_chest, realism
from dicomteach.samples import patient as P

BODY = ("CT_small.dcm", "bad_sequence.dcm", "explicit_VR-UN.dcm")
NON_CONTRAST_SOFT = (
    "CT_small.dcm",
    "bad_sequence.dcm",
    "693_UNCR.dcm",
    "J2K_pixelrep_mismatch.dcm",
)
WITH_FAT = ("CT_small.dcm", "explicit_VR-UN.dcm")


def _real(name: str) -> tuple[np.ndarray, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom-data's lookup warns about files it cannot fetch
        path = get_testdata_file(name)
    assert path is not None, f"{name} not installed (pydicom-data)"
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    return hu.astype(float), float(ds.PixelSpacing[0])


@pytest.fixture(scope="module")
def real_peaks() -> dict[str, realism.TissuePeaks]:
    out = {}
    for name in set(NON_CONTRAST_SOFT) | set(WITH_FAT):
        hu, _ = _real(name)
        body = realism.body_mask(hu)
        try:
            out[name] = realism.tissue_peaks(hu, body)
        except ValueError:  # heads hold no fat peak: only their soft tissue is used
            out[name] = realism.tissue_peaks(np.where(hu > -30, hu, -150.0), body)
    return out


class TestRealScans:
    def test_fat_and_soft_tissue_peaks_lie_in_published_ranges(self, real_peaks) -> None:
        for name in WITH_FAT:
            assert -120 <= real_peaks[name].fat <= -80, name
        for name in NON_CONTRAST_SOFT:
            assert 20 <= real_peaks[name].soft_tissue <= 65, name

    def test_a_soft_body_kernel_peaks_near_a_third_of_a_cycle_per_mm(self) -> None:
        hu, pixel = _real("bad_sequence.dcm")  # Siemens B30s
        rois = realism.soft_tissue_rois(hu, size=32)
        assert len(rois) == 8
        assert 0.2 < realism.nps_peak_frequency(rois, pixel) < 0.45
        texture = realism.soft_tissue_texture(rois, pixel)
        assert 5 < texture.sd_hu < 25
        assert 0.3 < texture.correlation_mm < 1.5

    def test_a_region_without_fat_is_reported(self) -> None:
        muscle = np.random.default_rng(0).normal(45.0, 10.0, (64, 64))  # muscle only
        with pytest.raises(ValueError, match="no fat peak between -200 and -30 HU"):
            realism.tissue_peaks(muscle, np.ones(muscle.shape, bool))


def test_patient_model_peaks_lie_within_the_real_scans(real_peaks) -> None:
    p = P.make_patient(0, tree=False)
    axis = ((np.arange(256) - 127.5) * 1.4).astype(np.float32)
    hu, _ = P.render(p, np.array([-40.0, -42.5], np.float32), axis, axis)
    # the model is noise-free for now: noise of a soft kernel widens the peaks, not moves them
    hu = hu[0] + np.random.default_rng(0).normal(0.0, 12.0, hu[0].shape)
    peaks = realism.tissue_peaks(hu)
    fats = [real_peaks[n].fat for n in WITH_FAT]
    softs = [real_peaks[n].soft_tissue for n in NON_CONTRAST_SOFT]
    assert min(fats) - 15 <= peaks.fat <= max(fats) + 15
    assert min(softs) - 10 <= peaks.soft_tissue <= max(softs) + 10


@pytest.fixture(scope="module")
def lesson_ct() -> tuple[np.ndarray, float, pydicom.Dataset]:
    """The CT chest baseline the lessons open (256², 60 slices), in Hounsfield units."""
    from dicomteach import io
    from dicomteach.samples.cache import lesson_study

    folder = lesson_study("ct-chest", size=256, slices=60) / "baseline" / "ct"
    vol = io.load(folder)
    header = pydicom.dcmread(sorted(folder.glob("*.dcm"))[0], stop_before_pixels=True)
    hu = vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]
    return hu.astype(float), float(vol.spacing[1]), header


#: The library's CT chest as the noise tests write it: full size, the top 16 slices.
NOISE_SIZE, NOISE_SLICES = 512, 16
#: Noise squares: 32 pixels (22 mm at 0.7 mm), fine enough bins to see the spectrum's shape.
NOISE_SQUARE = 32


def _old_box_noise(
    hu: np.ndarray, pixel: float, sd: float, peak: float, rng: np.random.Generator
) -> None:
    """The sample's noise before decision 24: white noise smoothed by a 2×2 box, SD about 14 HU."""
    for k in range(hu.shape[0]):
        n = rng.standard_normal(hu.shape[1:], dtype=np.float32) * np.float32(14.0 * 2.0)
        n = 0.5 * (n + np.roll(n, 1, 0))
        n = 0.5 * (n + np.roll(n, 1, 1))
        hu[k] += np.where(hu[k] > -995.0, n, np.float32(0.0))


def _written_noise(
    dest: Path, examination: ct_chest.Examination | None = None, noise=None
) -> tuple[list[np.ndarray], float, pydicom.Dataset]:
    """Squares of the noise of the written baseline, and its pixel size and first header.

    The noise is what the files hold minus the noise-free image the noise
    was added to (caught on its way in): pure noise over the whole body, lungs
    included, so no square is chosen for how its noise happens to look.
    """
    clean: list[np.ndarray] = []
    add = noise or ct_chest._add_noise

    def catch(hu: np.ndarray, *args) -> None:
        clean.append(hu.copy())
        add(hu, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ct_chest, "_add_noise", catch)
        ct_chest.write(dest, seed=0, size=NOISE_SIZE, slices=NOISE_SLICES, examination=examination)
    from dicomteach import io

    folder = dest / "baseline" / "ct"
    vol = io.load(folder)
    hu = (vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]).astype(float)
    noise = hu - clean[0]
    body = clean[0] > -995.0
    n = NOISE_SQUARE
    rois = [
        noise[k, r : r + n, c : c + n]
        for k in range(len(hu))
        for r in range(0, hu.shape[1] - n + 1, n)
        for c in range(0, hu.shape[2] - n + 1, n)
        if body[k, r : r + n, c : c + n].all()
    ]
    header = pydicom.dcmread(sorted(folder.glob("*.dcm"))[0], stop_before_pixels=True)
    return rois, float(vol.spacing[1]), header


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """The noise of the library's CT chest, of the same with a lung kernel, and of the old one."""
    return {
        name: _written_noise(tmp_path_factory.mktemp(f"ct-{name}"), *how)
        for name, how in (
            ("soft", ()),
            ("sharp", (ct_chest.Examination(kernel="sharp"),)),
            ("old", (None, _old_box_noise)),
        )
    }


@pytest.fixture(scope="module")
def real_noise() -> realism.NoiseFigures:
    """Real soft-kernel noise: the 16 most uniform 9 mm squares of the Siemens B30s neck."""
    hu, pixel = _real("bad_sequence.dcm")
    return realism.noise_figures(realism.soft_tissue_rois(hu, size=32, count=16, stride=8), pixel)


def _unlike_a_soft_kernel(figures: realism.NoiseFigures) -> list[str]:
    """What in noise figures is unlike a soft body kernel's (nothing for real B30s noise)."""
    problems = []
    if not 0.2 <= figures.peak_per_mm <= 0.45:
        problems.append(f"spectrum peaks at {figures.peak_per_mm:.2f} cycles/mm")
    if not figures.low_to_peak <= 0.65:
        problems.append(f"low-frequency power {figures.low_to_peak:.2f} of the peak")
    if not figures.trough <= -0.05:
        problems.append(f"autocorrelation never below {figures.trough:.3f}")
    return problems


class TestNoise:
    def test_real_soft_kernel_noise_has_the_figures(self, real_noise) -> None:
        assert _unlike_a_soft_kernel(real_noise) == []

    def test_sample_noise_is_the_soft_kernel_the_header_names(self, noise, real_noise) -> None:
        rois, pixel, header = noise["soft"]
        assert list(header.ConvolutionKernel) == ["I30f", "3"]  # Siemens' soft body kernel
        assert len(rois) > 40
        figures = realism.noise_figures(rois, pixel)
        assert _unlike_a_soft_kernel(figures) == []
        # and its grain: standard deviation and correlation length near the real one's
        assert 0.5 * real_noise.sd_hu < figures.sd_hu < 2.0 * real_noise.sd_hu
        assert 0.5 * real_noise.correlation_mm < figures.correlation_mm
        assert figures.correlation_mm < 2.0 * real_noise.correlation_mm

    def test_old_box_smoothed_white_noise_is_told_apart(self, noise) -> None:
        rois, pixel, _ = noise["old"]
        problems = _unlike_a_soft_kernel(realism.noise_figures(rois, pixel))
        assert len(problems) == 3, problems

    def test_lung_kernel_noise_peaks_beyond_half_a_cycle_per_mm(self, noise) -> None:
        rois, pixel, header = noise["sharp"]
        assert list(header.ConvolutionKernel) == ["I70f", "3"]  # Siemens' sharp lung kernel
        sharp = realism.noise_figures(rois, pixel)
        soft = realism.noise_figures(*noise["soft"][:2])
        assert sharp.peak_per_mm >= 0.5
        assert sharp.low_to_peak < soft.low_to_peak
        assert sharp.correlation_mm < soft.correlation_mm
        assert sharp.sd_hu > 2.0 * soft.sd_hu


class TestSampleAgainstRealScans:
    def test_tissue_peaks_lie_within_the_real_scans(self, lesson_ct, real_peaks) -> None:
        hu, _, _ = lesson_ct
        peaks = realism.tissue_peaks(hu[30])
        fats = [real_peaks[n].fat for n in WITH_FAT]
        softs = [real_peaks[n].soft_tissue for n in NON_CONTRAST_SOFT]
        assert min(fats) - 15 <= peaks.fat <= max(fats) + 15
        assert min(softs) - 10 <= peaks.soft_tissue <= max(softs) + 10
