"""Reader behaviour on real files: transfer syntaxes, photometrics, LUTs, PET SUV, the writer's validity."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomteach import imaging, io
from dicomteach.io.writer import write_ct_series


def data_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed"
    return path


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

    def test_file_without_preamble_reads_with_a_warning(self):
        vol = io.read_file(data_file("OT-PAL-8-face.dcm"))
        assert any("no DICOM preamble" in w for w in vol.warnings)


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


class TestLookupTables:
    def test_modality_lut_sequence_is_read(self):
        vol = io.read_file(data_file("mlut_18.dcm"))
        ds = pydicom.dcmread(data_file("mlut_18.dcm"))
        assert vol.modality_lut is not None
        np.testing.assert_array_equal(
            imaging.modality_values(vol)[0], pydicom.pixels.apply_modality_lut(ds.pixel_array, ds)
        )

    def test_voi_lut_sequence_is_read(self):
        vol = io.read_file(data_file("vlut_04.dcm"))
        ds = pydicom.dcmread(data_file("vlut_04.dcm"))
        assert len(vol.voi_luts) == len(ds.VOILUTSequence)
        ours = imaging.apply_voi_lut_table(vol.pixels[0], vol.voi_luts[0])
        theirs = pydicom.pixels.apply_voi_lut(ds.pixel_array, ds, index=0)
        np.testing.assert_array_equal(ours, theirs)

    def test_header_windows_keep_their_explanations(self, tmp_path):
        write_ct_series(tmp_path / "s", np.zeros((2, 8, 8)))
        vol = io.load(tmp_path / "s")
        assert [(w.center, w.width, w.explanation) for w in vol.windows] == [
            (40.0, 400.0, "WINDOW1"),
            (-600.0, 1200.0, "WINDOW2"),
        ]


def _pet_slice(
    k: int, *, series_uid: str, study_uid: str, stored: np.ndarray, slope: float
) -> Dataset:
    """A Canon Celesteion-style PET slice: BQML, START decay correction, per-slice Rescale Slope."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "PT", "TOSHIBA", "Celesteion"
    ds.SeriesDate = ds.AcquisitionDate = "20260310"
    ds.SeriesTime = "101500"
    ds.AcquisitionTime = "101500"
    ds.Units, ds.DecayCorrection = "BQML", "START"
    ds.CorrectedImage = ["ATTN", "DECY", "SCAT"]
    ds.PatientWeight = "72"
    drug = Dataset()
    drug.Radiopharmaceutical = "Fluorodeoxyglucose"
    drug.RadiopharmaceuticalStartDateTime = "20260310091500"
    drug.RadionuclideTotalDose = "350000000"
    drug.RadionuclideHalfLife = "6586.2"
    ds.RadiopharmaceuticalInformationSequence = DicomSequence([drug])
    ds.ImagePositionPatient = [-200, -200, 4.0 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [4.0, 4.0]
    ds.SliceThickness = "4"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = f"{slope:g}", "0"
    ds.PixelData = stored.astype(np.int16).tobytes()
    return ds


def test_pet_reads_in_bq_per_ml_and_in_suv_on_request(tmp_path):
    series_uid, study_uid = generate_uid(), generate_uid()
    slopes = [0.5, 1.25, 2.0]
    stored = np.full((16, 16), 8000, dtype=np.int16)
    for k, slope in enumerate(slopes):
        _pet_slice(
            k, series_uid=series_uid, study_uid=study_uid, stored=stored, slope=slope
        ).save_as(tmp_path / f"pt{k}.dcm", enforce_file_format=True)
    plain = io.load(tmp_path)
    assert plain.units == "BQML"
    np.testing.assert_allclose(imaging.modality_values(plain)[:, 0, 0], [8000 * s for s in slopes])

    suv = io.load(tmp_path, suv=True)
    assert suv.units == "SUVbw"
    # first principles: 72 kg over 350 MBq decayed for the hour from injection to series start
    decayed = 350e6 * 2 ** (-3600 / 6586.2)
    expected = [8000 * s * 72000 / decayed for s in slopes]
    np.testing.assert_allclose(imaging.modality_values(suv)[:, 0, 0], expected, rtol=1e-9)
    assert any("SUVbw" in w for w in suv.warnings)
    # the header's Bq/ml window (if any) follows into SUV; without one the SUV 0–10 preset applies
    if suv.windows:
        assert suv.windows[0].width == pytest.approx(
            plain.windows[0].width * expected[0] / (8000 * slopes[0])
        )
    else:
        assert imaging.default_window(suv).width == pytest.approx(10)


class TestWriterIsValidDicom:
    """The CT series dicomteach writes is read the same by independent tools."""

    def test_ct_slices_pass_dciodvfy_and_dcmdump(self, tmp_path):
        if not (shutil.which("dciodvfy") and shutil.which("dcmdump")):
            pytest.skip("dicom3tools/dcmtk not installed (scripts/test.sh installs them)")
        paths = write_ct_series(tmp_path / "s", np.zeros((2, 16, 16)))
        check = subprocess.run(["dciodvfy", str(paths[0])], capture_output=True, text=True)
        errors = [
            line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")
        ]
        assert errors == []
        dump = subprocess.run(
            ["dcmdump", str(paths[0])], capture_output=True, text=True, check=True
        )
        assert "(0028,1052) DS [-1024]" in dump.stdout

    def test_dcmtk_renders_the_same_hounsfield_image(self, tmp_path):
        if not shutil.which("dcm2pnm"):
            pytest.skip("dcmtk not installed (scripts/test.sh installs it)")
        hu = np.tile(np.linspace(-1000, 1000, 32), (32, 1))[None]
        paths = write_ct_series(tmp_path / "s", hu)
        out = tmp_path / "slice.pgm"
        # DCMTK applies the first header window (40/400) and writes 8-bit PGM
        subprocess.run(["dcm2pnm", "+Wi", "1", "+ob", str(paths[0]), str(out)], check=True)
        theirs = np.frombuffer(out.read_bytes()[-32 * 32 :], dtype=np.uint8).reshape(32, 32)
        vol = io.load(tmp_path / "s")
        ours = imaging.window_to_uint8(imaging.modality_values(vol)[0], vol.windows[0])
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
