"""Tests for dicomteach.roi.interpolate: shape-based interpolation between drawn slices."""

from __future__ import annotations

import numpy as np
import pytest

from dicomteach.roi import interpolate_slices

SIZE = 64


def disc(
    radius: float, centre: tuple[float, float] = (32.0, 32.0), spacing=(1.0, 1.0)
) -> np.ndarray:
    """Pixels whose centre lies within ``radius`` mm of ``centre`` (pixel units)."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    return np.hypot((rows - centre[0]) * spacing[0], (cols - centre[1]) * spacing[1]) <= radius


def equivalent_radius(image: np.ndarray, pixel_area: float = 1.0) -> float:
    return float(np.sqrt(image.sum() * pixel_area / np.pi))


def centroid(image: np.ndarray) -> np.ndarray:
    return np.argwhere(image).mean(axis=0)


def stack(*slices: tuple[int, np.ndarray], n: int = 10) -> np.ndarray:
    mask = np.zeros((n, SIZE, SIZE), bool)
    for k, image in slices:
        mask[k] = image
    return mask


class TestInterpolation:
    def test_radii_grow_linearly_between_two_circles(self) -> None:
        mask = stack((2, disc(10)), (6, disc(20)))
        out = interpolate_slices(mask)
        radii = [equivalent_radius(out[k]) for k in (3, 4, 5)]
        assert radii == pytest.approx([12.5, 15.0, 17.5], abs=0.4)
        for k in (3, 4, 5):
            assert centroid(out[k]) == pytest.approx([32.0, 32.0], abs=1e-9)

    def test_drawn_slices_come_back_unchanged_and_outside_stays_empty(self) -> None:
        ellipse = disc(12) & (np.arange(SIZE)[None, :] < 38)
        mask = stack((2, disc(10)), (6, disc(20)), (8, ellipse))
        out = interpolate_slices(mask)
        assert out.dtype == bool and out.shape == mask.shape
        for k in (2, 6, 8):
            assert np.array_equal(out[k], mask[k])
        assert not out[:2].any() and not out[9].any()
        assert out[7].any()

    def test_shifted_circles_move_linearly(self) -> None:
        mask = stack((0, disc(12, (24.0, 26.0))), (4, disc(12, (32.0, 34.0))))
        out = interpolate_slices(mask)
        for k in (1, 2, 3):
            expected = np.array([24.0, 26.0]) + 2.0 * k
            assert centroid(out[k]) == pytest.approx(expected, abs=0.25)
            # the blend of two offset cones is an ellipse: narrower across the path, by
            # sqrt(1 - (shift / 2r)^2) ≈ 0.89 half-way for a shift of 8√2 px and r = 12
            assert 0.85 * 12.0 < equivalent_radius(out[k]) <= 12.3

    def test_single_drawn_slice_returns_the_mask_unchanged(self) -> None:
        mask = stack((4, disc(8)))
        assert np.array_equal(interpolate_slices(mask), mask)
        empty = np.zeros((3, 5, 5), bool)
        assert np.array_equal(interpolate_slices(empty), empty)

    def test_empty_drawn_slice_ends_the_structure(self) -> None:
        mask = stack((1, disc(10)), (5, disc(10)), (8, disc(10)))
        out = interpolate_slices(mask, drawn=[1, 3, 5, 8])  # slice 3 drawn empty
        assert not out[2:5].any()
        assert np.array_equal(out[6], disc(10)) and np.array_equal(out[7], disc(10))

    def test_only_drawn_slices_are_read(self) -> None:
        mask = stack((1, disc(10)), (5, disc(10)), (8, disc(6)))
        out = interpolate_slices(mask, drawn=[1, 5])
        assert not out[8].any()
        assert np.array_equal(out[3], disc(10))

    def test_axis_and_anisotropic_spacing(self) -> None:
        # pixels twice as tall as wide: a 16 mm circle is 8 rows tall and 16 columns wide
        spacing = (2.0, 1.0)
        a, b = disc(8, spacing=spacing), disc(16, spacing=spacing)
        mask = np.zeros((SIZE, 5, SIZE), bool)  # slices along axis 1
        mask[:, 0], mask[:, 4] = a, b
        out = interpolate_slices(mask, axis=1, spacing=(2.0, 3.0, 1.0))
        middle = out[:, 2]
        assert equivalent_radius(middle, pixel_area=2.0) == pytest.approx(12.0, abs=0.6)
        rows, cols = np.ptp(np.argwhere(middle), axis=0) + 1
        assert cols == pytest.approx(2 * rows, abs=2)
        same = interpolate_slices(mask, axis=1, spacing=(2.0, 1.0))
        assert np.array_equal(same, out)

    def test_full_slice_and_slices_touching_the_border(self) -> None:
        full = np.ones((SIZE, SIZE), bool)
        out = interpolate_slices(stack((0, disc(10)), (4, full), n=5))
        assert 10**2 * np.pi < out[2].sum() < SIZE**2
        assert out[3].sum() > out[2].sum() > out[1].sum()


class TestErrors:
    @pytest.mark.parametrize("shape", [(5, 5), (2, 3, 4, 5)])
    def test_mask_must_be_3d(self, shape) -> None:
        with pytest.raises(ValueError, match="'mask' must be a 3D array"):
            interpolate_slices(np.zeros(shape, bool))

    @pytest.mark.parametrize("drawn", [[0, 10], [-1], [1.5]])
    def test_drawn_must_be_indices_inside(self, drawn) -> None:
        with pytest.raises(ValueError, match="'drawn' must hold integers in"):
            interpolate_slices(np.zeros((10, 4, 4), bool), drawn)

    def test_bad_axis_and_spacing(self) -> None:
        with pytest.raises(ValueError, match="'axis' must be 0, 1 or 2"):
            interpolate_slices(np.zeros((3, 4, 4), bool), axis=3)
        with pytest.raises(ValueError, match="'spacing'"):
            interpolate_slices(np.zeros((3, 4, 4), bool), spacing=(1.0, 0.0))
