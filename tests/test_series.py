"""Series assembly as a PACS viewer does it, on series written here with known geometry."""

from __future__ import annotations

import random
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomteach import io
from dicomteach.errors import SeriesError
from dicomteach.io.volume import FrameAxis
from dicomteach.io.writer import StudyInfo, write_ct_series
from factories import write_enhanced_ct


def phantom(slices: int = 12, size: int = 32) -> np.ndarray:
    """Slice k carries a square of 10·k HU, so the order of slices can be read off the pixels."""
    hu = np.full((slices, size, size), -1000.0)
    for k in range(slices):
        hu[k, 8:24, 8:24] = 10.0 * k
    return hu


def slice_marks(vol: io.Volume) -> list[float]:
    values = vol.pixels[:, 16, 16].astype(float) * vol.rescale_slope + vol.rescale_intercept
    return list(np.round(values, 3))


def rotation_x(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


class TestSortingAndSpacing:
    def test_shuffled_files_with_lying_instance_numbers_sort_by_position(self, tmp_path):
        hu = phantom()
        paths = write_ct_series(tmp_path / "s", hu, spacing=(2.5, 0.7, 0.7), file_names="uid")
        # instance numbers reversed and names random: only the positions tell the order
        for p in paths:
            ds = pydicom.dcmread(p)
            ds.InstanceNumber = 100 - int(ds.InstanceNumber)
            ds.save_as(p)
        random.Random(1).shuffle(paths)
        vol = io.load(tmp_path / "s")
        assert vol.frame_axis is FrameAxis.SLICE
        assert slice_marks(vol) == [10.0 * k for k in range(12)]
        assert np.all(np.diff(vol.positions[:, 2]) > 0)
        assert vol.spacing == pytest.approx((2.5, 0.7, 0.7))
        assert vol.warnings == []

    def test_slice_spacing_comes_from_positions_not_slice_thickness(self, tmp_path):
        write_ct_series(tmp_path / "s", phantom(), spacing=(2.5, 0.7, 0.7))
        for p in (tmp_path / "s").iterdir():
            ds = pydicom.dcmread(p)
            ds.SliceThickness = "5"  # overlapping reconstruction: thickness 5, spacing 2.5
            ds.save_as(p)
        assert io.load(tmp_path / "s").spacing[0] == pytest.approx(2.5)

    def test_a_missing_slice_is_reported_not_hidden(self, tmp_path):
        write_ct_series(tmp_path / "s", phantom(), spacing=(2.5, 0.7, 0.7), skip=[5])
        vol = io.load(tmp_path / "s")
        assert vol.n_frames == 11
        assert vol.spacing[0] == pytest.approx(2.5)
        assert any("1 missing slice between slice 5 and 6" in w for w in vol.warnings), vol.warnings
        # the true positions are kept, so nothing is misplaced
        assert vol.positions[5, 2] - vol.positions[4, 2] == pytest.approx(5.0)

    def test_irregular_spacing_is_reported(self, tmp_path):
        hu = phantom(6)
        z = [0.0, 2.5, 5.0, 8.2, 10.7, 13.2]
        write_ct_series(tmp_path / "s", hu, positions=[(-10, -10, zk) for zk in z])
        vol = io.load(tmp_path / "s")
        assert any("irregular slice spacing" in w for w in vol.warnings), vol.warnings

    def test_oblique_series_geometry_matches_its_headers(self, tmp_path):
        r = rotation_x(30)
        orientation = np.concatenate([r @ [1, 0, 0], r @ [0, 1, 0]])
        write_ct_series(
            tmp_path / "s",
            phantom(),
            spacing=(3.0, 0.8, 0.8),
            origin=(-12, 40, 7),
            orientation=orientation,
        )
        vol = io.load(tmp_path / "s")
        normal = r @ [0, 0, 1]
        assert vol.direction[0] == pytest.approx(normal, abs=1e-5)
        assert vol.direction[2] == pytest.approx(orientation[:3], abs=1e-5)
        assert vol.spacing == pytest.approx((3.0, 0.8, 0.8), abs=1e-4)
        # every slice's first pixel is where its Image Position (Patient) says
        for k in range(vol.n_frames):
            assert vol.index_to_lps((k, 0, 0)) == pytest.approx(vol.positions[k], abs=1e-4)
        # a pixel in the middle of slice 4, row 10, column 20
        expected = vol.positions[4] + 10 * 0.8 * orientation[3:] + 20 * 0.8 * orientation[:3]
        assert vol.index_to_lps((4, 10, 20)) == pytest.approx(expected, abs=1e-4)
        assert vol.lps_to_index(expected) == pytest.approx((4, 10, 20), abs=1e-6)

    def test_oblique_geometry_agrees_with_simpleitk(self, tmp_path):
        sitk = pytest.importorskip("SimpleITK")
        r = rotation_x(-20)
        orientation = np.concatenate([r @ [1, 0, 0], r @ [0, 1, 0]])
        write_ct_series(
            tmp_path / "s",
            phantom(),
            spacing=(2.0, 0.6, 0.9),
            origin=(5, -3, 11),
            orientation=orientation,
        )
        vol = io.load(tmp_path / "s")
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "s")))
        image = reader.Execute()
        # SimpleITK orders axes (x=column, y=row, z=slice)
        assert image.GetOrigin() == pytest.approx(vol.origin, abs=1e-4)
        assert image.GetSpacing() == pytest.approx(vol.spacing[::-1], abs=1e-4)
        direction = np.array(image.GetDirection()).reshape(3, 3)
        assert direction[:, 0] == pytest.approx(vol.direction[2], abs=1e-4)
        assert direction[:, 1] == pytest.approx(vol.direction[1], abs=1e-4)
        assert direction[:, 2] == pytest.approx(vol.direction[0], abs=1e-4)
        hu = sitk.GetArrayFromImage(image)
        np.testing.assert_array_equal(
            hu, vol.pixels * vol.rescale_slope[0] + vol.rescale_intercept[0]
        )

    def test_gantry_tilt_is_reported_and_the_slice_axis_follows_the_table(self, tmp_path):
        tilt = 15.0
        n, step = 10, 2.5
        # slices stay axial but each is displaced along y as the gantry is tilted
        positions = [(0.0, -k * step * np.tan(np.radians(tilt)), k * step) for k in range(n)]
        write_ct_series(tmp_path / "s", phantom(n), positions=positions, gantry_tilt=tilt)
        vol = io.load(tmp_path / "s")
        assert any("gantry tilt of 15.0°" in w for w in vol.warnings), vol.warnings
        for k in range(n):
            assert vol.index_to_lps((k, 0, 0)) == pytest.approx(positions[k], abs=1e-4)
        assert slice_marks(vol) == [10.0 * k for k in range(n)]


class TestSplitting:
    def test_two_series_in_one_folder_stay_apart(self, tmp_path):
        study = StudyInfo()
        write_ct_series(
            tmp_path / "f", phantom(8), study=study, series_number=2, series_description="A"
        )
        write_ct_series(
            tmp_path / "g",
            phantom(5),
            study=study,
            series_number=3,
            series_description="B",
            spacing=(5.0, 0.7, 0.7),
        )
        for p in (tmp_path / "g").iterdir():
            shutil.move(p, tmp_path / "f" / f"b_{p.name}")
        result = io.read(tmp_path / "f")
        assert len(result.studies) == 1
        series = result.studies[0].series
        assert [s.description for s in series] == ["A", "B"]
        assert [s.volume.n_frames for s in series] == [8, 5]
        assert series[1].volume.spacing[0] == pytest.approx(5.0)
        with pytest.raises(SeriesError, match="2 volumes"):
            io.load(tmp_path / "f")

    def test_a_series_mixing_orientations_is_split(self, tmp_path):
        study = StudyInfo()
        uid = generate_uid()
        write_ct_series(tmp_path / "s", phantom(6), study=study, series_uid=uid)
        # two coronal images in the same series, as a localiser sometimes is
        write_ct_series(
            tmp_path / "c", phantom(2), study=study, series_uid=uid, orientation=(1, 0, 0, 0, 0, -1)
        )
        for p in (tmp_path / "c").iterdir():
            shutil.move(p, tmp_path / "s" / f"cor_{p.name}")
        series = io.read(tmp_path / "s").studies[0].series
        assert len(series) == 1
        assert sorted(v.n_frames for v in series[0].volumes) == [2, 6]

    def test_repeated_positions_split_by_acquisition(self, tmp_path):
        study = StudyInfo()
        uid = generate_uid()
        write_ct_series(tmp_path / "s", phantom(6), study=study, series_uid=uid)
        write_ct_series(tmp_path / "t", phantom(6) + 500, study=study, series_uid=uid)
        for p in (tmp_path / "t").iterdir():
            ds = pydicom.dcmread(p)
            ds.AcquisitionNumber = 2
            ds.save_as(tmp_path / "s" / f"acq2_{p.name}")
        volumes = io.read(tmp_path / "s").studies[0].series[0].volumes
        assert len(volumes) == 2
        marks = sorted(slice_marks(v)[0] for v in volumes)
        assert marks == [0.0, 500.0]
        assert all(v.n_frames == 6 for v in volumes)


class TestMultiFrame:
    def test_enhanced_ct_frames_sorted_by_position_with_per_frame_rescale(self, tmp_path):
        hu = phantom(8)
        order = [3, 0, 7, 1, 6, 2, 5, 4]
        rescale = [(1.0, -1024.0) if f % 2 else (2.0, -2048.0) for f in range(8)]
        path = write_enhanced_ct(
            tmp_path / "e.dcm", hu, spacing=(1.5, 0.5, 0.5), frame_order=order, rescale=rescale
        )
        vol = io.read_file(path)
        assert vol.frame_axis is FrameAxis.SLICE
        assert vol.spacing == pytest.approx((1.5, 0.5, 0.5))
        assert [index for _, index in vol.sources] == [order.index(k) for k in range(8)]
        assert len(vol.rescale_slope) == 8
        assert slice_marks(vol) == [10.0 * k for k in range(8)]
        assert vol.windows[0].explanation == "MEDIASTINUM"
        # read() as part of a folder gives the same volume
        same = io.load(tmp_path)
        np.testing.assert_array_equal(same.pixels, vol.pixels)

    def test_nm_spect_reconstruction_is_a_stack(self, tmp_path):
        path = _write_symbia_spect(tmp_path / "nm.dcm", frames=16)
        vol = io.read_file(path)
        assert vol.modality == "NM"
        assert vol.frame_axis is FrameAxis.SLICE
        assert vol.spacing == pytest.approx((4.795, 4.795, 4.795))
        assert vol.positions[1] - vol.positions[0] == pytest.approx((0, 0, 4.795))
        assert vol.pixels[:, 32, 32].tolist() == [100 * k for k in range(16)]

    def test_ultrasound_cine_runs_in_time(self, tmp_path):
        path = _write_us_cine(tmp_path / "us.dcm", frames=5)
        vol = io.read_file(path)
        assert vol.frame_axis is FrameAxis.TIME
        assert vol.frame_time_ms == pytest.approx(33.3)
        assert vol.is_color and vol.pixels.shape == (5, 48, 64, 3)
        # spacing from the ultrasound region calibration (cm → mm)
        assert vol.spacing[1:] == pytest.approx((0.2, 0.3))


class TestInputs:
    def test_zip_of_a_series_reads_like_the_folder(self, tmp_path):
        write_ct_series(tmp_path / "s", phantom(), file_names="uid")
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

        write_ct_series(tmp_path / "s", phantom(6))
        fs = FileSet()
        for p in sorted((tmp_path / "s").iterdir()):
            fs.add(pydicom.dcmread(p))
        fs.write(tmp_path / "media")
        vol = io.load(tmp_path / "media" / "DICOMDIR")
        assert slice_marks(vol) == [10.0 * k for k in range(6)]

    def test_several_files_named_at_once(self, tmp_path):
        paths = write_ct_series(tmp_path / "s", phantom(4))
        result = io.read(*paths[::-1])
        assert slice_marks(result.volumes[0]) == [0.0, 10.0, 20.0, 30.0]

    def test_non_dicom_files_in_a_folder_are_skipped_and_listed(self, tmp_path):
        write_ct_series(tmp_path / "s", phantom(4))
        (tmp_path / "s" / "notes.txt").write_text("hello")
        result = io.read(tmp_path / "s")
        assert result.volumes[0].n_frames == 4
        assert len(result.skipped) == 1 and "notes.txt" in str(result.skipped[0])


def _write_symbia_spect(path: Path, frames: int) -> Path:
    """A Siemens Symbia-style reconstructed SPECT: classic NM multi-frame stacked by Slice Vector."""
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "NM", "SIEMENS NM", "Symbia T16"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = 0x00540080  # Slice Vector
    ds.SliceVector = list(range(1, frames + 1))
    ds.NumberOfSlices = frames
    ds.Rows = ds.Columns = 64
    ds.PixelSpacing = ["4.795", "4.795"]
    ds.SpacingBetweenSlices = "4.795"
    ds.SliceThickness = "4.795"
    detector = Dataset()
    detector.ImagePositionPatient = ["-153.44", "-153.44", "-100"]
    detector.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.DetectorInformationSequence = DicomSequence([detector])
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    pixels = np.zeros((frames, 64, 64), np.uint16)
    for k in range(frames):
        pixels[k, 24:40, 24:40] = 100 * k
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _write_us_cine(path: Path, frames: int) -> Path:
    """A GE-style ultrasound cine: RGB multi-frame, Frame Time, calibrated region."""
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.Manufacturer = "US", "GE Healthcare"
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = "33.3"
    ds.Rows, ds.Columns = 48, 64
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    region = Dataset()
    region.RegionSpatialFormat = 1
    region.PhysicalUnitsXDirection = 3
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.03
    region.PhysicalDeltaY = 0.02
    ds.SequenceOfUltrasoundRegions = DicomSequence([region])
    ds.PixelData = (
        np.random.default_rng(0).integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8).tobytes()
    )
    ds.save_as(path, enforce_file_format=True)
    return path


def test_native_series_take_the_fast_header_scan_and_direct_pixel_reads(tmp_path, monkeypatch):
    """Speed guard: a plain CT series never falls back to pydicom's general reader or decoder."""
    from dicomteach.io import instance, reader

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to the slow path")

    monkeypatch.setattr(instance, "parse", refuse)
    monkeypatch.setattr(reader, "decode", refuse)
    write_ct_series(tmp_path / "s", phantom(4))
    for implicit in (False, True):
        if implicit:  # the same series in Implicit VR Little Endian
            for p in (tmp_path / "s").iterdir():
                ds = pydicom.dcmread(p)
                ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
                ds.save_as(p, enforce_file_format=True)
        vol = io.load(tmp_path / "s")
        assert slice_marks(vol) == [0.0, 10.0, 20.0, 30.0]


def test_a_damaged_slice_is_skipped_and_shows_as_a_missing_slice(tmp_path):
    paths = write_ct_series(tmp_path / "s", phantom(8))
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) - 700])  # the file ends inside its pixel data
    result = io.read(tmp_path / "s")
    vol = result.volumes[0]
    assert vol.n_frames == 7
    assert any("1 missing slice between slice 3 and 4" in w for w in vol.warnings), vol.warnings
    assert [Path(e.path).name for e in result.skipped] == [paths[3].name]
    assert "cut short" in str(result.skipped[0])


def test_a_seg_with_two_segments_gives_one_volume_per_segment(tmp_path):
    """Both segments come out (the file is decoded once per volume, its header left whole)."""
    import highdicom as hd
    from highdicom.sr import CodedConcept

    paths = write_ct_series(tmp_path / "ct", phantom(6), spacing=(2.5, 0.7, 0.7))
    sources = [pydicom.dcmread(p) for p in paths]
    mask = np.zeros((6, 32, 32), dtype=np.uint8)
    mask[1:3, 10:20, 10:20] = 1
    mask[3:6, 12:18, 12:18] = 2
    category = CodedConcept("49755003", "SCT", "Morphologically Abnormal Structure")
    segments = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=label,
            segmented_property_category=category,
            segmented_property_type=CodedConcept("27925004", "SCT", "Nodule"),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n, label in ((1, "first"), (2, "second"))
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments,
        series_instance_uid=generate_uid(),
        series_number=10,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="dicomteach",
        manufacturer_model_name="tests",
        software_versions="0",
        device_serial_number="0",
    )
    seg.save_as(tmp_path / "seg.dcm")
    result = io.read(tmp_path)
    segs = sorted((v for v in result.volumes if v.modality == "SEG"), key=lambda v: v.n_frames)
    assert [v.n_frames for v in segs] == [2, 3] and result.skipped == []
    assert all(v.spacing == pytest.approx((2.5, 0.7, 0.7)) for v in segs)
    whole = io.read_file(tmp_path / "seg.dcm")
    assert whole.n_frames == 5 and whole.spacing[1:] == pytest.approx((0.7, 0.7))
