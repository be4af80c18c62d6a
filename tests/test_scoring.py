"""dicomteach.scoring against DeepMind's surface-distance, the empty-mask policy, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dicomteach.scoring import (
    SurfaceDistances,
    dice,
    hausdorff,
    hausdorff95,
    jaccard,
    mean_surface_distance,
    neighbour_codes,
    score,
    score_structures,
    signed_distance_map,
    surface_dice,
    surface_distances,
    surfel_area_table,
    volume_difference_pct,
)

sd = pytest.importorskip("surface_distance")
lookup_tables = pytest.importorskip("surface_distance.lookup_tables")


def ellipsoid(shape, centre, radii):
    grid = np.indices(shape, dtype=np.float64)
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)) <= 1


def box(shape, low, high):
    mask = np.zeros(shape, bool)
    mask[tuple(slice(a, b) for a, b in zip(low, high, strict=True))] = True
    return mask


def blobs(shape, seed, fraction):
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    # a little smoothing by summing shifted copies gives blob-like components
    smooth = sum(np.roll(noise, s, axis=a) for a in range(len(shape)) for s in (-1, 0, 1))
    return smooth > np.quantile(smooth, 1 - fraction)


S3 = (40, 44, 36)
CASES = {
    "sphere_shifted": (
        ellipsoid(S3, (20, 22, 18), (9, 9, 9)),
        ellipsoid(S3, (22, 20, 18), (9, 9, 9)),
        (1.0, 1.0, 1.0),
    ),
    "sphere_resized": (
        ellipsoid(S3, (20, 22, 18), (9, 9, 9)),
        ellipsoid(S3, (20, 22, 18), (12, 11, 10)),
        (1.0, 1.0, 1.0),
    ),
    "sphere_anisotropic": (
        ellipsoid(S3, (20, 22, 18), (6, 12, 12)),
        ellipsoid(S3, (21, 20, 19), (7, 11, 12)),
        (2.5, 0.7, 0.7),
    ),
    "sphere_anisotropic_xy": (
        ellipsoid(S3, (20, 22, 18), (12, 12, 5)),
        ellipsoid(S3, (20, 23, 18), (11, 13, 5)),
        (0.7, 0.7, 2.5),
    ),
    "cubes": (box(S3, (5, 5, 5), (20, 25, 30)), box(S3, (8, 3, 6), (22, 24, 29)), (1.2, 0.8, 3.0)),
    "cube_in_cube": (
        box(S3, (5, 5, 5), (30, 30, 30)),
        box(S3, (10, 10, 10), (20, 20, 20)),
        (1.0, 1.0, 1.0),
    ),
    "plate_one_voxel": (
        box(S3, (10, 5, 5), (11, 30, 30)),
        box(S3, (12, 6, 5), (13, 30, 29)),
        (2.0, 0.9, 0.9),
    ),
    "line_one_voxel": (
        box(S3, (5, 20, 18), (35, 21, 19)),
        box(S3, (7, 21, 18), (33, 22, 19)),
        (1.0, 0.6, 0.6),
    ),
    "line_vs_sphere": (
        box(S3, (5, 20, 18), (35, 21, 19)),
        ellipsoid(S3, (20, 22, 18), (9, 9, 9)),
        (1.5, 1.0, 1.0),
    ),
    "multi_component": (
        ellipsoid(S3, (10, 10, 10), (5, 5, 5)) | ellipsoid(S3, (30, 32, 26), (6, 5, 7)),
        ellipsoid(S3, (11, 10, 9), (5, 6, 5))
        | ellipsoid(S3, (28, 33, 26), (4, 5, 7))
        | box(S3, (2, 38, 2), (5, 42, 5)),
        (1.0, 0.8, 1.7),
    ),
    "touching_border": (
        box(S3, (0, 0, 0), (15, 44, 20)),
        box(S3, (0, 2, 0), (17, 44, 36)),
        (0.9, 0.9, 1.1),
    ),
    "random_blobs_a": (blobs(S3, 1, 0.2), blobs(S3, 2, 0.25), (1.0, 1.0, 1.0)),
    "random_blobs_b": (blobs((24, 30, 20), 3, 0.1), blobs((24, 30, 20), 4, 0.12), (0.7, 0.7, 2.5)),
    "far_apart": (
        ellipsoid(S3, (6, 6, 6), (4, 4, 4)),
        ellipsoid(S3, (33, 37, 29), (3, 5, 4)),
        (1.3, 0.7, 2.1),
    ),
    "identical": (ellipsoid(S3, (20, 22, 18), (9, 9, 9)),) * 2 + ((1.0, 1.0, 1.0),),
    "disc_2d": (
        ellipsoid((60, 64), (30, 32), (15, 15)),
        ellipsoid((60, 64), (33, 30), (12, 17)),
        (0.7, 0.7),
    ),
    "rectangles_2d": (box((50, 70), (5, 5), (30, 60)), box((50, 70), (8, 0), (40, 50)), (0.4, 1.3)),
    "thin_2d": (box((50, 70), (25, 5), (26, 60)), box((50, 70), (5, 30), (45, 31)), (1.0, 1.0)),
    "blobs_2d": (blobs((80, 90), 5, 0.3), blobs((80, 90), 6, 0.3), (0.35, 0.35)),
}
TOLERANCES = (0.0, 0.7, 1.0, 2.0, 2.5, 5.0)


@pytest.fixture(params=sorted(CASES), scope="module")
def case(request):
    reference, prediction, spacing = CASES[request.param]
    theirs = sd.compute_surface_distances(reference, prediction, spacing)
    ours = surface_distances(reference, prediction, spacing)
    return reference, prediction, spacing, theirs, ours


class TestSurfelTables:
    @pytest.mark.parametrize(
        "spacing",
        [(1.0, 1.0, 1.0), (0.7, 0.7, 2.5), (2.5, 0.7, 0.7), (1.3, 0.2, 4.1), (3.0, 1.0, 0.5)],
    )
    def test_areas_equal_surface_distance_table_3d(self, spacing):
        theirs = lookup_tables.create_table_neighbour_code_to_surface_area(spacing)
        np.testing.assert_allclose(surfel_area_table(spacing), theirs, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.7, 2.5), (0.14, 0.14)])
    def test_lengths_equal_surface_distance_table_2d(self, spacing):
        theirs = lookup_tables.create_table_neighbour_code_to_contour_length(spacing)
        np.testing.assert_allclose(surfel_area_table(spacing), theirs, rtol=1e-12, atol=1e-12)

    def test_neighbour_codes_follow_the_encoding_kernel(self):
        from scipy import ndimage

        mask = blobs((9, 10, 11), 0, 0.5)
        padded = np.zeros(tuple(n + 1 for n in mask.shape), np.uint8)
        padded[:-1, :-1, :-1] = mask
        kernel = lookup_tables.ENCODE_NEIGHBOURHOOD_3D_KERNEL
        expected = ndimage.correlate(padded, kernel, mode="constant", cval=0)
        np.testing.assert_array_equal(neighbour_codes(mask), expected)


class TestAgainstSurfaceDistance:
    def test_surfel_distances_and_areas_are_identical(self, case):
        *_, theirs, ours = case
        np.testing.assert_allclose(
            ours.reference_to_prediction, theirs["distances_gt_to_pred"], rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            ours.prediction_to_reference, theirs["distances_pred_to_gt"], rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            ours.reference_areas, theirs["surfel_areas_gt"], rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            ours.prediction_areas, theirs["surfel_areas_pred"], rtol=0, atol=1e-12
        )

    def test_hausdorff_and_hd95(self, case):
        *_, theirs, ours = case
        assert hausdorff(ours) == pytest.approx(sd.compute_robust_hausdorff(theirs, 100), abs=1e-6)
        assert hausdorff95(ours) == pytest.approx(sd.compute_robust_hausdorff(theirs, 95), abs=1e-6)

    def test_mean_surface_distance(self, case):
        *_, theirs, ours = case
        expected = np.mean(sd.compute_average_surface_distance(theirs))
        assert mean_surface_distance(ours) == pytest.approx(expected, abs=1e-6)

    @pytest.mark.parametrize("tolerance", TOLERANCES)
    def test_surface_dice(self, case, tolerance):
        *_, theirs, ours = case
        expected = sd.compute_surface_dice_at_tolerance(theirs, tolerance)
        assert surface_dice(ours, tolerance) == pytest.approx(expected, abs=1e-6)

    def test_dice(self, case):
        reference, prediction, *_ = case
        assert dice(reference, prediction) == pytest.approx(
            sd.compute_dice_coefficient(reference, prediction), abs=1e-12
        )

    def test_score_gathers_the_same_values(self, case):
        reference, prediction, spacing, theirs, ours = case
        result = score(reference, prediction, spacing, tolerance_mm=2.0)
        assert result.hd95_mm == hausdorff95(ours)
        assert result.surface_dice == surface_dice(ours, 2.0)
        intersection = np.count_nonzero(reference & prediction)
        union = np.count_nonzero(reference | prediction)
        assert result.jaccard == pytest.approx(intersection / union)


def vessel(shape, start, stop):
    """A straight vessel (or needle) one voxel wide, from voxel `start` to voxel `stop`."""
    mask = np.zeros(shape, bool)
    for t in np.linspace(0, 1, 4 * max(shape)):
        mask[tuple(np.round(np.add(start, t * np.subtract(stop, start))).astype(int))] = True
    return mask


S2 = (60, 64)
# Delineations whose 95th-percentile surfel lies among distinct distances: the
# surfels just before and after it are at other distances, so a percentile one
# surfel off changes HD95 (most shapes have runs of equal distances there, which
# hide it). A small mark on part of a lesion, or a vessel traced a little off.
HD95_CASES = {
    "nodule_part_marked_a": (
        ellipsoid(S3, (17, 13, 18), (8, 7, 6)),
        box(S3, (21, 15, 20), (23, 18, 24)),
        (0.4, 1.0, 0.4),
    ),
    "nodule_part_marked_b": (
        ellipsoid(S3, (15, 14, 13), (8, 8, 6)),
        box(S3, (15, 17, 14), (18, 19, 16)),
        (0.5, 1.1, 1.6),
    ),
    "nodule_part_marked_c": (
        ellipsoid(S3, (14, 13, 14), (7, 5, 5)),
        box(S3, (13, 17, 12), (15, 20, 14)),
        (1.9, 1.3, 1.7),
    ),
    "nodule_marked_beside": (
        ellipsoid(S3, (18, 13, 18), (7, 6, 8)),
        box(S3, (24, 15, 16), (28, 17, 18)),
        (0.7, 1.0, 0.7),
    ),
    "vessel_traced_off_a": (
        vessel(S3, (5, 14, 23), (10, 11, 9)),
        vessel(S3, (7, 12, 26), (10, 11, 9)),
        (1.3, 2.0, 1.7),
    ),
    "vessel_traced_off_b": (
        vessel(S3, (26, 8, 3), (19, 3, 10)),
        vessel(S3, (26, 11, 0), (20, 3, 7)),
        (1.8, 1.9, 1.8),
    ),
    "vessel_traced_off_c": (
        vessel(S3, (25, 6, 13), (27, 5, 19)),
        vessel(S3, (27, 5, 10), (27, 5, 22)),
        (1.0, 1.3, 1.5),
    ),
    "vessel_traced_off_d": (
        vessel(S3, (13, 19, 8), (18, 8, 7)),
        vessel(S3, (15, 20, 7), (15, 6, 9)),
        (1.9, 1.8, 0.5),
    ),
    "vessel_2d_a": (vessel(S2, (39, 35), (20, 54)), vessel(S2, (39, 32), (23, 51)), (1.4, 0.5)),
    "vessel_2d_b": (vessel(S2, (47, 21), (49, 29)), vessel(S2, (47, 23), (52, 33)), (0.6, 1.9)),
    "vessel_2d_c": (vessel(S2, (33, 20), (46, 19)), vessel(S2, (30, 17), (44, 20)), (1.7, 0.9)),
    "vessel_2d_d": (vessel(S2, (37, 47), (25, 44)), vessel(S2, (35, 44), (28, 46)), (1.8, 0.7)),
    "lesion_2d_marked_beside_a": (
        ellipsoid(S2, (30, 22), (8, 11)),
        box(S2, (41, 25), (46, 30)),
        (1.4, 1.2),
    ),
    "lesion_2d_marked_beside_b": (
        ellipsoid(S2, (32, 27), (9, 9)),
        box(S2, (34, 36), (37, 39)),
        (2.0, 1.3),
    ),
    "lesion_2d_part_marked": (
        ellipsoid(S2, (28, 37), (14, 12)),
        box(S2, (33, 42), (35, 45)),
        (1.1, 0.8),
    ),
    "lesion_2d_marked_beside_c": (
        ellipsoid(S2, (27, 22), (12, 13)),
        box(S2, (35, 31), (39, 33)),
        (1.1, 1.7),
    ),
}


def robust_hausdorff_one_surfel_off(theirs, shift):
    """surface-distance's HD95 with the percentile's surfel index moved by `shift`."""
    values = []
    for direction, areas in (("gt_to_pred", "gt"), ("pred_to_gt", "pred")):
        distances = theirs[f"distances_{direction}"]
        cumulative = np.cumsum(theirs[f"surfel_areas_{areas}"])
        cumulative /= cumulative[-1]
        index = np.searchsorted(cumulative, 0.95) + shift
        values.append(distances[min(max(index, 0), distances.size - 1)])
    return max(values)


class TestHausdorff95:
    """HD95 takes the very surfel surface-distance takes, not a neighbour."""

    @pytest.mark.parametrize("name", sorted(HD95_CASES))
    def test_hd95_equals_surface_distance_where_one_surfel_matters(self, name):
        reference, prediction, spacing = HD95_CASES[name]
        theirs = sd.compute_surface_distances(reference, prediction, spacing)
        expected = sd.compute_robust_hausdorff(theirs, 95)
        # the case can tell: one surfel before or after gives another distance
        assert robust_hausdorff_one_surfel_off(theirs, 0) == expected
        assert robust_hausdorff_one_surfel_off(theirs, -1) != expected
        assert robust_hausdorff_one_surfel_off(theirs, +1) != expected
        ours = surface_distances(reference, prediction, spacing)
        assert hausdorff95(ours) == expected
        assert score(reference, prediction, spacing).hd95_mm == expected

    @pytest.mark.parametrize("seed", range(12))
    def test_hd95_of_any_distances_and_areas_equals_surface_distance(self, seed):
        """Distinct distances, unequal areas: every surfel's choice shows."""
        rng = np.random.default_rng(seed)
        arrays = {}
        for direction, areas in (("gt_to_pred", "gt"), ("pred_to_gt", "pred")):
            n = int(rng.integers(2, 400))
            arrays[f"distances_{direction}"] = np.sort(rng.uniform(0, 30, n))
            arrays[f"surfel_areas_{areas}"] = rng.uniform(0.05, 2.0, n)
        ours = SurfaceDistances(
            arrays["distances_gt_to_pred"],
            arrays["distances_pred_to_gt"],
            arrays["surfel_areas_gt"],
            arrays["surfel_areas_pred"],
        )
        assert hausdorff95(ours) == sd.compute_robust_hausdorff(arrays, 95)

    @pytest.mark.parametrize("n", [2, 3, 5, 10, 19])
    def test_a_last_surfel_holding_more_than_5_percent_is_the_percentile(self, n):
        """Few surfels (a small mark): the farthest carries over 5 % of the area, so it is HD95."""
        distances = np.linspace(0.5, 4.0, n)
        areas = np.full(n, 0.25)
        theirs = {
            "distances_gt_to_pred": distances,
            "distances_pred_to_gt": distances[:1],
            "surfel_areas_gt": areas,
            "surfel_areas_pred": areas[:1],
        }
        assert sd.compute_robust_hausdorff(theirs, 95) == 4.0
        assert hausdorff95(SurfaceDistances(distances, distances[:1], areas, areas[:1])) == 4.0

    @pytest.mark.parametrize("n", [20, 40, 60, 100, 140])
    def test_a_surfel_ending_exactly_at_95_percent_is_the_percentile(self, n):
        """Equal areas: the n*0.95-th surfel ends exactly at 95 % and is taken, not the next."""
        distances = np.arange(n, dtype=float)
        areas = np.ones(n)
        theirs = {
            "distances_gt_to_pred": distances,
            "distances_pred_to_gt": distances[:1],
            "surfel_areas_gt": areas,
            "surfel_areas_pred": areas[:1],
        }
        expected = sd.compute_robust_hausdorff(theirs, 95)
        assert expected == 0.95 * n - 1
        assert hausdorff95(SurfaceDistances(distances, distances[:1], areas, areas[:1])) == expected


class TestEmptyMasks:
    mask = ellipsoid((20, 20, 20), (10, 10, 10), (5, 5, 5))
    empty = np.zeros((20, 20, 20), bool)

    def test_both_empty_is_a_perfect_score(self):
        result = score(self.empty, self.empty, (1, 1, 1))
        assert result.as_dict() == {
            "dice": 1.0,
            "jaccard": 1.0,
            "hd_mm": 0.0,
            "hd95_mm": 0.0,
            "msd_mm": 0.0,
            "surface_dice": 1.0,
            "volume_diff_pct": 0.0,
            "tolerance_mm": 2.0,
        }

    def test_empty_prediction_scores_zero_and_minus_100_percent(self):
        result = score(self.mask, self.empty, (1, 1, 1))
        assert (result.dice, result.jaccard, result.surface_dice) == (0.0, 0.0, 0.0)
        assert (result.hd_mm, result.hd95_mm, result.msd_mm) == (None, None, None)
        assert result.volume_diff_pct == -100.0

    def test_empty_reference_leaves_distances_and_volume_undefined(self):
        result = score(self.empty, self.mask, (1, 1, 1))
        assert (result.dice, result.jaccard, result.surface_dice) == (0.0, 0.0, 0.0)
        assert (result.hd_mm, result.hd95_mm, result.msd_mm, result.volume_diff_pct) == (None,) * 4

    def test_undefined_is_null_in_json(self):
        text = json.dumps(score(self.empty, self.mask, (1, 1, 1)).as_dict())
        assert '"hd95_mm": null' in text and '"volume_diff_pct": null' in text


class TestArguments:
    def test_shapes_differ(self):
        with pytest.raises(
            ValueError, match="'reference' and 'prediction' must have the same shape"
        ):
            score(np.zeros((4, 4), bool), np.zeros((4, 5), bool), (1, 1))

    def test_spacing_length(self):
        with pytest.raises(ValueError, match="'spacing_mm' must have length 3"):
            score(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), bool), (1, 1))

    def test_spacing_positive(self):
        with pytest.raises(ValueError, match="'spacing_mm' must hold positive"):
            surface_distances(np.zeros((4, 4), bool), np.zeros((4, 4), bool), (1, 0))

    def test_non_binary(self):
        with pytest.raises(ValueError, match="'prediction' must be binary"):
            dice(np.zeros((4, 4), bool), np.full((4, 4), 2))

    def test_dimensions(self):
        with pytest.raises(ValueError, match="'reference' must be a 2D or 3D mask"):
            jaccard(np.zeros(4, bool), np.zeros(4, bool))

    def test_tolerance(self):
        with pytest.raises(ValueError, match="'tolerance_mm'"):
            score(np.ones((4, 4), bool), np.ones((4, 4), bool), (1, 1), tolerance_mm=-1)

    def test_label_maps_must_be_integers(self):
        with pytest.raises(ValueError, match="'reference_labels' must be an integer label map"):
            score_structures(np.zeros((4, 4)), np.zeros((4, 4), int), (1, 1))

    def test_zero_one_integers_are_masks(self):
        assert volume_difference_pct(np.array([[1, 1, 0]]), np.array([[1, 0, 0]])) == -50.0


class TestStructures:
    def test_each_label_scored_as_its_own_mask(self):
        reference = np.zeros((30, 30, 30), np.uint8)
        reference[ellipsoid(reference.shape, (10, 10, 10), (5, 5, 5))] = 1
        reference[ellipsoid(reference.shape, (20, 20, 20), (6, 6, 6))] = 2
        prediction = np.zeros_like(reference)
        prediction[ellipsoid(reference.shape, (11, 10, 10), (5, 5, 5))] = 1
        prediction[box(reference.shape, (1, 25, 1), (4, 29, 4))] = 3
        spacing = (2.0, 0.8, 0.8)
        result = score_structures(reference, prediction, spacing)
        assert sorted(result) == [1, 2, 3]
        assert result[1] == score(reference == 1, prediction == 1, spacing)
        assert result[2].volume_diff_pct == -100.0 and result[2].hd_mm is None
        assert result[3].volume_diff_pct is None and result[3].dice == 0.0

    def test_the_tolerance_reaches_every_structure(self):
        reference = np.zeros((30, 30, 30), np.uint8)
        reference[ellipsoid(reference.shape, (15, 15, 15), (8, 8, 8))] = 1
        prediction = np.zeros_like(reference)
        prediction[ellipsoid(reference.shape, (17, 15, 15), (8, 9, 8))] = 1
        spacing = (1.5, 0.8, 0.8)
        for tolerance in (0.5, 4.0):
            (result,) = score_structures(
                reference, prediction, spacing, tolerance_mm=tolerance
            ).values()
            assert result.tolerance_mm == tolerance
            assert result == score(reference == 1, prediction == 1, spacing, tolerance)
        assert (
            score_structures(reference, prediction, spacing, tolerance_mm=0.5)[1].surface_dice < 0.9
        )

    def test_label_maps_of_different_shapes_are_refused(self):
        with pytest.raises(
            ValueError,
            match=r"'reference_labels' and 'prediction_labels' must have the same shape, "
            r"not \(4, 4\) and \(4, 5\)",
        ):
            score_structures(np.zeros((4, 4), int), np.zeros((4, 5), int), (1, 1))

    def test_the_prediction_label_map_is_named_when_not_integers(self):
        with pytest.raises(ValueError, match="'prediction_labels' must be an integer label map"):
            score_structures(np.zeros((4, 4), int), np.zeros((4, 4)), (1, 1))

    def test_labels_argument_selects_structures(self):
        reference = np.zeros((10, 10), np.int16)
        reference[2:5, 2:5] = 4
        result = score_structures(reference, reference, (1, 1), labels=[4, 7])
        assert result[4].dice == 1.0 and result[7].dice == 1.0 and result[7].hd_mm == 0.0


def face_surface(mask):
    """Voxels of `mask` with a face neighbour outside it or outside the array (scipy's erosion)."""
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure, border_value=0)


def brute_signed_distances(answer, reference, spacing):
    """The signed map by its definition (dicomteach/scoring/signed.py), voxel by voxel."""
    a_surface, r_surface = face_surface(answer), face_surface(reference)
    a_points = np.argwhere(a_surface) * spacing
    r_points = np.argwhere(r_surface) * spacing
    expected = np.full(answer.shape, np.nan)
    for index, point in zip(np.argwhere(r_surface), r_points, strict=True):
        distance = np.sqrt(((a_points - point) ** 2).sum(axis=1)).min()
        expected[tuple(index)] = distance if answer[tuple(index)] else -distance
    for index, point in zip(np.argwhere(a_surface), a_points, strict=True):
        distance = np.sqrt(((r_points - point) ** 2).sum(axis=1)).min()
        expected[tuple(index)] = -distance if reference[tuple(index)] else distance
    return expected


SIGNED_CASES = {
    "larger_3d": (
        ellipsoid((14, 20, 22), (7, 10, 11), (5, 7, 8)),
        ellipsoid((14, 20, 22), (7, 10, 11), (4, 5, 6)),
        (2.5, 0.7, 0.6),
    ),
    "shifted_3d_at_the_border": (
        box((10, 16, 18), (0, 2, 3), (6, 12, 18)),
        box((10, 16, 18), (2, 0, 1), (10, 10, 14)),
        (1.2, 0.9, 3.0),
    ),
    "crossing_2d": (box((30, 34), (5, 2), (25, 12)), box((30, 34), (10, 0), (18, 34)), (0.8, 1.7)),
    "blobs_2d": (blobs((30, 36), 11, 0.3), blobs((30, 36), 12, 0.25), (0.45, 1.3)),
}


class TestSignedDistanceMapByDefinition:
    @pytest.mark.parametrize("name", sorted(SIGNED_CASES))
    def test_every_surface_voxel_against_brute_force(self, name):
        answer, reference, spacing = SIGNED_CASES[name]
        expected = brute_signed_distances(answer, reference, np.array(spacing))
        m = signed_distance_map(answer, reference, spacing)
        full = m.full()
        assert full.dtype == np.float32 and full.shape == answer.shape
        np.testing.assert_array_equal(np.isnan(full), np.isnan(expected))
        np.testing.assert_allclose(full, expected, rtol=1e-6, atol=1e-6, equal_nan=True)
        assert m.mean() == pytest.approx(np.nanmean(expected), rel=1e-5)
        assert m.mean_absolute() == pytest.approx(np.nanmean(np.abs(expected)), rel=1e-5)

    @pytest.mark.parametrize("empty", ["answer", "reference"])
    def test_an_empty_mask_is_refused(self, empty):
        mask = box((6, 6), (1, 1), (4, 4))
        masks = {"answer": mask, "reference": mask, empty: np.zeros((6, 6), bool)}
        with pytest.raises(ValueError, match="'answer' and 'reference' must both be non-empty"):
            signed_distance_map(masks["answer"], masks["reference"], (1, 1))

    @pytest.mark.parametrize("name", ["answer", "reference"])
    def test_a_mask_that_is_not_binary_is_named(self, name):
        mask = box((6, 6), (1, 1), (4, 4))
        masks = {"answer": mask, "reference": mask, name: np.full((6, 6), 3)}
        with pytest.raises(ValueError, match=f"'{name}' must be binary"):
            signed_distance_map(masks["answer"], masks["reference"], (1, 1))


@pytest.mark.parametrize("nearest", [1, 8])
@pytest.mark.parametrize("name", sorted(CASES))
def test_tree_search_for_far_apart_masks_is_exact_too(monkeypatch, name, nearest):
    """Masks far apart take the k-d tree search instead of one ball of offsets: forced on
    every case, it gives surface-distance's distances bitwise (with one nearest corner at
    a time, every tie goes through the search of all corners within reach)."""
    import dicomteach.scoring.distances as distances

    monkeypatch.setattr(distances, "_BALL_LIMIT", 0)
    monkeypatch.setattr(distances, "_NEAREST", nearest)
    reference, prediction, spacing = CASES[name]
    theirs = sd.compute_surface_distances(reference, prediction, spacing)
    ours = surface_distances(reference, prediction, spacing)
    np.testing.assert_array_equal(ours.reference_to_prediction, theirs["distances_gt_to_pred"])
    np.testing.assert_array_equal(ours.prediction_to_reference, theirs["distances_pred_to_gt"])


def test_an_outline_10_cm_from_the_reference_is_scored_as_the_lattice_search_scores_it(
    monkeypatch,
):
    """A learner's outline far from the reference (a live class's scores): the k-d tree's
    distances are bitwise those of the search over every lattice offset within reach."""
    import dicomteach.scoring.distances as distances

    spacing = (2.5, 0.7, 0.7)
    reference = ellipsoid((16, 60, 200), (8, 30, 30), (5, 20, 20))
    prediction = ellipsoid((16, 60, 200), (8, 30, 172), (4, 16, 16))  # 10 cm to the side
    tree = surface_distances(reference, prediction, spacing)
    monkeypatch.setattr(distances, "_BALL_LIMIT", np.inf)
    lattice = surface_distances(reference, prediction, spacing)
    assert tree.reference_to_prediction.min() > 70  # the centres 10 cm apart
    for field in ("reference_to_prediction", "prediction_to_reference"):
        np.testing.assert_array_equal(getattr(tree, field), getattr(lattice, field))


def test_shipped_area_vectors_are_the_derivation():
    """surfel_normals.npy is generated by derive_area_vectors: regenerate and compare."""
    from dicomteach.scoring.surfels import _NORMALS_FILE, _cell_elements, derive_area_vectors

    _cell_elements.cache_clear()  # derive again, even if a test before did it in this process
    shipped = np.load(_NORMALS_FILE, allow_pickle=False)
    assert shipped.dtype == np.int16
    np.testing.assert_array_equal(shipped, derive_area_vectors())


def test_area_table_from_vectors_matches_the_triangles():
    """The per-spacing table from area vectors equals the triangles' areas, scaled."""
    from dicomteach.scoring.surfels import _cell_elements, _triangle_areas

    _cell_elements.cache_clear()
    codes, triangles = _cell_elements(3)
    for spacing in [(1.0, 1.0, 1.0), (0.7, 0.7, 2.5), (1.3, 0.2, 4.1)]:
        expected = np.bincount(codes, _triangle_areas(triangles, np.array(spacing)), 256)
        np.testing.assert_allclose(surfel_area_table(spacing), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_surfels_are_the_neighbour_codes_surfels(name):
    from dicomteach.scoring.distances import _surfels

    for mask in CASES[name][:2]:
        codes = neighbour_codes(mask)
        full = (1 << (1 << mask.ndim)) - 1
        expected = (codes != 0) & (codes != full)
        border, points, point_codes = _surfels(mask)
        np.testing.assert_array_equal(border, expected)
        np.testing.assert_array_equal(points, np.argwhere(expected))
        np.testing.assert_array_equal(point_codes, codes[expected])


@pytest.mark.parametrize(
    "name", ["sphere_anisotropic", "random_blobs_b", "multi_component", "disc_2d"]
)
def test_looking_up_every_window_gives_the_same_distances(monkeypatch, name):
    """The one-length shortcut changes nothing: without it every surfel is looked up."""
    import dicomteach.scoring.distances as distances

    reference, prediction, spacing = CASES[name]
    fast = surface_distances(reference, prediction, spacing)
    monkeypatch.setattr(distances, "_ONE_LENGTH_SHORTCUT", False)
    slow = surface_distances(reference, prediction, spacing)
    theirs = sd.compute_surface_distances(reference, prediction, spacing)
    for ours in (fast, slow):
        np.testing.assert_array_equal(ours.reference_to_prediction, slow.reference_to_prediction)
        np.testing.assert_array_equal(ours.prediction_to_reference, slow.prediction_to_reference)
    np.testing.assert_allclose(
        slow.reference_to_prediction, theirs["distances_gt_to_pred"], rtol=0, atol=1e-12
    )


def test_distances_are_bitwise_those_of_surface_distance(case):
    """Not just to 1e-12: the float64 recomputation rounds as scipy's EDT does."""
    _, _, _, theirs, ours = case
    np.testing.assert_array_equal(ours.reference_to_prediction, theirs["distances_gt_to_pred"])
    np.testing.assert_array_equal(ours.prediction_to_reference, theirs["distances_pred_to_gt"])
