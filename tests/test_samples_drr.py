"""The projector behind the sample chest radiograph (dicomteach/samples/drr.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from dicomteach.samples import drr

SID = 1800.0


def _sphere_volume(centre, radius: float, voxel: float, mu: float = 0.02):
    """A ball of attenuation ``mu`` on a voxel grid round it: (volume, (z, y, x) axes)."""
    axes = [np.arange(c - radius - 2 * voxel, c + radius + 2 * voxel, voxel) for c in centre[::-1]]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (zz - centre[2]) ** 2 <= radius**2
    return (inside * mu).astype(np.float32), tuple(axes)


def _centroid(image: np.ndarray, grid: drr.Grid) -> tuple[float, float]:
    weights = image / image.sum()
    return float((weights.sum(axis=0) * grid.u).sum()), float((weights.sum(axis=1) * grid.v).sum())


class TestProjectVolume:
    def test_water_on_the_central_ray_attenuates_by_its_thickness(self) -> None:
        axes = (np.arange(-5.0, 5.5, 0.5), np.arange(-100.0, 100.5, 0.5), np.arange(-5.0, 5.5, 0.5))
        mu = np.full([len(a) for a in axes], 0.02, dtype=np.float32)  # 200.5 mm of water
        projection = drr.Projection(SID, -150.0, 0.0)
        out = drr.project_volume(mu, axes, projection, drr.Grid.covering(0.0, 0.0, 0.0, 0.0, 1.0))
        assert out[0, 0] == pytest.approx(0.02 * 201.0, rel=0.01)

    def test_structures_far_from_the_plate_are_magnified_more(self) -> None:
        projection = drr.Projection(SID, -150.0, 0.0)
        grid = drr.Grid.covering(-60.0, 60.0, -30.0, 30.0, 0.5)
        near, far = (30.0, -120.0, 0.0), (30.0, 120.0, 0.0)  # 30 and 270 mm from the plate
        widths, positions = [], []
        for centre in (near, far):
            mu, axes = _sphere_volume(centre, 8.0, 0.5)
            image = drr.project_volume(mu, axes, projection, grid)
            positions.append(_centroid(image, grid)[0])
            widths.append((image.max(axis=0) > 0.5 * image.max()).sum() * grid.step)
        for centre, position in zip((near, far), positions, strict=True):
            assert position == pytest.approx(
                30.0 * float(projection.magnification(centre[1])), abs=0.3
            )
        assert widths[1] / widths[0] == pytest.approx(
            float(projection.magnification(120.0) / projection.magnification(-120.0)), rel=0.05
        )


class TestCylinderIntegrals:
    def test_a_tube_projects_like_its_voxels(self) -> None:
        """The exact chords and the voxel projector agree on a tilted tapered tube."""
        projection = drr.Projection(SID, -150.0, 0.0)
        grid = drr.Grid.covering(-30.0, 30.0, -30.0, 30.0, 0.5)
        p0, p1 = np.array([-20.0, -30.0, -15.0]), np.array([15.0, 40.0, 18.0])
        r0, r1 = 4.0, 2.5
        exact = drr.cylinder_integrals(
            p0[None], p1[None], np.array([r0]), np.array([r1]), np.array([0.02]), projection, grid
        )
        voxel = 0.25
        axes = [
            np.arange(-35.0, 35.0, voxel),
            np.arange(-45.0, 55.0, voxel),
            np.arange(-35.0, 35.0, voxel),
        ]
        zz, yy, xx = np.meshgrid(*axes, indexing="ij", sparse=True)
        axis = (p1 - p0) / np.linalg.norm(p1 - p0)
        s = (xx - p0[0]) * axis[0] + (yy - p0[1]) * axis[1] + (zz - p0[2]) * axis[2]
        length = np.linalg.norm(p1 - p0)
        t = s / length
        dx, dy, dz = xx - p0[0] - s * axis[0], yy - p0[1] - s * axis[1], zz - p0[2] - s * axis[2]
        inside = (t >= 0) & (t <= 1) & (dx * dx + dy * dy + dz * dz <= (r0 + (r1 - r0) * t) ** 2)
        voxels = drr.project_volume(
            (inside * 0.02).astype(np.float32), tuple(axes), projection, grid
        )
        assert exact.sum() == pytest.approx(voxels.sum(), rel=0.02)
        # voxels have stair-stepped edges: compare a millimetre blur of both
        blurred = [ndimage.gaussian_filter(image, 2.0) for image in (exact, voxels)]
        assert np.abs(blurred[0] - blurred[1]).max() < 0.03 * blurred[0].max()

    def test_a_tube_seen_end_on_is_as_dense_as_it_is_long(self) -> None:
        projection = drr.Projection(SID, -150.0, 0.0)
        grid = drr.Grid.covering(-1.0, 1.0, -1.0, 1.0, 1.0)
        along_the_beam = drr.cylinder_integrals(
            np.array([[0.0, -50.0, 0.0]]),
            np.array([[0.0, 30.0, 0.0]]),
            np.array([3.0]),
            np.array([3.0]),
            np.array([0.02]),
            projection,
            grid,
        )
        assert along_the_beam[1, 1] == pytest.approx(0.02 * 80.0, rel=0.01)
