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

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomteach.samples import patient as P
from dicomteach.samples import realism

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


@pytest.fixture(scope="module")
def fine_ct(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[np.ndarray], float, object]:
    """Soft-tissue squares (11 mm) of the full-resolution CT chest (0.7 mm pixels), top 16 slices.

    The lessons' 1.4 mm variant has too few uniform squares of muscle to
    measure its noise on; the library's full-size study is the one to match.
    """
    from dicomteach import io
    from dicomteach.samples import ct_chest

    dest = tmp_path_factory.mktemp("ct-fine")
    ct_chest.write(dest, seed=0, size=512, slices=16)
    folder = dest / "baseline" / "ct"
    vol = io.load(folder)
    hu = (vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]).astype(float)
    rois = [roi for k in range(len(hu)) for roi in realism.soft_tissue_rois(hu[k], size=16)]
    header = pydicom.dcmread(sorted(folder.glob("*.dcm"))[0], stop_before_pixels=True)
    return rois, float(vol.spacing[1]), header


class TestSampleAgainstRealScans:
    def test_noise_has_the_spectrum_of_the_soft_kernel_the_header_names(self, fine_ct) -> None:
        rois, pixel, header = fine_ct
        assert list(header.ConvolutionKernel) == ["I30f", "3"]  # Siemens' soft body kernel
        assert len(rois) > 40
        real, real_pixel = _real("bad_sequence.dcm")  # Siemens B30s: a soft body kernel
        real_peak = realism.nps_peak_frequency(realism.soft_tissue_rois(real, size=32), real_pixel)
        assert abs(realism.nps_peak_frequency(rois, pixel) - real_peak) < 0.1

    def test_soft_tissue_grain_is_within_the_real_scans(self, fine_ct) -> None:
        rois, pixel, _ = fine_ct
        sample = realism.soft_tissue_texture(rois, pixel)
        real, real_pixel = _real("bad_sequence.dcm")
        measured = realism.soft_tissue_texture(realism.soft_tissue_rois(real), real_pixel)
        assert 0.5 * measured.sd_hu < sample.sd_hu < 2.0 * measured.sd_hu
        assert 0.5 * measured.correlation_mm < sample.correlation_mm < 2.0 * measured.correlation_mm

    def test_tissue_peaks_lie_within_the_real_scans(self, lesson_ct, real_peaks) -> None:
        hu, _, _ = lesson_ct
        peaks = realism.tissue_peaks(hu[30])
        fats = [real_peaks[n].fat for n in WITH_FAT]
        softs = [real_peaks[n].soft_tissue for n in NON_CONTRAST_SOFT]
        assert min(fats) - 15 <= peaks.fat <= max(fats) + 15
        assert min(softs) - 10 <= peaks.soft_tissue <= max(softs) + 10
