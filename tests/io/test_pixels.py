"""Pixel decoding (dicomteach/io/pixels.py) on real files: transfer syntaxes and photometrics."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from corpus import data_file
from dicomteach import imaging, io


class TestTransferSyntaxes:
    #: MR_small in every lossless encoding pydicom's test set carries
    LOSSLESS = {
        "MR_small_implicit.dcm": "Implicit VR Little Endian",
        "MR_small_bigendian.dcm": "Explicit VR Big Endian",
        "MR_small_RLE.dcm": "RLE Lossless",
        "MR_small_jp2klossless.dcm": "JPEG 2000 Image Compression (Lossless Only)",
        "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS Lossless Image Compression",
    }

    @pytest.mark.parametrize("name", LOSSLESS)
    def test_every_lossless_encoding_gives_the_same_pixels(self, name):
        reference = io.read_file(data_file("MR_small.dcm"))
        vol = io.read_file(data_file(name))
        assert pydicom.uid.UID(vol.transfer_syntax).name == self.LOSSLESS[name]
        np.testing.assert_array_equal(vol.pixels, reference.pixels)
        assert vol.spacing == reference.spacing

    @pytest.mark.parametrize(
        ("name", "syntax"),
        [
            ("SC_rgb_jpeg_dcmtk.dcm", "JPEG Baseline (Process 1)"),
            ("JPGExtended.dcm", "JPEG Extended (Process 2 and 4)"),
            (
                "JPGLosslessP14SV1_1s_1f_8b.dcm",
                "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
            ),
            ("JPEGLSNearLossless_16.dcm", "JPEG-LS Lossy (Near-Lossless) Image Compression"),
            ("JPEG2000.dcm", "JPEG 2000 Image Compression"),
            ("image_dfl.dcm", "Deflated Explicit VR Little Endian"),
        ],
    )
    def test_compressed_and_deflated_files_decode(self, name, syntax):
        vol = io.read_file(data_file(name))
        assert pydicom.uid.UID(vol.transfer_syntax).name == syntax
        assert vol.pixels.size and np.ptp(vol.pixels) > 0

    def test_jpeg_baseline_ybr_is_converted_to_rgb(self):
        vol = io.read_file(data_file("SC_rgb_jpeg_dcmtk.dcm"))
        assert vol.photometric.startswith("YBR") and vol.is_color
        # the test image has a pure red band at the top: red high, green and blue low after conversion
        r, g, b = vol.pixels[0, 5, 50].astype(int)
        assert r > 200 and g < 60 and b < 60


class TestPhotometric:
    def test_monochrome1_cr_is_flagged_for_inversion(self):
        vol = io.read_file(data_file("RG1_UNCR.dcm"))  # Philips CR from pydicom-data
        assert vol.modality == "CR" and vol.photometric == "MONOCHROME1" and vol.inverted
        window = imaging.default_window(vol)
        shown = imaging.window_to_uint8(imaging.modality_values(vol)[0], window, invert=True)
        plain = imaging.window_to_uint8(imaging.modality_values(vol)[0], window)
        np.testing.assert_array_equal(shown, 255 - plain)
        # the lowest stored value is displayed brightest
        low = np.unravel_index(np.argmin(vol.pixels[0]), vol.pixels.shape[1:])
        assert shown[low] == shown.max()

    def test_palette_color_is_looked_up(self):
        vol = io.read_file(data_file("OT-PAL-8-face.dcm"))
        assert vol.photometric == "PALETTE COLOR" and vol.pixels.shape[-1] == 3
        assert len(np.unique(vol.pixels.reshape(-1, 3), axis=0)) > 50


class TestJpegLs:
    @pytest.mark.parametrize(
        "name",
        [
            "MR_small_jpeg_ls_lossless.dcm",
            "emri_small_jpeg_ls_lossless.dcm",
            "JPEGLSNearLossless_08.dcm",
            "JPEGLSNearLossless_16.dcm",
            "SC_rgb_jls_lossy_line.dcm",
            "SC_rgb_jls_lossy_sample.dcm",
        ],
    )
    def test_charls_gives_what_libjpeg_gives(self, name):
        # dicomteach asks CharLS (pyjpegls) first, for speed; JPEG-LS decoding is exact,
        # so the values must be those of pydicom's first choice, libjpeg
        path = data_file(name)
        expected = pydicom.pixels.pixel_array(path, decoding_plugin="pylibjpeg")
        vol = io.read_file(path)
        np.testing.assert_array_equal(vol.pixels.reshape(expected.shape), expected)
