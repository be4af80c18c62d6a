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
