"""The sample MR brain measured against real MR files no one here made (docs/samples.md).

The real files are pydicom's and pydicom-data's: ``emri_small.dcm`` (Philips
3 T T1 TFE, a 64×64 crop of a brain: grey/white contrast, white-matter
texture, histogram), ``MR2_UNCR.dcm`` (Philips 1.5 T T1 spin echo of a
shoulder: air, so background noise and SNR; a homogeneous marrow region) and
``MR_small.dcm`` (Toshiba T2 spin echo crop: histogram only). Each figure of
the sample's middle slice must lie within the real files' range, widened
where the sample's sequence or field strength differs for a stated reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from mr_realism import (
    RAYLEIGH_RATIO,
    figures,
    real_figures,
    sample_regions,
    three_classes,
)

from dicomteach.samples import mr_brain

SEED = 0


@pytest.fixture(scope="module")
def head() -> mr_brain.Head:
    return mr_brain.brain_model(SEED)


@pytest.fixture(scope="module")
def middle(head: mr_brain.Head) -> dict[str, float]:
    k = mr_brain.SHAPE[0] // 2
    t1c = mr_brain.intensities(head, "t1c", SEED)[k]
    return figures(t1c, **sample_regions({name: f[k] for name, f in head.fractions.items()}))


@pytest.fixture(scope="module")
def real() -> dict[str, dict[str, float]]:
    found = real_figures()
    assert {"emri_small.dcm", "MR2_UNCR.dcm", "MR_small.dcm"} <= set(found), "pydicom-data missing"
    return found


def _range(real: dict[str, dict[str, float]], name: str) -> tuple[float, float]:
    values = [figures[name] for figures in real.values() if name in figures]
    return min(values), max(values)


def test_the_air_is_rayleigh_noise_as_in_a_magnitude_image(middle, real):
    low, _high = _range(real, "background_ratio")
    # the real shoulder's air holds a little ghosting (1.66); pure Rayleigh noise is 1.91
    assert low - 0.05 <= middle["background_ratio"] <= RAYLEIGH_RATIO + 0.05


def test_signal_to_noise_is_that_of_a_clinical_scan(middle, real):
    low, high = _range(real, "snr")
    # the real file is a 1.5 T shoulder; a 3 T head coil gives up to about twice its SNR
    assert 0.7 * low <= middle["snr"] <= 2.5 * high


def test_grey_is_darker_than_white_on_t1_but_less_than_on_an_inversion_prepared_t1(middle, real):
    tfe, _ = _range(real, "contrast_ratio")
    # a spin-echo T1 (the sample) has less grey/white contrast than a T1 TFE (emri_small)
    assert tfe <= middle["contrast_ratio"] <= 0.9


def test_white_matter_has_the_texture_of_a_real_tissue(middle, real):
    low, high = _range(real, "texture_cv")
    assert 0.75 * low <= middle["texture_cv"] <= 1.25 * high
    low, high = _range(real, "texture_correlation")
    assert low - 0.15 <= middle["texture_correlation"] <= high + 0.1


def test_the_brain_histogram_is_spread_like_a_real_one(middle, real):
    low, high = _range(real, "histogram_entropy")
    assert low - 0.3 <= middle["histogram_entropy"] <= high + 0.3


def test_flair_shows_cortex_brighter_than_white_matter_and_dark_fluid(head):
    k = mr_brain.SHAPE[0] // 2
    flair = mr_brain.intensities(head, "flair", SEED)[k]
    regions = sample_regions({name: f[k] for name, f in head.fractions.items()})
    # on FLAIR the classes run fluid, white matter, grey matter
    _fluid, white, grey = three_classes(flair[regions["brain"]])
    # FLAIR at 3 T: grey/white about 1.1–1.5, cerebrospinal fluid nulled below white matter
    assert 1.1 <= grey / white <= 1.5
    ventricles = head.fractions["csf"][k] > 0.95
    assert np.median(flair[ventricles]) < 0.5 * white
