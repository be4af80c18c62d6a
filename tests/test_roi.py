"""dicomteach.roi: the rasterisation rule, SEG / RTSTRUCT round trips checked by dciodvfy, answers."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicomteach import io
from dicomteach.errors import DicomTeachError
from dicomteach.io.volume import FrameAxis, Volume
from dicomteach.io.writer import write_ct_series
from dicomteach.roi.answers import Answer, Point, load_answer, point_at, save_answer
from dicomteach.roi.errors import AnswerError, GridMismatchError, RoiError
from dicomteach.roi.polygons import (
    MAX_CROSSINGS_PER_PIXEL,
    mask_to_contours,
    mask_to_polygons,
    polygon_to_mask,
    polygons_to_mask,
)
from dicomteach.roi.rtstruct import read_rtstruct, write_rtstruct
from dicomteach.roi.seg import read_seg, write_seg

DCIODVFY = shutil.which("dciodvfy")


def dciodvfy_errors(path) -> list[str]:
    if DCIODVFY is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed")
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    """A small oblique CT written the way scanners write it, read back as a Volume."""
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(
        folder,
        np.zeros((6, 40, 32)),
        spacing=(2.5, 0.7, 0.8),
        orientation=(0.8, 0.6, 0, -0.6, 0.8, 0),
    )
    return io.load(folder)


def random_masks(shape, seed):
    rng = np.random.default_rng(seed)
    blobs = rng.random(shape) < 0.35
    box = np.zeros(shape, bool)
    box[1:4, 5:25, 4:20] = True
    box[2, 10:14, 8:12] = False  # a hole
    return {"Random blobs": blobs & (np.arange(shape[0]) > 0)[:, None, None], "Box": box}


class TestPolygonToMask:
    def test_square_on_pixel_centres_covers_its_area(self):
        mask = polygon_to_mask([(1, 1), (1, 4), (4, 4), (4, 1)], (6, 6))
        expected = np.zeros((6, 6), bool)
        expected[1:4, 1:4] = True
        assert np.array_equal(mask, expected)

    def test_top_and_left_edges_are_in_bottom_and_right_out(self):
        mask = polygon_to_mask([(2, 2), (2, 3), (3, 3), (3, 2)], (5, 5))
        assert np.argwhere(mask).tolist() == [[2, 2]]

    def test_square_around_pixel_edges_is_exact(self):
        mask = polygon_to_mask([(0.5, 0.5), (0.5, 2.5), (2.5, 2.5), (2.5, 0.5)], (4, 4))
        assert np.argwhere(mask).tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]

    def test_triangle_takes_pixels_whose_centre_is_inside(self):
        mask = polygon_to_mask([(0, 0), (0, 6), (6, 0)], (7, 7))
        rows, cols = np.indices((7, 7))
        # inside the triangle row + col < 6; the hypotenuse is a right edge: out
        assert np.array_equal(mask, rows + cols < 6)

    def test_orientation_does_not_matter(self):
        points = np.array([(0.3, 1.2), (5.7, 2.2), (4.1, 6.9), (1.0, 5.5)])
        assert np.array_equal(
            polygon_to_mask(points, (8, 8)), polygon_to_mask(points[::-1], (8, 8))
        )

    def test_bow_tie_is_two_triangles(self):
        mask = polygon_to_mask([(0, 0), (0, 4), (4, 0), (4, 4)], (5, 5))
        assert mask.astype(int).tolist() == [
            [1, 1, 1, 1, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],
        ]

    def test_pentagram_centre_is_outside_by_even_odd(self):
        angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5  # every second vertex of a pentagon
        star = np.column_stack([20 - 15 * np.sin(angles), 20 + 15 * np.cos(angles)])
        mask = polygon_to_mask(star, (41, 41))
        assert not mask[20, 20]  # crossed twice: even
        assert mask[20 - 11, 20]  # in the top point: crossed once

    def test_outline_inside_another_is_a_hole(self):
        outer = [(0.5, 0.5), (0.5, 6.5), (6.5, 6.5), (6.5, 0.5)]
        hole = [(2.5, 2.5), (2.5, 4.5), (4.5, 4.5), (4.5, 2.5)]
        mask = polygons_to_mask([outer, hole], (8, 8))
        expected = np.zeros((8, 8), bool)
        expected[1:7, 1:7] = True
        expected[3:5, 3:5] = False
        assert np.array_equal(mask, expected)

    def test_polygon_beyond_the_image_is_clipped(self):
        mask = polygon_to_mask([(-5, -5), (-5, 2), (2, 2), (2, -5)], (4, 4))
        assert np.argwhere(mask).max(axis=0).tolist() == [1, 1]

    def test_wrong_shape_names_the_argument(self):
        with pytest.raises(ValueError, match="'points_rc' must have shape"):
            polygon_to_mask([1, 2, 3], (4, 4))

    def test_an_outline_crossing_the_rows_millions_of_times_is_refused(self):
        # a zigzag from the top row to the bottom and back, 100 000 times: no delineation
        zigzag = np.tile([[-0.5, 3.0], [31.5, 3.0]], (100_000, 1))
        limit = MAX_CROSSINGS_PER_PIXEL * 32 * 33
        with pytest.raises(ValueError, match=f"6400000 times, more than the {limit}"):
            polygon_to_mask(zigzag, (32, 32))

    @pytest.mark.parametrize("seed", range(30))
    def test_random_polygons_follow_the_rule_pixel_by_pixel(self, seed):
        """Against the rule of dicomteach/roi/polygons.py evaluated pixel by pixel: a ray
        from each centre, edges crossed when min(r0, r1) <= i < max(r0, r1), inside when
        an odd number of crossings lie at columns <= j. Vertices fall anywhere, beyond
        every side of the image too; random ones are never exactly on a centre's row or column."""
        rng = np.random.default_rng(seed)
        rows, cols = (int(n) for n in rng.integers(1, 30, size=2))
        outlines = [
            rng.uniform((-6, -6), (rows + 6, cols + 6), size=(int(rng.integers(3, 9)), 2))
            for _ in range(int(rng.integers(1, 4)))
        ]
        expected = np.zeros((rows, cols), bool)
        for points in outlines:
            for (r0, c0), (r1, c1) in zip(points, np.roll(points, -1, axis=0), strict=True):
                for i in range(rows):
                    if min(r0, r1) <= i < max(r0, r1):
                        x = c0 + (i - r0) * (c1 - c0) / (r1 - r0)
                        expected[i] ^= np.arange(cols) >= x
        assert np.array_equal(polygons_to_mask(outlines, (rows, cols)), expected)

    def test_points_and_segments_enclose_nothing_and_hide_no_other_outline(self):
        square = [(0.5, 0.5), (0.5, 3.5), (3.5, 3.5), (3.5, 0.5)]
        alone = polygon_to_mask(square, (5, 5))
        assert alone.sum() == 9
        for degenerate in ([(2, 2)], [(0, 0), (4, 4)]):
            assert not polygons_to_mask([degenerate], (5, 5)).any()
            assert np.array_equal(polygons_to_mask([degenerate, square], (5, 5)), alone)

    def test_an_image_without_pixels_gives_an_empty_mask(self):
        assert polygon_to_mask([(0, 0), (0, 3), (3, 0)], (0, 4)).shape == (0, 4)

    @pytest.mark.parametrize(
        ("outlines", "shape", "problem"),
        [
            ([[(0, 0), (0, 3), (3, 0)]], (4, 4, 4), r"'shape' must be \(rows, columns\)"),
            ([[(0, 0), (0, 3), (3, 0)]], (-1, 4), r"'shape' must be \(rows, columns\)"),
            (
                [[(0, 0), (0, 3), (3, 0)], [(0, 0), (1, np.nan), (2, 2)]],
                (4, 4),
                r"'outlines\[1\]' must hold finite",
            ),
        ],
    )
    def test_bad_arguments_are_named(self, outlines, shape, problem):
        with pytest.raises(ValueError, match=problem):
            polygons_to_mask(outlines, shape)


class TestMaskToPolygons:
    @pytest.mark.parametrize("seed", range(40))
    def test_random_masks_round_trip_exactly(self, seed):
        rng = np.random.default_rng(seed)
        shape = tuple(rng.integers(1, 40, size=2))
        mask = rng.random(shape) < rng.uniform(0.05, 0.95)
        assert np.array_equal(polygons_to_mask(mask_to_polygons(mask), shape), mask)

    def test_ring_gives_an_outline_and_a_hole(self):
        mask = np.zeros((7, 7), bool)
        mask[1:6, 1:6] = True
        mask[3, 3] = False
        outlines = mask_to_polygons(mask)
        assert len(outlines) == 2
        assert np.array_equal(polygons_to_mask(outlines, mask.shape), mask)

    def test_diagonal_neighbours_get_separate_outlines(self):
        mask = np.array([[1, 0], [0, 1]], bool)
        outlines = mask_to_polygons(mask)
        assert [len(o) for o in outlines] == [4, 4]

    def test_vertices_are_pixel_corners(self):
        mask = np.random.default_rng(3).random((12, 9)) < 0.5
        corners = np.concatenate(mask_to_polygons(mask))
        assert np.all(corners % 1 == 0.5)

    def test_empty_mask_has_no_outline(self):
        assert mask_to_polygons(np.zeros((3, 3), bool)) == []

    def test_a_volume_is_refused(self):
        with pytest.raises(ValueError, match="'mask' must be 2D, not 3D"):
            mask_to_polygons(np.zeros((2, 3, 3), bool))


class TestMaskToContours:
    """Contours for RTSTRUCT: one per region, holes keyholed, right for OR and even-odd readers."""

    @pytest.mark.parametrize("seed", range(40))
    def test_or_readers_and_even_odd_readers_get_the_mask(self, seed):
        rng = np.random.default_rng(seed)
        shape = tuple(rng.integers(1, 40, size=2))
        mask = rng.random(shape) < rng.uniform(0.05, 0.95)
        contours = mask_to_contours(mask)
        assert np.array_equal(polygons_to_mask(contours, shape), mask)  # even-odd across all
        filled_one_by_one = np.zeros(shape, bool)
        for contour in contours:
            filled_one_by_one |= polygon_to_mask(contour, shape)
        assert np.array_equal(filled_one_by_one, mask)

    def test_a_ring_with_two_holes_and_an_island_in_one(self):
        mask = np.zeros((12, 14), bool)
        mask[1:11, 1:13] = True
        mask[3:8, 3:8] = False  # a hole, with an island in it
        mask[5, 5] = True
        mask[3:5, 10:12] = False  # a second hole
        contours = mask_to_contours(mask)
        assert len(contours) == 2  # the ring (holes joined to it) and the island
        for contour in contours:  # every vertex on a pixel corner: no centre on a cut
            assert np.all(contour % 1 == 0.5)
        assert sum(polygon_to_mask(c, mask.shape) for c in contours).max() == 1  # no overlap
        assert np.array_equal(polygons_to_mask(contours, mask.shape), mask)


class TestSeg:
    def test_multi_segment_seg_is_valid_and_reads_back_equal(self, ct, tmp_path):
        masks = random_masks(ct.pixels.shape, 1)
        path = write_seg(masks, ct, tmp_path / "seg.dcm", series_uid="1.2.826.0.1.3680043.10.1")
        assert dciodvfy_errors(path) == []
        found = read_seg(path, ct)
        assert found.names == {1: "Random blobs", 2: "Box"}
        assert found.spacing == ct.spacing
        for number, name in found.names.items():
            assert np.array_equal(found.masks[number], masks[name]), name
        assert found.segments[2].label == "Box" and found.segments[2].algorithm_type == "MANUAL"

    def test_fixed_uids_and_creation_time_write_the_same_bytes(self, ct, tmp_path):
        import highdicom as hd
        from pydicom.sr.codedict import codes

        box = random_masks(ct.pixels.shape, 2)["Box"]
        description = hd.seg.SegmentDescription(
            segment_number=1,
            segment_label="Box",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type="MANUAL",
            tracking_uid="1.2.826.0.1.3680043.10.9",
            tracking_id="Box",
        )
        fixed = dict(
            descriptions=[description],
            series_uid="1.2.826.0.1.3680043.10.7",
            sop_uid="1.2.826.0.1.3680043.10.8",
            created=("20250414", "120000"),
        )
        paths = [write_seg({1: box}, ct, tmp_path / f"{n}.dcm", **fixed) for n in "ab"]
        assert paths[0].read_bytes() == paths[1].read_bytes()
        ds = pydicom.dcmread(paths[0])
        assert (ds.ContentDate, ds.InstanceCreationTime) == ("20250414", "120000")
        assert dciodvfy_errors(paths[0]) == []

    def test_label_map_writes_one_segment_per_label(self, ct, tmp_path):
        labels = np.zeros(ct.pixels.shape, np.uint8)
        labels[2, 3:9, 4:8] = 1
        labels[3, 10:20, 10:20] = 2
        found = read_seg(write_seg(labels, ct, tmp_path / "labels.dcm"), ct)
        assert sorted(found.masks) == [1, 2]
        assert np.array_equal(found.masks[2], labels == 2)

    def test_frames_are_placed_by_position_without_references(self, ct, tmp_path):
        masks = random_masks(ct.pixels.shape, 2)
        path = write_seg(masks, ct, tmp_path / "seg.dcm")
        # the same geometry, but no file to match the references against
        bare = Volume(ct.pixels, ct.spacing, ct.origin, ct.direction, frame_axis=FrameAxis.SLICE)
        found = read_seg(path, bare)
        assert np.array_equal(found.masks[2], masks["Box"])

    def test_seg_on_its_own_grid_without_the_images(self, ct, tmp_path):
        box = np.zeros(ct.pixels.shape, bool)
        box[1:5, 5:25, 4:20] = True
        found = read_seg(write_seg({"Box": box}, ct, tmp_path / "seg.dcm"), None)
        assert found.masks[1].shape == (4, 40, 32)  # empty frames are not stored
        assert np.array_equal(found.masks[1], box[1:5])
        assert np.allclose(found.spacing, ct.spacing)

    def test_seg_on_another_grid_is_refused(self, ct, tmp_path):
        path = write_seg(random_masks(ct.pixels.shape, 3), ct, tmp_path / "seg.dcm")
        shifted = Volume(ct.pixels, ct.spacing, tuple(np.add(ct.origin, 1.3)), ct.direction)
        with pytest.raises(GridMismatchError, match="lies on no frame"):
            read_seg(path, shifted)

    def test_not_a_seg_is_one_line(self):
        with pytest.raises(RoiError, match="not a DICOM Segmentation") as info:
            read_seg(get_testdata_file("CT_small.dcm", download=False))
        assert "\n" not in str(info.value)


class TestRtstruct:
    def test_written_structure_set_is_valid_and_reads_back_equal(self, ct, tmp_path):
        masks = random_masks(ct.pixels.shape, 4)
        path = write_rtstruct(masks, ct, tmp_path / "rtstruct.dcm")
        assert dciodvfy_errors(path) == []
        found = read_rtstruct(path, ct)
        assert found.keys() == masks.keys()
        for name, mask in masks.items():
            assert np.array_equal(found[name], mask), name

    def test_contours_reference_the_slices_they_lie_on(self, ct, tmp_path):
        import pydicom

        box = np.zeros(ct.pixels.shape, bool)
        box[3, 5:9, 5:9] = True
        ds = pydicom.dcmread(write_rtstruct({"Box": box}, ct, tmp_path / "rt.dcm"))
        (contour,) = ds.ROIContourSequence[0].ContourSequence
        expected = pydicom.dcmread(ct.sources[3][0]).SOPInstanceUID
        assert contour.ContourImageSequence[0].ReferencedSOPInstanceUID == expected
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        assert np.allclose(points, ct.index_to_lps(ct.lps_to_index(points)))
        assert np.allclose(ct.lps_to_index(points)[:, 0], 3)

    def test_pydicom_structure_set_onto_a_matching_grid(self):
        # rtstruct.dcm: a 'patient' outline (400 × 300 mm) on planes z = -200, -190, -180
        grid = Volume(
            np.zeros((3, 61, 81), np.int16),
            spacing=(10.0, 5.0, 5.0),
            origin=(-200.0, -150.0, -200.0),
            direction=np.eye(3)[[2, 1, 0]],  # frames along z, rows along y, columns along x
            frame_axis=FrameAxis.SLICE,
        )
        found = read_rtstruct(get_testdata_file("rtstruct.dcm", download=False), grid)
        assert list(found) == ["patient"]  # the isocentres are POINTs: nothing to fill
        areas = found["patient"].sum(axis=(1, 2)) * 25.0
        assert np.all(areas > 0.5 * 400 * 300) and np.all(areas <= 400 * 300)

    def test_contour_between_slices_is_refused(self, ct, tmp_path):
        box = np.zeros(ct.pixels.shape, bool)
        box[2, 5:9, 5:9] = True
        path = write_rtstruct({"Box": box}, ct, tmp_path / "rt.dcm")
        moved = Volume(
            ct.pixels,
            ct.spacing,
            tuple(np.asarray(ct.origin) + 1.2 * ct.direction[0]),
            ct.direction,
        )
        with pytest.raises(GridMismatchError, match="lies off the image's slices"):
            read_rtstruct(path, moved)


class TestAnswers:
    def test_answer_round_trips(self, ct, tmp_path):
        answer = Answer(
            ct.series_uid,
            [point_at(ct, 2, 10.5, 7, "nodule"), Point((0.0, 1.0, 2.0), None, "apex")],
            "hotspot",
        )
        path = save_answer(answer, tmp_path / "answer.json")
        assert load_answer(path) == answer
        data = json.loads(path.read_text())
        assert data["version"] == 1 and data["points"][1]["patient_mm"] is None
        assert np.allclose(data["points"][0]["patient_mm"], ct.index_to_lps((2, 10.5, 7)))

    def test_save_leaves_no_temporary_file(self, tmp_path):
        save_answer(Answer("1.2.3"), tmp_path / "a.json")
        assert [p.name for p in tmp_path.iterdir()] == ["a.json"]

    @pytest.mark.parametrize(
        "text, problem",
        [
            ("not json", "not JSON"),
            ("[1, 2]", "must hold a JSON object"),
            ('{"series_uid": "1", "points": []}', "'version' must be a whole number"),
            ('{"version": 9, "series_uid": "1", "points": []}', "newer dicomteach"),
            ('{"version": 1, "series_uid": 5, "points": []}', "'series_uid' must be a string"),
            ('{"version": 1, "series_uid": "1", "points": {}}', "'points' must be a list"),
            (
                '{"version": 1, "series_uid": "1", "points": [{"image": [1, 2]}]}',
                r"points\[0\]\.image",
            ),
            (
                '{"version": 1, "series_uid": "1", "points": [{"image": [1, 2, 3], "label": 4}]}',
                r"points\[0\]\.label",
            ),
        ],
    )
    def test_wrong_json_is_one_line_error(self, tmp_path, text, problem):
        path = tmp_path / "answer.json"
        path.write_text(text)
        with pytest.raises(AnswerError, match=problem) as info:
            load_answer(path)
        assert isinstance(info.value, DicomTeachError)
        assert "\n" not in str(info.value) and str(path) in str(info.value)

    def test_missing_answer_names_the_file(self, tmp_path):
        with pytest.raises(AnswerError, match="cannot read the answer"):
            load_answer(tmp_path / "absent.json")


def test_npz_names_name_the_labels(tmp_path):
    from dicomteach.roi.load import read_npz

    labels = np.zeros((3, 4, 4), np.uint8)
    labels[0, 0, 0], labels[1, 1, 1] = 1, 2
    np.savez(tmp_path / "a.npz", mask=labels, spacing=np.ones(3), names=np.array(["GTV", "Node"]))
    assert read_npz(tmp_path / "a.npz").names == {1: "GTV", 2: "Node"}
    np.savez(tmp_path / "b.npz", mask=labels > 0, spacing=np.ones(3), names=np.array(["GTV"]))
    assert read_npz(tmp_path / "b.npz").names == {1: "GTV"}
