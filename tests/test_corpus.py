"""Every real file pydicom can decode reads through dicomteach with the same shape and values.

The files: pydicom's bundled test set, the pydicom-data package (Philips and
FUJI CR, Philips MR, enhanced CT/MR, GE/Philips/ALOKA US, GE NM…), and the
real files in nibabel's and pynetdicom's wheels. The reference is pydicom's
own decoding (``pixel_array``, ``apply_color_lut``, ``apply_modality_lut``).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut

import corpus
from dicomteach import io
from dicomteach.imaging import apply_modality_lut as dt_modality_lut


def _reference(path: Path):
    """pydicom's decoding, or None when pydicom itself cannot give an image."""
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
            arr = ds.pixel_array
            if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
                arr = apply_color_lut(arr, ds)
    except Exception:  # noqa: BLE001 - not pixel-bearing, or pydicom lacks the decoder
        return None
    finally:
        logging.disable(logging.NOTSET)
    return ds, np.asarray(arr)


FILES = corpus.all_files()
IDS = [f"{p.parent.name}/{p.name}" for p in FILES]


def test_the_corpus_is_there():
    """The real-file tests below only mean something if the packages' files are installed."""
    assert len(corpus.pydicom_files()) > 80
    assert len(corpus.pydicom_data_files()) >= 60
    assert corpus.nibabel_files() and corpus.pynetdicom_files()
    assert len(ENHANCED) >= 1, "an enhanced object with per-frame rescale"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_real_file_reads_like_pydicom(path: Path):
    ref = _reference(path)
    if ref is None:
        pytest.skip("pydicom gives no image for this file")
    ds, expected = ref
    vol = io.read_file(path)
    frames = vol.pixels.shape[0]
    expected = expected.reshape((frames,) + vol.pixels.shape[1:])
    order = [index for _, index in vol.sources]
    assert sorted(order) == list(range(frames)), "every frame of the file appears once"
    np.testing.assert_array_equal(vol.pixels, expected[order])

    if vol.is_color or ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        return
    if "PerFrameFunctionalGroupsSequence" in ds:
        # per-frame rescale: pydicom applies the first frame's to all, we apply each frame's own
        return
    theirs = apply_modality_lut(expected, ds)
    slope = vol.rescale_slope if len(vol.rescale_slope) == 1 else vol.rescale_slope[:, None, None]
    intercept = (
        vol.rescale_intercept
        if len(vol.rescale_intercept) == 1
        else vol.rescale_intercept[:, None, None]
    )
    ours = dt_modality_lut(vol.pixels, slope, intercept, vol.modality_lut)
    np.testing.assert_allclose(ours, theirs[order], rtol=1e-6, atol=1e-6)


def _has_per_frame_groups(path: Path) -> bool:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001
        return False
    return "PerFrameFunctionalGroupsSequence" in ds and "PixelValueTransformationSequence" in str(
        [e.keyword for e in ds.PerFrameFunctionalGroupsSequence[0]]
        + [e.keyword for e in (ds.get("SharedFunctionalGroupsSequence") or [{}])[0]]
    )


ENHANCED = [p for p in FILES if _has_per_frame_groups(p)]


@pytest.mark.parametrize("path", ENHANCED, ids=[p.name for p in ENHANCED])
def test_enhanced_file_uses_each_frames_own_rescale(path: Path):
    ds = pydicom.dcmread(path)
    vol = io.read_file(path)
    per_frame = ds.PerFrameFunctionalGroupsSequence
    shared = ds.SharedFunctionalGroupsSequence[0]
    for k, (_, index) in enumerate(vol.sources):
        group = per_frame[index].get("PixelValueTransformationSequence") or shared.get(
            "PixelValueTransformationSequence"
        )
        slope = float(group[0].RescaleSlope) if group else 1.0
        got = vol.rescale_slope[k if len(vol.rescale_slope) > 1 else 0]
        assert got == pytest.approx(slope)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_file_reads_or_says_why_in_one_line(path: Path):
    """Broken, non-image and odd files of the corpus give a DicomTeachError, never another exception."""
    from dicomteach.errors import DicomTeachError

    try:
        io.read_file(path)
    except DicomTeachError as exc:
        assert "\n" not in str(exc)
        assert str(path) in str(exc)
