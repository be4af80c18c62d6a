"""De-identification (PS3.15 Annex E): ``dicomteach.io.anonymize``, ``import_study`` and the CLI.

The study built here hides identifying values everywhere they hide in real files;
the tests then grep every output byte for them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage, generate_uid

from dicomteach import io
from dicomteach.io.deid import BurnedInAnnotationError, anonymize, import_study
from dicomteach.io.deid.profile import table
from dicomteach.io.writer import StudyInfo, write_ct_series

KEY = "course-2026-secret"
PATIENT_ID = "PIDXK778899"
#: Every identifying value the study carries; none may survive in any output byte.
IDENTIFYING = [
    "QUACKENBUSH",
    "ZEBULON",
    PATIENT_ID,
    "XK778899",
    "19530714",
    "ACCZX4417",
    "OTHERIDQQ991",
    "Barnabas",
    "Wallaby",
    "FROBISHER",
    "WIMBLEDON",
    "PEMBERTON",
    "5550 1234",
    "55501234",
    "RPXK1234",
    "SPSXK5678",
    "ScannerRoomSeven",
    "SERIALXK42",
]


def _variants(text: str) -> set[bytes]:
    forms = {text, text.upper(), text.lower(), text.title()}
    return {f.encode(enc) for f in forms for enc in ("ascii", "utf-16-le")}


def _identify(path: Path, description: str = "CT CHEST Quackenbush tel 5550 1234") -> None:
    """Put identifying values everywhere they hide in real files."""
    ds = pydicom.dcmread(path)
    ds.PatientName = "QUACKENBUSH^ZEBULON"
    ds.PatientBirthDate = "19530714"
    ds.OtherPatientNames = "Zebulon Quackenbush"
    ds.PatientMotherBirthName = "QUACKENBUSH ZEBULON"
    ds.AccessionNumber = "ACCZX4417"
    ds.InstitutionName = "Saint Barnabas Infirmary"
    ds.InstitutionAddress = "42 Wallaby Way, Sydney"
    ds.StationName = "ScannerRoomSeven"
    ds.DeviceSerialNumber = "SERIALXK42"
    ds.OperatorsName = "PEMBERTON^GLADYS"
    ds.ReferringPhysicianName = "FROBISHER^MARTHA^^DR"
    ds.ReferringPhysicianTelephoneNumbers = "+61 2 5550 1234"
    ds.PerformingPhysicianName = "Wimbledon Otto"
    ds.StudyDescription = description
    ds.ImageComments = "Zebulon Quackenbush, call Dr Frobisher on 55501234"
    ds.AdditionalPatientHistory = "QUACKENBUSH ZEBULON DOB 19530714, tel 5550 1234"
    ds.PatientTelephoneNumbers = "5550 1234"
    other = Dataset()
    other.PatientID = "OTHERIDQQ991"
    other.IssuerOfPatientID = "Saint Barnabas"
    ds.OtherPatientIDsSequence = Sequence([other])
    request = Dataset()
    request.RequestedProcedureID = "RPXK1234"
    request.ScheduledProcedureStepID = "SPSXK5678"
    request.RequestedProcedureDescription = "CT for Quackenbush"
    request.StudyInstanceUID = ds.StudyInstanceUID
    ds.RequestAttributesSequence = Sequence([request])
    patient = Dataset()
    patient.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.1"
    patient.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedPatientSequence = Sequence([patient])
    block = ds.private_block(0x0029, "ACME HOSPITAL", create=True)
    block.add_new(0x10, "LO", "QUACKENBUSH ZEBULON")
    inner = Dataset()
    inner.PatientName = "FROBISHER^MARTHA"
    inner.add_new(0x00291010, "LO", "Wallaby")  # a private element without its creator
    block.add_new(0x11, "SQ", Sequence([inner]))
    ds.save_as(path, enforce_file_format=True)


def _ct_study(folder: Path, study_date: str = "20250115", description: str | None = None) -> dict:
    hu = np.linspace(-1000, 1000, 4 * 24 * 20).reshape(4, 24, 20)
    study = StudyInfo(
        patient_name="QUACKENBUSH^ZEBULON",
        patient_id=PATIENT_ID,
        study_date=study_date,
        study_description="CT CHEST",
    )
    paths = write_ct_series(folder / "ct", hu, study=study, series_number=3)
    for p in paths:
        if description is None:
            _identify(p)
        else:
            _identify(p, description)
    sources = [pydicom.dcmread(p) for p in paths]
    mask = np.zeros((4, 24, 20), dtype=bool)
    mask[1:3, 5:15, 4:12] = True
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="tumour",
        segmented_property_category=hd.sr.CodedConcept(
            "49755003", "SCT", "Morphologic abnormality"
        ),
        segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Tumor"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        series_instance_uid=generate_uid(),
        series_number=10,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="dicomteach",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="SERIALXK42",
        content_creator_name="FROBISHER^MARTHA",
        content_description="drawn by Dr Frobisher",
    )
    (folder / "seg").mkdir()
    seg_path = folder / "seg" / "seg.dcm"
    seg.save_as(seg_path)
    (folder / "notes.txt").write_text("not DICOM: Quackenbush's notes")
    return {"ct": paths, "seg": seg_path, "sources": sources}


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _outputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("in")
    made = _ct_study(root)
    before = _hashes(root)
    out = tmp_path_factory.mktemp("out")
    result = anonymize(root, out, key=KEY)
    return {"root": root, "out": out, "result": result, "before": before, **made}


class TestNothingIdentifyingSurvives:
    def test_no_identifying_byte_in_any_output_file(self, study):
        files = _outputs(study["out"])
        assert len(files) == 5  # 4 CT slices and the SEG
        for path in files:
            data = path.read_bytes()
            for text in IDENTIFYING:
                for form in _variants(text):
                    assert form not in data, f"{form!r} survives in {path}"
            assert b"QUACKENBUSH" not in path.as_posix().upper().encode()

    def test_original_uids_and_dates_are_gone(self, study):
        originals = {str(ds.SOPInstanceUID) for ds in study["sources"]}
        originals |= {str(study["sources"][0].StudyInstanceUID)}
        originals |= {str(study["sources"][0].FrameOfReferenceUID)}
        for path in _outputs(study["out"]):
            data = path.read_bytes()
            for uid in originals:
                assert uid.encode() not in data
            assert b"20250115" not in data

    def test_non_dicom_file_is_skipped_and_reported(self, study):
        skipped = [str(e) for e in study["result"].skipped]
        assert len(skipped) == 1 and "notes.txt" in skipped[0]

    def test_input_files_are_unchanged(self, study):
        assert _hashes(study["root"]) == study["before"]

    def test_output_names_carry_no_identifying_value(self, study):
        for path in _outputs(study["out"]):
            rel = path.relative_to(study["out"]).as_posix()
            assert PATIENT_ID not in rel and "20250115" not in rel
            assert rel.endswith(".dcm") and len(rel.split("/")) == 3


class TestStructureKept:
    def _read(self, study):
        dss = [pydicom.dcmread(p) for p in _outputs(study["out"])]
        cts = sorted((d for d in dss if d.Modality == "CT"), key=lambda d: d.InstanceNumber)
        (seg,) = [d for d in dss if d.Modality == "SEG"]
        return cts, seg

    def test_pixels_identical(self, study):
        cts, seg = self._read(study)
        for src, out in zip(study["sources"], cts, strict=True):
            assert np.array_equal(src.pixel_array, out.pixel_array)
        original = pydicom.dcmread(study["seg"])
        assert np.array_equal(original.pixel_array, seg.pixel_array)

    def test_seg_references_the_new_ct_instances(self, study):
        cts, seg = self._read(study)
        new_uids = {str(d.SOPInstanceUID) for d in cts}
        referenced = {
            str(i.ReferencedSOPInstanceUID)
            for s in seg.ReferencedSeriesSequence
            for i in s.ReferencedInstanceSequence
        }
        assert referenced == new_uids
        per_frame = {
            str(f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
            for f in seg.PerFrameFunctionalGroupsSequence
        }
        assert per_frame <= new_uids and per_frame
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == cts[0].SeriesInstanceUID
        assert {str(d.FrameOfReferenceUID) for d in [*cts, seg]} == {str(seg.FrameOfReferenceUID)}
        assert {str(d.StudyInstanceUID) for d in [*cts, seg]} == {str(seg.StudyInstanceUID)}
        assert str(seg.StudyInstanceUID).startswith("2.25.")

    def test_reads_back_with_the_same_geometry(self, study):
        before = io.load(study["root"] / "ct")
        (after,) = [v for v in io.read(study["out"]).volumes if v.modality == "CT"]
        assert after.pixels.shape == before.pixels.shape
        assert after.spacing == before.spacing
        assert np.array_equal(after.pixels, before.pixels)

    def test_deidentification_is_recorded(self, study):
        cts, seg = self._read(study)
        for ds in [*cts, seg]:
            assert ds.PatientIdentityRemoved == "YES"
            assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
            codes = {c.CodeValue for c in ds.DeidentificationMethodCodeSequence}
            assert codes == {"113100", "113107", "113105", "113111"}
            assert {c.CodingSchemeDesignator for c in ds.DeidentificationMethodCodeSequence} == {
                "DCM"
            }
            assert str(ds.PatientName) == ds.PatientID and ds.PatientID.startswith("DT")

    def test_descriptions_are_cleaned_and_comments_removed(self, study):
        cts, _ = self._read(study)
        assert cts[0].StudyDescription == "CT CHEST"
        assert cts[0].SeriesDescription == "Thorax 2.5 I30f"
        assert "ImageComments" not in cts[0] and "AdditionalPatientHistory" not in cts[0]
        assert "OtherPatientIDsSequence" not in cts[0]
        assert not [e for e in cts[0] if e.tag.is_private]

    def test_dates_shift_by_one_offset(self, study):
        cts, seg = self._read(study)
        shifted = dt.datetime.strptime(cts[0].StudyDate, "%Y%m%d")
        days = (shifted - dt.datetime(2025, 1, 15)).days
        assert -365 <= days <= -30
        assert cts[0].StudyTime == "093000"  # whole days: the time of day stays
        assert cts[0].get("PatientBirthDate", "") == ""


def test_table_has_every_row_and_the_option_columns():
    rows = table()
    assert len(rows) > 600
    assert rows["0010,0010"].basic == "Z"
    assert rows["0008,0020"].options == {"rtnLongFullDatesOpt": "K", "rtnLongModifDatesOpt": "C"}
    assert rows["gggg,eeee"].options == {"rtnSafePrivOpt": "C"}
    assert {r.basic for r in rows.values()} <= {
        "D", "Z", "X", "K", "C", "U", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"
    }  # fmt: skip


def test_follow_up_keeps_pseudonym_and_interval(tmp_path):
    base, follow = tmp_path / "baseline", tmp_path / "followup"
    base.mkdir(), follow.mkdir()
    _ct_study(base, "20250115", "CT CHEST baseline")
    _ct_study(follow, "20250715", "CT CHEST follow-up")
    out1 = import_study(base, tmp_path / "lib", key=KEY)
    out2 = import_study(follow, tmp_path / "lib", key=KEY)
    a = pydicom.dcmread(out1.written[0])
    b = pydicom.dcmread(out2.written[0])
    assert a.PatientID == b.PatientID and out1.patients == out2.patients
    assert a.StudyInstanceUID != b.StudyInstanceUID
    day = lambda ds: dt.datetime.strptime(ds.StudyDate, "%Y%m%d")  # noqa: E731
    assert (day(b) - day(a)).days == (dt.date(2025, 7, 15) - dt.date(2025, 1, 15)).days
    patients = [p.name for p in (tmp_path / "lib").iterdir()]
    assert patients == [a.PatientID]
    studies = sorted(p.name for p in (tmp_path / "lib" / a.PatientID).iterdir())
    assert [s.split("-")[:2] for s in studies] == [[a.StudyDate, "CT"], [b.StudyDate, "CT"]]
    other = anonymize(base / "ct", tmp_path / "other-key", key="another course")
    assert pydicom.dcmread(other.written[0]).PatientID != a.PatientID


def _us(path: Path, burned_in: str | None = "YES") -> np.ndarray:
    rng = np.random.default_rng(7)
    pixels = rng.integers(1, 255, (48, 64), dtype=np.uint8)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "QUACKENBUSH^ZEBULON", PATIENT_ID, "US"
    ds.StudyDate = "20250115"
    if burned_in:
        ds.BurnedInAnnotation = burned_in
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return pixels


class TestBurnedIn:
    def test_stops_with_one_line_naming_the_file(self, tmp_path):
        _us(tmp_path / "in" / "us.dcm")
        with pytest.raises(BurnedInAnnotationError, match=r"us\.dcm: .*--blank x,y,w,h") as exc:
            anonymize(tmp_path / "in", tmp_path / "out", key=KEY)
        assert "\n" not in str(exc.value) and "--accept-burned-in" in str(exc.value)
        assert not (tmp_path / "out").exists() or not _outputs(tmp_path / "out")

    def test_absent_flag_on_ultrasound_also_stops(self, tmp_path):
        _us(tmp_path / "in" / "us.dcm", burned_in=None)
        with pytest.raises(BurnedInAnnotationError, match="absent and US"):
            anonymize(tmp_path / "in", tmp_path / "out", key=KEY)

    def test_blank_zeroes_the_region_and_keeps_the_rest(self, tmp_path):
        pixels = _us(tmp_path / "in" / "us.dcm")
        result = anonymize(tmp_path / "in", tmp_path / "out", key=KEY, blank=["4,2,20,10"])
        out = pydicom.dcmread(result.written[0])
        arr = out.pixel_array
        assert not arr[2:12, 4:24].any()
        expected = pixels.copy()
        expected[2:12, 4:24] = 0
        assert np.array_equal(arr, expected)
        assert out.BurnedInAnnotation == "NO"
        assert "113101" in {c.CodeValue for c in out.DeidentificationMethodCodeSequence}

    def test_compressed_input_is_blanked_and_written_uncompressed(self, tmp_path):
        src = get_testdata_file("US1_J2KR.dcm", download=False)
        original = pydicom.dcmread(src).pixel_array
        result = anonymize(src, tmp_path / "out", key=KEY, blank=["0,0,40,30"])
        assert result.recompressed == result.written
        out = pydicom.dcmread(result.written[0])
        assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        expected = original.copy()
        expected[:30, :40] = 0
        assert np.array_equal(out.pixel_array, expected)

    def test_accept_passes_pixels_unchanged(self, tmp_path):
        pixels = _us(tmp_path / "in" / "us.dcm")
        result = anonymize(tmp_path / "in", tmp_path / "out", key=KEY, accept_burned_in=True)
        out = pydicom.dcmread(result.written[0])
        assert np.array_equal(out.pixel_array, pixels)
        assert out.BurnedInAnnotation == "YES"


def test_interrupted_run_leaves_no_half_file(tmp_path, monkeypatch):
    _ct_study(tmp_path / "in")
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == 5:  # the third file's data: its bytes are written, not yet renamed
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        anonymize(tmp_path / "in", tmp_path / "out", key=KEY)
    monkeypatch.setattr(os, "fsync", real_fsync)
    files = _outputs(tmp_path / "out")
    assert len(files) == 2
    assert not [p for p in files if p.suffix != ".dcm"]
    for p in files:
        assert pydicom.dcmread(p).pixel_array.size > 0


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dicomteach.cli", *args], capture_output=True, text=True, timeout=60
    )


class TestCommandLine:
    def test_anonymize_folder_with_key_file(self, tmp_path):
        _ct_study(tmp_path / "in")
        key_file = tmp_path / "course.key"
        key_file.write_text(KEY + "\n")
        run = _cli(
            "anonymize", str(tmp_path / "in"), str(tmp_path / "out"), "--key-file", str(key_file)
        )
        assert run.returncode == 0, run.stderr
        assert "5 file(s) written" in run.stdout and "1 skipped" in run.stdout
        assert "1 study, 1 patient(s)" in run.stdout
        # the same key as the library gives the same UIDs
        again = anonymize(tmp_path / "in", tmp_path / "again", key=KEY)
        assert sorted(p.name for p in _outputs(tmp_path / "out")) == sorted(
            p.name for p in again.written
        )

    def test_burned_in_exits_2_with_one_line(self, tmp_path):
        _us(tmp_path / "in" / "us.dcm")
        run = _cli("anonymize", str(tmp_path / "in"), str(tmp_path / "out"), "--key", KEY)
        assert run.returncode == 2
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "us.dcm" in lines[0] and "--blank" in lines[0]
        assert "Traceback" not in run.stderr

    def test_without_key_says_mapping_is_not_reproducible(self, tmp_path):
        _us(tmp_path / "in" / "us.dcm")
        run = _cli("anonymize", str(tmp_path / "in"), str(tmp_path / "out"), "--accept-burned-in")
        assert run.returncode == 0, run.stderr
        assert "--key-file" in run.stderr and "1 file(s) written" in run.stdout

    def test_bad_blank_exits_2(self, tmp_path):
        run = _cli("anonymize", "x", str(tmp_path / "out"), "--blank", "1,2,3")
        assert run.returncode == 2 and run.stderr.count("\n") == 1


def _dciodvfy_errors(path: Path) -> set[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return {line.split(" - ", 1)[-1] for line in lines if line.startswith("Error")}


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed")
def test_dciodvfy_finds_no_new_error(study):
    outputs = {pydicom.dcmread(p).Modality: p for p in _outputs(study["out"])}
    for modality, original in (("CT", study["ct"][0]), ("SEG", study["seg"])):
        new = _dciodvfy_errors(outputs[modality]) - _dciodvfy_errors(original)
        assert not new, f"{modality}: {sorted(new)}"
