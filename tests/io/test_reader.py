"""Reading files, folders, zips and DICOMDIRs into volumes (dicomteach/io/reader.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomteach import imaging, io
from dicomteach.io.writer import write_ct_series
from factories import numbered_slices, slice_marks


class TestInputs:
    def test_zip_of_a_series_reads_like_the_folder(self, tmp_path):
        write_ct_series(tmp_path / "s", numbered_slices(), file_names="uid")
        archive = tmp_path / "study.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for p in (tmp_path / "s").iterdir():
                zf.write(p, f"DICOM/{p.name}")
            zf.writestr("README.txt", "not an image")
        from_zip = io.load(archive)
        from_folder = io.load(tmp_path / "s")
        np.testing.assert_array_equal(from_zip.pixels, from_folder.pixels)
        assert from_zip.spacing == from_folder.spacing

    def test_dicomdir_leads_to_its_series(self, tmp_path):
        from pydicom.fileset import FileSet

        write_ct_series(tmp_path / "s", numbered_slices(6))
        fs = FileSet()
        for p in sorted((tmp_path / "s").iterdir()):
            fs.add(pydicom.dcmread(p))
        fs.write(tmp_path / "media")
        vol = io.load(tmp_path / "media" / "DICOMDIR")
        assert slice_marks(vol) == [10.0 * k for k in range(6)]

    def test_several_files_named_at_once(self, tmp_path):
        paths = write_ct_series(tmp_path / "s", numbered_slices(4))
        result = io.read(*paths[::-1])
        assert slice_marks(result.volumes[0]) == [0.0, 10.0, 20.0, 30.0]

    def test_non_dicom_files_in_a_folder_are_skipped_and_listed(self, tmp_path):
        write_ct_series(tmp_path / "s", numbered_slices(4))
        (tmp_path / "s" / "notes.txt").write_text("hello")
        result = io.read(tmp_path / "s")
        assert result.volumes[0].n_frames == 4
        assert len(result.skipped) == 1 and "notes.txt" in str(result.skipped[0])


def test_a_damaged_slice_is_skipped_and_shows_as_a_missing_slice(tmp_path):
    paths = write_ct_series(tmp_path / "s", numbered_slices(8))
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) - 700])  # the file ends inside its pixel data
    result = io.read(tmp_path / "s")
    vol = result.volumes[0]
    assert vol.n_frames == 7
    assert any("1 missing slice between slice 3 and 4" in w for w in vol.warnings), vol.warnings
    assert [Path(e.path).name for e in result.skipped] == [paths[3].name]
    assert "cut short" in str(result.skipped[0])


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


@pytest.mark.parametrize(("rescale_type", "units"), [("US", ""), ("OD", "OD"), ("", "")])
def test_rescale_type_us_means_unspecified_not_ultrasound(tmp_path, rescale_type, units):
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm", download=False))
    ds.Modality = "CR"
    ds.RescaleType = rescale_type
    ds.save_as(tmp_path / "cr.dcm")
    assert io.load(tmp_path / "cr.dcm").units == units
