"""Series assembly as a PACS viewer does it (dicomteach/io/assemble.py), on series written
here with known geometry: group, split, sort along the slice normal, check the spacing."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from dicomteach import io
from dicomteach.errors import SeriesError
from dicomteach.io.volume import FrameAxis
from dicomteach.io.writer import StudyInfo, write_ct_series
from factories import numbered_slices, rotation_x, rotation_y, rotation_z, slice_marks


class TestSortingAndSpacing:
    def test_shuffled_files_with_lying_instance_numbers_sort_by_position(self, tmp_path):
        hu = numbered_slices()
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
        write_ct_series(tmp_path / "s", numbered_slices(), spacing=(2.5, 0.7, 0.7))
        for p in (tmp_path / "s").iterdir():
            ds = pydicom.dcmread(p)
            ds.SliceThickness = "5"  # overlapping reconstruction: thickness 5, spacing 2.5
            ds.save_as(p)
        assert io.load(tmp_path / "s").spacing[0] == pytest.approx(2.5)

    @pytest.mark.parametrize("step", [0.625, 0.1])
    def test_thin_slices_are_a_regular_stack(self, tmp_path, step):
        write_ct_series(tmp_path / "s", numbered_slices(), spacing=(step, 0.5, 0.5))
        vol = io.load(tmp_path / "s")
        assert vol.spacing == pytest.approx((step, 0.5, 0.5))
        assert vol.n_frames == 12 and vol.warnings == []

    def test_a_stack_without_pixel_spacing_assumes_1_mm_and_says_so(self, tmp_path):
        write_ct_series(tmp_path / "s", numbered_slices(), spacing=(2.5, 0.7, 0.7), skip=[5])
        for p in (tmp_path / "s").iterdir():
            ds = pydicom.dcmread(p)
            del ds.PixelSpacing
            ds.save_as(p)
        vol = io.load(tmp_path / "s")
        assert vol.spacing == pytest.approx((2.5, 1.0, 1.0))
        assert vol.warnings[0] == "no Pixel Spacing; assumed 1 mm"
        assert any("1 missing slice" in w for w in vol.warnings[1:]), vol.warnings

    def test_a_missing_slice_is_reported_not_hidden(self, tmp_path):
        write_ct_series(tmp_path / "s", numbered_slices(), spacing=(2.5, 0.7, 0.7), skip=[5])
        vol = io.load(tmp_path / "s")
        assert vol.n_frames == 11
        assert vol.spacing[0] == pytest.approx(2.5)
        assert any("1 missing slice between slice 5 and 6" in w for w in vol.warnings), vol.warnings
        # the true positions are kept, so nothing is misplaced
        assert vol.positions[5, 2] - vol.positions[4, 2] == pytest.approx(5.0)

    def test_irregular_spacing_is_reported(self, tmp_path):
        hu = numbered_slices(6)
        z = [0.0, 2.5, 5.0, 8.2, 10.7, 13.2]
        write_ct_series(tmp_path / "s", hu, positions=[(-10, -10, zk) for zk in z])
        vol = io.load(tmp_path / "s")
        assert vol.warnings == [
            "irregular slice spacing: steps from 2.5 to 3.2 mm (median 2.5 mm) at 1 place"
        ]

    def test_what_the_spacing_warnings_say(self, tmp_path):
        z = [0.0, 2.5, 5.0, 12.5, 15.0, 18.1, 20.6, 23.8, 26.3]
        write_ct_series(tmp_path / "s", numbered_slices(9), positions=[(0, 0, zk) for zk in z])
        assert io.load(tmp_path / "s").warnings == [
            "2 missing slices between slice 3 and 4 (5.00 → 12.50 mm along the normal, "
            "spacing 2.5 mm)",
            "irregular slice spacing: steps from 2.5 to 7.5 mm (median 2.5 mm) at 2 places",
        ]

    def test_oblique_series_geometry_matches_its_headers(self, tmp_path):
        r = rotation_x(30)
        orientation = np.concatenate([r @ [1, 0, 0], r @ [0, 1, 0]])
        write_ct_series(
            tmp_path / "s",
            numbered_slices(),
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
            numbered_slices(),
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
        write_ct_series(tmp_path / "s", numbered_slices(n), positions=positions, gantry_tilt=tilt)
        vol = io.load(tmp_path / "s")
        # the tilt measured from the positions, and the one the header states
        assert any("gantry tilt of 15.0° (header: 15°)" in w for w in vol.warnings), vol.warnings
        for k in range(n):
            assert vol.index_to_lps((k, 0, 0)) == pytest.approx(positions[k], abs=1e-4)
        assert slice_marks(vol) == [10.0 * k for k in range(n)]

    def test_a_tilt_the_header_does_not_state_is_reported_from_the_positions(self, tmp_path):
        positions = [(0.0, -k * 2.5 * np.tan(np.radians(20)), k * 2.5) for k in range(6)]
        write_ct_series(tmp_path / "s", numbered_slices(6), positions=positions)
        (warning,) = io.load(tmp_path / "s").warnings
        assert warning.startswith("gantry tilt of 20.0°: slices are sheared;"), warning


class TestOneSlice:
    """A single slice has no neighbour: its thickness comes from the header."""

    @pytest.mark.parametrize(
        ("spacing_between", "thickness", "expected"),
        [
            ("3.5", "1.25", 3.5),
            (None, "1.25", 1.25),
            (None, "0.5", 0.5),
            (None, None, 1.0),
            ("", "0", 1.0),
        ],
        ids=["spacing-between-slices", "slice-thickness", "thin", "neither", "empty-and-zero"],
    )
    def test_slice_thickness_from_the_header(self, tmp_path, spacing_between, thickness, expected):
        (path,) = write_ct_series(tmp_path / "s", numbered_slices(1), spacing=(2.0, 0.7, 0.6))
        ds = pydicom.dcmread(path)
        for keyword, value in (
            ("SpacingBetweenSlices", spacing_between),
            ("SliceThickness", thickness),
        ):
            if value is None:
                ds.pop(keyword, None)
            else:
                setattr(ds, keyword, value)
        ds.save_as(path)
        vol = io.load(path)
        assert vol.frame_axis is FrameAxis.SINGLE and vol.geometry_known
        assert vol.spacing == pytest.approx((expected, 0.7, 0.6))


def _without_geometry(path: Path, number: int | None, *, keep: tuple[str, ...] = ()) -> None:
    """Make a CT slice a loose image (a scanned film, a screenshot): no position, no orientation."""
    ds = pydicom.dcmread(path)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        if keyword not in keep:
            ds.pop(keyword, None)
    ds.pop("SliceLocation", None)
    if number is None:
        del ds.InstanceNumber
    else:
        ds.InstanceNumber = number
    ds.save_as(path)


class TestLooseImages:
    """Images without position are not stacked: one volume each, in instance-number order."""

    def test_ordered_by_instance_number_with_nominal_geometry(self, tmp_path):
        hu = numbered_slices(3)
        paths = write_ct_series(tmp_path / "s", hu, spacing=(2.0, 0.7, 0.6))
        # file order and instance numbers disagree: the numbers decide
        for path, number in zip(paths, (30, 10, 20), strict=True):
            _without_geometry(path, number)
        volumes = io.read(tmp_path / "s").volumes
        assert [int(v.header.InstanceNumber) for v in volumes] == [10, 20, 30]
        assert [slice_marks(v) for v in volumes] == [[10.0], [20.0], [0.0]]
        for vol in volumes:
            assert not vol.geometry_known
            assert vol.spacing == (1.0, 1.0, 1.0)
            assert vol.origin == (0.0, 0.0, 0.0)
            np.testing.assert_array_equal(vol.direction, np.eye(3))
            assert vol.warnings == ["no pixel spacing in the header; distances are in pixels"]

    def test_spacing_and_patient_orientation_are_kept_and_no_number_sorts_first(self, tmp_path):
        paths = write_ct_series(tmp_path / "s", numbered_slices(2), spacing=(2.0, 0.7, 0.6))
        _without_geometry(paths[0], 1, keep=("PixelSpacing",))
        _without_geometry(paths[1], None, keep=("PixelSpacing",))
        for path in paths:
            ds = pydicom.dcmread(path)
            ds.PatientOrientation = ["L", "F"]  # a PA chest film: rows to the left, columns down
            ds.save_as(path)
        volumes = io.read(tmp_path / "s").volumes
        assert [slice_marks(v) for v in volumes] == [[10.0], [0.0]]
        for vol in volumes:
            assert not vol.geometry_known
            assert vol.spacing == pytest.approx((1.0, 0.7, 0.6))
            assert vol.warnings == []
            # frames along the normal (posterior), then columns (feet), then rows (left)
            np.testing.assert_allclose(vol.direction, [[0, 1, 0], [0, 0, -1], [1, 0, 0]])


class TestSplitting:
    def test_two_series_in_one_folder_stay_apart(self, tmp_path):
        study = StudyInfo()
        write_ct_series(
            tmp_path / "f", numbered_slices(8), study=study, series_number=2, series_description="A"
        )
        write_ct_series(
            tmp_path / "g",
            numbered_slices(5),
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
        write_ct_series(tmp_path / "s", numbered_slices(6), study=study, series_uid=uid)
        # two coronal images in the same series, as a localiser sometimes is
        write_ct_series(
            tmp_path / "c",
            numbered_slices(2),
            study=study,
            series_uid=uid,
            orientation=(1, 0, 0, 0, 0, -1),
        )
        for p in (tmp_path / "c").iterdir():
            shutil.move(p, tmp_path / "s" / f"cor_{p.name}")
        series = io.read(tmp_path / "s").studies[0].series
        assert len(series) == 1
        assert sorted(v.n_frames for v in series[0].volumes) == [2, 6]

    @pytest.mark.parametrize(
        ("pixel_spacing", "orientation", "frames"),
        [
            ("0.8\\0.8", None, [4, 4]),  # a second field of view: another volume
            (None, (1, 0, 0, 0, 0.9998, 0.02), [4, 4]),  # tilted by 1.1°: another volume
            ("0.70000004\\0.70000004", None, [8]),  # rounding noise in the header: one stack
            (None, (1, 0, 0, 0, 1, 0.00002), [8]),
        ],
        ids=["spacing", "orientation", "spacing-noise", "orientation-noise"],
    )
    def test_slices_of_another_grid_are_another_volume(
        self, tmp_path, pixel_spacing, orientation, frames
    ):
        paths = write_ct_series(tmp_path / "s", numbered_slices(8), spacing=(2.0, 0.7, 0.7))
        for p in paths[1::2]:
            ds = pydicom.dcmread(p)
            if pixel_spacing:
                ds.PixelSpacing = pixel_spacing
            if orientation:
                ds.ImageOrientationPatient = list(orientation)
            ds.save_as(p)
        series = io.read(tmp_path / "s").studies[0].series
        assert len(series) == 1
        assert [v.n_frames for v in series[0].volumes] == frames

    def test_repeated_positions_split_by_acquisition(self, tmp_path):
        study = StudyInfo()
        uid = generate_uid()
        write_ct_series(tmp_path / "s", numbered_slices(6), study=study, series_uid=uid)
        write_ct_series(tmp_path / "t", numbered_slices(6) + 500, study=study, series_uid=uid)
        for p in (tmp_path / "t").iterdir():
            ds = pydicom.dcmread(p)
            ds.AcquisitionNumber = 2
            ds.save_as(tmp_path / "s" / f"acq2_{p.name}")
        volumes = io.read(tmp_path / "s").studies[0].series[0].volumes
        assert len(volumes) == 2
        marks = sorted(slice_marks(v)[0] for v in volumes)
        assert marks == [0.0, 500.0]
        assert all(v.n_frames == 6 for v in volumes)

    def test_repeats_nothing_tells_apart_are_split_by_instance_number(self, tmp_path):
        study = StudyInfo()
        uid = generate_uid()
        first = write_ct_series(tmp_path / "s", numbered_slices(4), study=study, series_uid=uid)
        again = write_ct_series(
            tmp_path / "t", numbered_slices(4) + 500, study=study, series_uid=uid
        )
        # the same header but for the pixels and the instance number, in one folder
        for k, p in enumerate(first + again):
            ds = pydicom.dcmread(p)
            ds.InstanceNumber = 20 - k  # later files first
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.save_as(tmp_path / "s" / f"x{k}.dcm")
        for p in first:
            p.unlink()
        volumes = io.read(tmp_path / "s").studies[0].series[0].volumes
        assert [slice_marks(v) for v in volumes] == [
            [500.0, 510.0, 520.0, 530.0],
            [0.0, 10.0, 20.0, 30.0],
        ]
        for v in volumes:
            assert (
                "slices repeat at the same position and no attribute tells them apart; "
                "split by Instance Number order"
            ) in v.warnings


def _double_oblique() -> np.ndarray:
    """A sagittal plane turned 25° about the body axis and 10° about the AP axis: its normal
    points to the patient's right, forwards and a little towards the feet."""
    turn = rotation_z(25) @ rotation_y(-10)
    return np.concatenate([turn @ [0, 1, 0], turn @ [0, 0, -1]])


#: Where each slice's file lands in a folder listing (slice k → IM{_SCRAMBLED[k]}.dcm).
_SCRAMBLED = (5, 0, 9, 3, 11, 1, 7, 2, 10, 4, 8, 6)


def _scramble(paths: list[Path]) -> None:
    """File names and Instance Numbers that say nothing of where each slice lies."""
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = len(paths) - k
        ds.save_as(path.parent / f"IM{_SCRAMBLED[k]:04d}.dcm", enforce_file_format=True)
        path.unlink()


class TestAlongTheSliceNormal:
    """Stacks whose normal is not the head-ward z axis, files shuffled: only the position
    along the normal (Image Position · (row × column cosines)) puts the slices in order.
    Sorting by the raw z of Image Position (Patient) fails every one of them."""

    @pytest.mark.parametrize(
        "orientation",
        [
            pytest.param((0, 1, 0, 0, 0, -1), id="sagittal"),  # normal to the patient's right
            pytest.param((1, 0, 0, 0, 0, -1), id="coronal"),  # normal posterior
            pytest.param((-1, 0, 0, 0, 1, 0), id="axial-feet-first"),  # normal to the feet
            pytest.param(_double_oblique(), id="double-oblique"),
        ],
    )
    def test_shuffled_stack_is_sorted_with_its_spacing_and_geometry(self, tmp_path, orientation):
        orientation = np.asarray(orientation, float)
        row, col = orientation[:3], orientation[3:]
        normal = np.cross(row, col)
        n, step, pixel = len(_SCRAMBLED), 3.0, 0.8
        origin = np.array([10.0, -20.0, 30.0])
        paths = write_ct_series(
            tmp_path / "s",
            numbered_slices(n),
            spacing=(step, pixel, pixel),
            origin=origin,
            orientation=orientation,
        )
        _scramble(paths)
        vol = io.load(tmp_path / "s")
        assert vol.frame_axis is FrameAxis.SLICE and vol.warnings == []
        assert slice_marks(vol) == [10.0 * k for k in range(n)]
        assert vol.spacing == pytest.approx((step, pixel, pixel), abs=1e-5)
        # the slice axis is the normal; rows and columns run as the header says
        assert vol.direction[0] == pytest.approx(normal, abs=1e-5)
        assert vol.direction[1] == pytest.approx(col, abs=1e-5)
        assert vol.direction[2] == pytest.approx(row, abs=1e-5)
        assert vol.origin == pytest.approx(origin, abs=1e-4)
        assert np.diff(vol.positions @ normal) == pytest.approx([step] * (n - 1), abs=1e-4)
        for k in range(n):
            assert vol.index_to_lps((k, 0, 0)) == pytest.approx(
                origin + k * step * normal, abs=1e-4
            )
        # slice 5, row 7, column 3 is where the header puts it, and back
        point = origin + 5 * step * normal + 7 * pixel * col + 3 * pixel * row
        assert vol.index_to_lps((5, 7, 3)) == pytest.approx(point, abs=1e-4)
        assert vol.lps_to_index(point) == pytest.approx((5, 7, 3), abs=1e-6)


def test_a_seg_with_two_segments_gives_one_volume_per_segment(tmp_path):
    """Both segments come out (the file is decoded once per volume, its header left whole)."""
    import highdicom as hd
    from highdicom.sr import CodedConcept

    paths = write_ct_series(tmp_path / "ct", numbered_slices(6), spacing=(2.5, 0.7, 0.7))
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
