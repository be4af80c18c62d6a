"""Tests for dicomteach.imaging.planes: display layouts of axial, coronal and sagittal planes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from dicomteach import io
from dicomteach.imaging import (
    LABEL_THRESHOLD,
    PLANES,
    PlaneLayout,
    extract_slice,
    native_plane,
    orientation_label,
    plane_layout,
    slice_index_to_volume,
)
from dicomteach.io.volume import Volume

# Volume.direction: row a is the LPS unit vector of array axis a (frame, row, column)
AXIAL_CT = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)  # IOP 1\0\0\0\1\0, feet first
AXIAL_ROWS_REVERSED = np.array([[0, 0, 1], [0, -1, 0], [1, 0, 0]], float)
AXIAL_HEAD_DOWN = np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], float)  # slices stored top first
SAGITTAL_MR = np.array([[-1, 0, 0], [0, 0, -1], [0, 1, 0]], float)  # IOP 0\1\0\0\0\-1
CORONAL_MR = np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float)  # IOP 1\0\0\0\0\-1


def rotated_axial(degrees: float) -> np.ndarray:
    """An axial stack whose rows and columns are rotated by ``degrees`` about z."""
    a = np.radians(degrees)
    columns = np.array([np.cos(a), np.sin(a), 0.0])  # the row direction cosine (IOP first half)
    rows = np.array([-np.sin(a), np.cos(a), 0.0])
    return np.array([[0, 0, 1], rows, columns], float)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.diag(r))


DIRECTIONS = {
    "axial": AXIAL_CT,
    "axial-rows-reversed": AXIAL_ROWS_REVERSED,
    "axial-head-down": AXIAL_HEAD_DOWN,
    "sagittal": SAGITTAL_MR,
    "coronal": CORONAL_MR,
    "oblique-20": rotated_axial(20.0),
}

SHAPE = (6, 7, 5)
SPACING = (3.0, 0.8, 1.1)


def layouts(direction: np.ndarray, shape=SHAPE, spacing=SPACING) -> dict[str, PlaneLayout]:
    return {p: plane_layout(direction, spacing, shape, p) for p in PLANES}


def lps_grid(direction: np.ndarray, shape=SHAPE, spacing=SPACING) -> np.ndarray:
    """(frames, rows, columns, 3): LPS coordinates of every voxel centre."""
    vol = Volume(np.zeros(shape, np.int16), spacing, (10.0, -20.0, 30.0), direction)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    return vol.index_to_lps(index.astype(float))


class TestOrientationLabel:
    @pytest.mark.parametrize(
        ("vector", "letters"),
        [
            ((1, 0, 0), "L"),
            ((-1, 0, 0), "R"),
            ((0, 1, 0), "P"),
            ((0, -1, 0), "A"),
            ((0, 0, 1), "S"),
            ((0, 0, -1), "I"),
            ((0, 0, -7.5), "I"),
        ],
    )
    def test_axes_give_one_letter(self, vector, letters) -> None:
        assert orientation_label(vector) == letters

    def test_oblique_letters_are_ordered_by_magnitude(self) -> None:
        assert orientation_label([0.94, 0.34, 0.0]) == "LP"
        assert orientation_label([0.34, -0.94, 0.0]) == "AL"
        assert orientation_label([-0.3, 0.5, -0.81]) == "IPR"

    def test_small_components_are_ignored(self) -> None:
        small = LABEL_THRESHOLD * 0.9
        assert orientation_label([1.0, small, -small]) == "L"
        assert orientation_label([1.0, LABEL_THRESHOLD * 1.1, 0.0]) == "LP"

    @pytest.mark.parametrize("vector", [(0, 0, 0), (1, 0), (np.nan, 0, 1)])
    def test_bad_vectors_are_rejected(self, vector) -> None:
        with pytest.raises(ValueError, match="'vector'"):
            orientation_label(vector)


class TestAxialCT:
    def test_axial_is_native_and_displayed_as_stored(self) -> None:
        axial = layouts(AXIAL_CT)["axial"]
        assert axial.native
        assert (axial.slice_axis, axial.row_axis, axial.col_axis) == (0, 1, 2)
        assert not axial.flip_rows and not axial.flip_cols
        assert axial.letters == {"top": "A", "bottom": "P", "left": "R", "right": "L"}

    def test_coronal_reformat_has_superior_at_the_top(self) -> None:
        coronal = layouts(AXIAL_CT)["coronal"]
        assert not coronal.native
        assert (coronal.slice_axis, coronal.row_axis, coronal.col_axis) == (1, 0, 2)
        assert coronal.flip_rows and not coronal.flip_cols
        assert coronal.letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}

    def test_sagittal_reformat_has_anterior_on_the_left(self) -> None:
        sagittal = layouts(AXIAL_CT)["sagittal"]
        assert (sagittal.slice_axis, sagittal.row_axis, sagittal.col_axis) == (2, 0, 1)
        assert sagittal.flip_rows and not sagittal.flip_cols
        assert sagittal.letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}

    def test_extract_slice_of_coronal_shows_superior_at_the_top(self) -> None:
        z = lps_grid(AXIAL_CT)[..., 2]
        coronal = layouts(AXIAL_CT)["coronal"]
        image = extract_slice(z, coronal, 3)
        assert image.shape == (coronal.rows, coronal.cols) == (SHAPE[0], SHAPE[2])
        assert np.all(np.diff(image[:, 0]) < 0)  # z falls going down the screen
        assert image[0, 0] == z.max()

    def test_real_ct_file_gets_the_axial_layout(self) -> None:
        path = get_testdata_file("CT_small.dcm", download=False)
        vol = io.load(path)
        axial = plane_layout(vol.direction, vol.spacing, vol.pixels.shape, "axial")
        assert axial.native
        assert axial.letters == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
        assert np.array_equal(extract_slice(vol.pixels, axial, 0), vol.pixels[0])


class TestOtherAcquisitions:
    def test_rows_stored_posterior_first_show_posterior_at_the_top_natively(self) -> None:
        planes = layouts(AXIAL_ROWS_REVERSED)
        assert planes["axial"].letters == {"top": "P", "bottom": "A", "left": "R", "right": "L"}
        assert planes["sagittal"].flip_cols
        assert planes["sagittal"].letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}

    def test_slices_stored_head_first_need_no_flip_in_coronal(self) -> None:
        coronal = layouts(AXIAL_HEAD_DOWN)["coronal"]
        assert not coronal.flip_rows
        assert coronal.letters["top"] == "S"

    def test_sagittal_mr(self) -> None:
        planes = layouts(SAGITTAL_MR)
        assert native_plane(SAGITTAL_MR) == "sagittal"
        sagittal, axial, coronal = planes["sagittal"], planes["axial"], planes["coronal"]
        assert sagittal.native and (sagittal.row_axis, sagittal.col_axis) == (1, 2)
        assert sagittal.letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
        assert (axial.slice_axis, axial.row_axis, axial.col_axis) == (1, 2, 0)
        assert axial.flip_cols and not axial.flip_rows  # frames run to the right (−x)
        assert axial.letters == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
        assert (coronal.slice_axis, coronal.row_axis, coronal.col_axis) == (2, 1, 0)
        assert coronal.letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}

    def test_coronal_mr(self) -> None:
        planes = layouts(CORONAL_MR)
        assert native_plane(CORONAL_MR) == "coronal"
        assert planes["coronal"].native
        assert planes["coronal"].letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
        axial, sagittal = planes["axial"], planes["sagittal"]
        assert (axial.slice_axis, axial.row_axis, axial.col_axis) == (1, 0, 2)
        assert axial.letters == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
        assert (sagittal.slice_axis, sagittal.row_axis, sagittal.col_axis) == (2, 1, 0)
        assert sagittal.letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}

    def test_oblique_stack_gets_two_letter_edges(self) -> None:
        planes = layouts(rotated_axial(20.0))
        axial = planes["axial"]
        assert axial.native
        assert axial.letters == {"top": "AL", "bottom": "PR", "left": "RA", "right": "LP"}
        coronal = planes["coronal"]
        assert (coronal.slice_axis, coronal.row_axis, coronal.col_axis) == (1, 0, 2)
        assert coronal.letters == {"top": "S", "bottom": "I", "left": "RA", "right": "LP"}
        # 60° off: the rows (not the columns) now run closest to left–right
        steep = layouts(rotated_axial(60.0))["coronal"]
        assert (steep.slice_axis, steep.col_axis) == (2, 1)

    def test_anisotropic_spacing_follows_the_axes(self) -> None:
        shape, spacing = (40, 64, 48), (5.0, 0.7, 0.9)
        planes = layouts(AXIAL_CT, shape, spacing)
        axial, coronal, sagittal = planes["axial"], planes["coronal"], planes["sagittal"]
        assert (axial.rows, axial.cols, axial.n_slices) == (64, 48, 40)
        assert (axial.row_spacing, axial.col_spacing, axial.slice_spacing) == (0.7, 0.9, 5.0)
        assert (coronal.rows, coronal.cols, coronal.n_slices) == (40, 48, 64)
        assert (coronal.row_spacing, coronal.col_spacing, coronal.slice_spacing) == (5.0, 0.9, 0.7)
        assert (sagittal.rows, sagittal.cols, sagittal.n_slices) == (40, 64, 48)
        assert (sagittal.row_spacing, sagittal.col_spacing) == (5.0, 0.7)


class TestConventions:
    @pytest.mark.parametrize("name", sorted(DIRECTIONS))
    def test_reformats_follow_the_radiological_convention(self, name: str) -> None:
        direction = DIRECTIONS[name]
        lps = lps_grid(direction)
        # (patient axis, sign) expected screen-down and screen-right
        screen = {
            "axial": ((1, 1), (0, 1)),
            "coronal": ((2, -1), (0, 1)),
            "sagittal": ((2, -1), (1, 1)),
        }
        for plane, layout in layouts(direction).items():
            image = np.stack([extract_slice(lps[..., a], layout, 1) for a in range(3)], -1)
            down = image[1, 0] - image[0, 0]
            right = image[0, 1] - image[0, 0]
            if layout.native:
                assert np.array_equal(image, lps[1])
                continue
            (down_axis, down_sign), (right_axis, right_sign) = screen[plane]
            assert down[down_axis] * down_sign > 0, (plane, down)
            assert right[right_axis] * right_sign > 0, (plane, right)
            assert orientation_label(down) == layout.letters["bottom"]
            assert orientation_label(-right) == layout.letters["left"]

    @pytest.mark.parametrize("seed", range(8))
    def test_every_direction_uses_each_axis_once(self, seed: int) -> None:
        direction = random_rotation(np.random.default_rng(seed))
        planes = layouts(direction)
        assert sorted(layout.slice_axis for layout in planes.values()) == [0, 1, 2]
        for layout in planes.values():
            assert sorted((layout.slice_axis, layout.row_axis, layout.col_axis)) == [0, 1, 2]
        assert sum(layout.native for layout in planes.values()) == 1
        assert planes[native_plane(direction)].native

    def test_exact_ties_are_broken_the_same_way_every_time(self) -> None:
        a = 1 / np.sqrt(2)
        direction = np.array([[0, 0, 1], [-a, a, 0], [a, a, 0]])
        first = [layout.as_dict() for layout in layouts(direction).values()]
        second = [layout.as_dict() for layout in layouts(direction.copy()).values()]
        assert first == second

    @pytest.mark.parametrize("name", sorted(DIRECTIONS))
    def test_slice_index_to_volume_inverts_extract_slice(self, name: str) -> None:
        values = np.arange(np.prod(SHAPE)).reshape(SHAPE)
        for layout in layouts(DIRECTIONS[name]).values():
            for index in (0, layout.n_slices - 1):
                image = extract_slice(values, layout, index)
                for row in range(layout.rows):
                    for col in range(layout.cols):
                        voxel = slice_index_to_volume(layout, index, row, col)
                        assert values[voxel] == image[row, col]

    def test_colour_keeps_its_sample_axis_last(self) -> None:
        rgb = np.random.default_rng(0).integers(0, 255, SHAPE + (3,), dtype=np.uint8)
        coronal = plane_layout(AXIAL_CT, SPACING, rgb.shape, "coronal")
        image = extract_slice(rgb, coronal, 2)
        assert image.shape == (SHAPE[0], SHAPE[2], 3)
        assert np.array_equal(image[0, 0], rgb[-1, 2, 0])

    def test_as_dict_is_json(self) -> None:
        layout = plane_layout(AXIAL_CT, np.array(SPACING), np.array(SHAPE), "sagittal")
        data = layout.as_dict()
        assert json.loads(json.dumps(data)) == data
        assert data["letters"] == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
        assert type(data["rows"]) is int and type(data["row_spacing"]) is float


class TestSingleFrameAndErrors:
    def test_single_frame_has_only_its_native_plane(self) -> None:
        axial = plane_layout(AXIAL_CT, (1.0, 0.5, 0.5), (1, 30, 40), "axial")
        assert axial.native and axial.n_slices == 1
        image = np.arange(1200).reshape(1, 30, 40)
        assert np.array_equal(extract_slice(image, axial, 0), image[0])
        for plane in ("coronal", "sagittal"):
            with pytest.raises(
                ValueError, match=f"single-frame image has only its native axial plane, not {plane}"
            ):
                plane_layout(AXIAL_CT, (1.0, 0.5, 0.5), (1, 30, 40), plane)

    def test_single_coronal_radiograph_has_its_coronal_plane(self) -> None:
        coronal = plane_layout(CORONAL_MR, (1.0, 0.2, 0.2), (1, 300, 200), "coronal")
        assert coronal.letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
        with pytest.raises(ValueError, match="single-frame"):
            plane_layout(CORONAL_MR, (1.0, 0.2, 0.2), (1, 300, 200), "axial")

    @pytest.mark.parametrize(
        ("args", "match"),
        [
            ((AXIAL_CT, SPACING, SHAPE, "oblique"), "'plane'"),
            ((np.eye(2), SPACING, SHAPE, "axial"), "'direction'"),
            ((np.zeros((3, 3)), SPACING, SHAPE, "axial"), "'direction'"),
            ((AXIAL_CT, (1.0, 0.0, 1.0), SHAPE, "axial"), "'spacing'"),
            ((AXIAL_CT, SPACING, (4, 5), "axial"), "'shape'"),
            ((AXIAL_CT, SPACING, (0, 5, 5), "axial"), "'shape'"),
        ],
    )
    def test_bad_arguments_are_rejected(self, args, match) -> None:
        with pytest.raises(ValueError, match=match):
            plane_layout(*args)

    def test_extract_slice_checks_shape_and_index(self) -> None:
        layout = plane_layout(AXIAL_CT, SPACING, SHAPE, "coronal")
        with pytest.raises(ValueError, match="coronal layout was made for"):
            extract_slice(np.zeros((6, 7, 6)), layout, 0)
        with pytest.raises(ValueError, match=r"'index' must be in \[0, 6\]"):
            extract_slice(np.zeros(SHAPE), layout, 7)
        with pytest.raises(ValueError, match="'index' must be in"):
            extract_slice(np.zeros(SHAPE), layout, -1)
        with pytest.raises(ValueError, match="'index' must be an integer"):
            extract_slice(np.zeros(SHAPE), layout, 1.5)
        with pytest.raises(ValueError, match="'row' must be in"):
            slice_index_to_volume(layout, 0, layout.rows, 0)
