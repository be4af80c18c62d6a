"""Tests for dicomteach.imaging.resample and dicomteach.imaging.registration."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import Rigid, register_rigid, resample_to
from dicomteach.io.volume import Volume
from dicomteach.samples import ct_chest, phantoms
from factories import (
    AXIAL,
    ellipsoid_hu,
    phantom_ct,
    phantom_film,
    rigid_matrix,
    rotation_z,
    voxel_lps,
)

# a CT-like phantom in LPS mm: a body ellipsoid with lungs, a spine, soft tissue and two nodules
BODY = (150.0, 105.0, 85.0)
BLOBS = (  # centre (x, y, z), semi-axes, HU
    ((-60.0, -20.0, 10.0), (45.0, 55.0, 60.0), -800.0),
    ((55.0, -15.0, -5.0), (40.0, 50.0, 55.0), -800.0),
    ((0.0, 60.0, 0.0), (14.0, 14.0, 80.0), 700.0),
    ((-20.0, -50.0, 30.0), (25.0, 20.0, 22.0), 60.0),
    ((30.0, 20.0, -40.0), (8.0, 8.0, 8.0), 300.0),
    ((-70.0, 40.0, -30.0), (6.0, 6.0, 6.0), 900.0),
)
CENTRES = np.array([b[0] for b in BLOBS])


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees of the rotation taking 3×3 rotation ``a`` to ``b``."""
    return float(np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1.0) / 2.0, -1.0, 1.0))))


def phantom_hu(points: np.ndarray) -> np.ndarray:
    return ellipsoid_hu(points, BODY, BLOBS, clip_to_body=True)


def grid_volume(shape, spacing, origin, direction=AXIAL) -> Volume:
    return Volume(np.zeros(shape, np.int16), tuple(spacing), tuple(origin), np.array(direction))


def ct_like(
    motion: np.ndarray | None = None,
    *,
    seed: int = 1,
    shape=(64, 128, 128),
    spacing=(3.0, 2.5, 2.5),
    direction=AXIAL,
) -> Volume:
    """A CT of the phantom, grid centred near the origin; the anatomy moved by ``motion`` (4×4).

    Pixels are written through the known transform: voxel q shows the anatomy at motion⁻¹(q).
    """
    return phantom_ct(
        phantom_hu,
        motion,
        seed=seed,
        shape=shape,
        spacing=spacing,
        centre=(3.0, -2.0, 1.0),
        noise_hu=10.0,
        direction=direction,
    )


def _film(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    image = np.full(x.shape, 200.0)
    image += 1800.0 * ((x / 110) ** 2 + (z / 120) ** 2 <= 1)  # soft tissue
    image -= 1300.0 * (((x + 50) / 38) ** 2 + ((z - 15) / 80) ** 2 <= 1)  # right lung
    image -= 1300.0 * (((x - 48) / 34) ** 2 + ((z - 25) / 70) ** 2 <= 1)  # left lung
    image += 900.0 * ((np.abs(x + 4) < 9) & (z < 100))  # spine
    image += 600.0 * (((x - 30) / 30) ** 2 + ((z + 30) / 22) ** 2 <= 1)  # heart
    image += 700.0 * (((x + 60) ** 2 + (z - 40) ** 2) <= 8**2)  # a mass
    return image


def radiograph(motion: np.ndarray | None = None) -> Volume:
    """A 256×256 PA chest-like radiograph at 1 mm in the coronal plane y = 0."""
    return phantom_film(_film, motion, size=256)


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    return rigid_matrix(rotation_z(5.0), (10.0, -6.0, 4.0))


@pytest.fixture(scope="module")
def ct_pair(motion: np.ndarray) -> tuple[Volume, Volume]:
    return ct_like(), ct_like(motion, seed=2)


class TestResample:
    @pytest.mark.parametrize("order", [0, 1])
    def test_resampling_onto_itself_is_the_identity(self, order: int) -> None:
        rng = np.random.default_rng(0)
        direction = np.linalg.qr(rng.standard_normal((3, 3)))[0]
        vol = grid_volume((7, 9, 11), (2.5, 0.7, 1.3), (-13.0, 27.5, 101.0), direction)
        vol.pixels = rng.integers(-1000, 2000, vol.pixels.shape).astype(np.int16)
        vol.rescale_slope, vol.rescale_intercept = np.array([2.0]), np.array([-7.0])
        out = resample_to(vol, vol, order=order)
        assert out.dtype == np.float32 and out.shape == vol.pixels.shape
        expected = vol.pixels * 2.0 - 7.0
        np.testing.assert_allclose(out, expected, atol=1e-3 if order else 0)

    def test_cubic_resampling_onto_itself_is_the_identity(self) -> None:
        vol = grid_volume((5, 6, 7), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0))
        vol.pixels = np.random.default_rng(1).integers(0, 100, (5, 6, 7)).astype(np.int16)
        np.testing.assert_allclose(resample_to(vol, vol, order=3), vol.pixels, atol=1e-3)

    def test_known_shift_moves_the_values_by_whole_voxels(self) -> None:
        vol = grid_volume((4, 10, 12), (2.0, 1.5, 1.0), (0.0, 0.0, 0.0))
        vol.pixels = np.random.default_rng(2).integers(0, 1000, (4, 10, 12)).astype(np.int16)
        # reference point p samples the moving volume at p + (3 x, 4.5 y, 2 z) mm
        out = resample_to(vol, vol, transform=rigid_matrix(np.eye(3), (3.0, 4.5, 2.0)), fill=-5)
        np.testing.assert_allclose(out[:3, :7, :9], vol.pixels[1:, 3:, 3:], atol=1e-3)
        assert np.all(out[3] == -5) and np.all(out[:, 7:] == -5) and np.all(out[:, :, 9:] == -5)

    def test_known_rotation_of_a_quarter_turn(self) -> None:
        vol = grid_volume((3, 8, 8), (1.0, 1.0, 1.0), (-3.5, -3.5, 0.0))  # centred on the z axis
        vol.pixels = np.random.default_rng(3).integers(0, 1000, (3, 8, 8)).astype(np.int16)
        out = resample_to(vol, vol, transform=rigid_matrix(rotation_z(90.0), (0, 0, 0)))
        # out[k, i, j] = vol at R·(x_j, y_i): x' = −y, y' = x
        np.testing.assert_allclose(out, vol.pixels[:, :, ::-1].transpose(0, 2, 1), atol=1e-3)

    def test_rigid_motion_is_undone_by_its_transform(self, ct_pair, motion) -> None:
        fixed, moving = ct_pair
        reference = fixed.pixels - 1024.0
        aligned = resample_to(moving, fixed, transform=motion)
        unaligned = resample_to(moving, fixed)
        body = phantom_hu(voxel_lps(fixed)) > -1000
        error = np.abs(aligned - reference)[body].mean()
        assert error < 0.35 * np.abs(unaligned - reference)[body].mean()
        assert error < 30.0

    def test_coarse_pet_on_fine_ct_keeps_the_sphere_where_it_was(self) -> None:
        centre = np.array([12.3, -40.7, 25.1])
        pet = grid_volume((24, 32, 32), (4.0, 4.0, 4.0), (-70.0, -110.0, -20.0))
        distance = np.linalg.norm(voxel_lps(pet) - centre, axis=-1)
        pet.pixels = np.round(1000 * np.exp(-((distance / 12.0) ** 2))).astype(np.uint16)
        pet.modality = "PT"
        ct = grid_volume((40, 80, 80), (1.5, 1.2, 1.2), (-30.0, -100.0, -10.0))
        out = resample_to(pet, ct)
        assert out.shape == ct.pixels.shape
        hot = out > 0.5 * out.max()
        weights = out * hot
        found = (voxel_lps(ct) * weights[..., None]).sum(axis=(0, 1, 2)) / weights.sum()
        assert np.linalg.norm(found - centre) < 0.5
        sphere = np.argwhere(hot)
        assert sphere.min() > 0 and np.all(sphere.max(axis=0) < np.array(ct.pixels.shape) - 1)

    def test_outside_gets_the_minimum_or_fill(self) -> None:
        small = grid_volume((2, 3, 3), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
        small.pixels = np.arange(18, dtype=np.int16).reshape(2, 3, 3) + 5
        big = grid_volume((2, 3, 6), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
        assert np.all(resample_to(small, big)[:, :, 4:] == 5)
        assert np.all(resample_to(small, big, fill=-1)[:, :, 4:] == -1)
        # half a voxel beyond the last centre still shows the edge voxel
        shifted = grid_volume((2, 3, 3), (1.0, 1.0, 1.0), (0.5, 0.0, 0.0))
        np.testing.assert_array_equal(
            resample_to(small, shifted, fill=-1)[:, :, 2], small.pixels[:, :, 2]
        )

    def test_single_frame_images(self) -> None:
        fixed = radiograph()
        shift = rigid_matrix(np.eye(3), (5.0, 0.0, -3.0))
        moving = radiograph(shift)
        out = resample_to(moving, fixed, transform=shift)
        assert out.shape == (1, 256, 256)
        np.testing.assert_allclose(out[0, 10:-10, 10:-10], fixed.pixels[0, 10:-10, 10:-10], atol=1)
        # a plane more than half a slice away is outside
        away = rigid_matrix(np.eye(3), (0.0, 0.6, 0.0))
        assert np.all(resample_to(moving, fixed, transform=away, fill=-1) == -1)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"transform": np.eye(3)}, "'transform' must be a finite 4×4"),
            ({"transform": np.ones((4, 4))}, "last row"),
            ({"order": 6}, "'order'"),
            ({"order": 1.0}, "'order'"),
        ],
    )
    def test_bad_arguments(self, kwargs, match) -> None:
        vol = grid_volume((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
        with pytest.raises(ValueError, match=match):
            resample_to(vol, vol, **kwargs)

    def test_colour_is_rejected(self) -> None:
        rgb = grid_volume((1, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
        rgb.pixels = np.zeros((1, 2, 2, 3), np.uint8)
        with pytest.raises(ValueError, match="grayscale"):
            resample_to(rgb, rgb)


class TestRegistration:
    def test_3d_rotation_and_shift_are_recovered(self, ct_pair, motion) -> None:
        fixed, moving = ct_pair
        rigid = register_rigid(fixed, moving, shrink=(4, 2))  # full resolution adds ~5 s
        assert isinstance(rigid, Rigid) and rigid.iterations > 0 and rigid.metric_value < 0
        errors = np.linalg.norm(
            rigid.apply(CENTRES) - (CENTRES @ motion[:3, :3].T + motion[:3, 3]), axis=1
        )
        assert errors.max() < 1.0, errors
        assert angle_between(rigid.matrix[:3, :3], motion[:3, :3]) < 0.5
        assert rigid.rotation_degrees == pytest.approx(5.0, abs=0.5)
        np.testing.assert_allclose(rigid.inverse().matrix @ rigid.matrix, np.eye(4), atol=1e-9)

    def test_3d_axial_onto_sagittal_grid(self, ct_pair, motion) -> None:
        # same anatomy, moved, acquired as sagittal slices: checks the LPS ⇄ ITK geometry
        sagittal = np.array([[-1, 0, 0], [0, 0, -1], [0, 1, 0]], float)
        moving = ct_like(
            motion, seed=3, shape=(100, 64, 80), spacing=(3.0, 3.0, 3.0), direction=sagittal
        )
        fixed = ct_pair[0]
        rigid = register_rigid(fixed, moving, shrink=(4, 2))
        expected = CENTRES @ motion[:3, :3].T + motion[:3, 3]
        assert np.linalg.norm(rigid.apply(CENTRES) - expected, axis=1).max() < 1.0
        aligned = resample_to(moving, fixed, transform=rigid.matrix)
        body = phantom_hu(voxel_lps(fixed)) > -1000
        assert np.abs(aligned - (fixed.pixels - 1024.0))[body].mean() < 40.0

    def test_2d_shift_and_rotation_are_recovered_and_reproducible(self) -> None:
        # rotation of 4° about the plane's normal (y) through the image centre, then a shift
        a = np.radians(4.0)
        rotation = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        motion = rigid_matrix(rotation, (8.0, 0.0, -5.0))
        fixed, moving = radiograph(), radiograph(motion)
        rigid = register_rigid(fixed, moving, shrink=(2, 1), sampling=0.25)
        points = np.array([[-60.0, 0.0, 40.0], [30.0, 0.0, -30.0], [0.0, 0.0, 0.0]])
        expected = points @ rotation.T + motion[:3, 3]
        assert np.linalg.norm(rigid.apply(points) - expected, axis=1).max() < 1.0
        assert angle_between(rigid.matrix[:3, :3], rotation) < 0.5
        np.testing.assert_allclose(rigid.matrix[:3, :3] @ [0, 1, 0], [0, 1, 0], atol=1e-12)
        aligned = resample_to(moving, fixed, transform=rigid.matrix)
        inner = (slice(None), slice(30, -30), slice(30, -30))
        assert np.abs(aligned[inner] - fixed.pixels[inner]).mean() < 25
        again = register_rigid(fixed, moving, shrink=(2, 1), sampling=0.25)
        assert np.array_equal(again.matrix, rigid.matrix)
        assert again.metric_value == rigid.metric_value

    def test_identity_start_keeps_patient_coordinates(self) -> None:
        # a moving image with a larger field of view: centring the images would start 30 mm off
        fixed = radiograph()
        shift = rigid_matrix(np.eye(3), (4.0, 0.0, 3.0))
        moving = radiograph(shift)
        moving.pixels = np.pad(moving.pixels, ((0, 0), (0, 60), (0, 0)), mode="edge")
        rigid = register_rigid(fixed, moving, shrink=(2, 1), sampling=0.25, initial="identity")
        np.testing.assert_allclose(rigid.apply([-60.0, 0.0, 40.0]), [-56.0, 0.0, 43.0], atol=0.5)

    def test_2d_planes_apart_map_onto_each_other(self) -> None:
        fixed = radiograph()
        moving = radiograph()
        moving.origin = (moving.origin[0], 40.0, moving.origin[2])  # same picture, 40 mm behind
        rigid = register_rigid(fixed, moving, shrink=(2, 1), sampling=0.25)
        np.testing.assert_allclose(rigid.apply([0.0, 0.0, 0.0]), [0.0, 40.0, 0.0], atol=0.5)
        aligned = resample_to(moving, fixed, transform=rigid.matrix)
        assert np.abs(aligned - fixed.pixels).mean() < 5

    def test_mismatched_pairs_are_rejected(self) -> None:
        image = radiograph()
        volume = grid_volume((4, 8, 8), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
        with pytest.raises(ValueError, match="both be volumes or both single-frame"):
            register_rigid(volume, image)
        tilted = radiograph()
        tilted.direction = AXIAL.copy()
        with pytest.raises(ValueError, match="not parallel"):
            register_rigid(image, tilted)
        with pytest.raises(ValueError, match="'shrink'"):
            register_rigid(image, image, shrink=(2, 0))
        with pytest.raises(ValueError, match="'initial'"):
            register_rigid(image, image, initial="moments")

    def test_missing_simpleitk_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "SimpleITK", None)
        image = radiograph()
        with pytest.raises(ImportError, match="pip install SimpleITK"):
            register_rigid(image, image)


@pytest.mark.slow
def test_follow_up_ct_registers_onto_the_baseline_nodule(tmp_path: Path) -> None:
    # a small variant of the sample (2.8 mm pixels, 48 slices) keeps the nodule and the motion
    ct_chest.write(tmp_path, seed=0, size=128, slices=48)
    baseline = io.load(tmp_path / "baseline" / "ct")
    followup = io.load(tmp_path / "followup" / "ct")
    assert baseline.header.FrameOfReferenceUID != followup.header.FrameOfReferenceUID
    rigid = register_rigid(baseline, followup, shrink=(4, 2))
    visit = ct_chest._VISITS[1]
    rotation = phantoms.rigid_motion(*visit.rotation_deg)
    centre = phantoms.make_nodule(0).centre  # baseline LPS = phantom mm
    expected = rotation @ centre + np.asarray(visit.shift_mm)
    assert np.linalg.norm(rigid.apply(centre) - expected) < 2.0
    assert angle_between(rigid.matrix[:3, :3], rotation) < 0.5
