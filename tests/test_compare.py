"""Tests for dicomteach.widgets.compare (no browser): alignment, the after layer, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dicomteach import io
from dicomteach.imaging import Rigid, modality_values, quantise, resample_to, window_to_uint8
from dicomteach.io.volume import Volume, Window
from dicomteach.samples import ct_chest, phantoms
from dicomteach.widgets import Compare
from dicomteach.widgets.compare import (
    checkerboard_mask,
    difference_display,
    diverging_table,
)
from factories import (
    AXIAL,
    ellipsoid_hu,
    phantom_ct,
    phantom_film,
    rigid_matrix,
    rotation_z,
    voxel_lps,
)

# a chest-like phantom in LPS mm: body, two lungs, a spine and a nodule (centre, semi-axes, HU)
BODY = (110.0, 75.0, 70.0)
BLOBS = (
    ((-45.0, -10.0, 0.0), (32.0, 40.0, 50.0), -800.0),
    ((42.0, -8.0, 5.0), (30.0, 38.0, 45.0), -800.0),
    ((0.0, 45.0, 0.0), (10.0, 10.0, 80.0), 700.0),
    ((-50.0, -25.0, 12.0), (7.0, 7.0, 7.0), 60.0),
)
CENTRES = np.array([b[0] for b in BLOBS])


def border_median(vol: Volume) -> float:
    """What Compare fills the grid with outside the follow-up: its edge voxels' median."""
    v = modality_values(vol)
    edge = np.ones(v.shape, bool)
    edge[1:-1, 1:-1, 1:-1] = False
    return float(np.median(v[edge]))


def chest_hu(points: np.ndarray, nodule_scale: float = 1.0) -> np.ndarray:
    scales = (1.0,) * (len(BLOBS) - 1) + (nodule_scale,)
    return ellipsoid_hu(points, BODY, BLOBS, scales=scales)


def ct(motion=None, *, seed=1, nodule_scale=1.0, shape=(40, 96, 96), spacing=(3.0, 2.4, 2.4)):
    """A CT of the phantom; the anatomy moved by ``motion`` (voxel q shows motion⁻¹(q))."""
    vol = phantom_ct(
        lambda q: chest_hu(q, nodule_scale),
        motion,
        seed=seed,
        shape=shape,
        spacing=spacing,
        centre=(2.0, -3.0, 1.0),
        noise_hu=8.0,
    )
    vol.units = "HU"
    return vol


def _film(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    image = np.full(x.shape, 200.0)
    image += 1800.0 * ((x / 85) ** 2 + (z / 92) ** 2 <= 1)
    image -= 1300.0 * (((x + 38) / 30) ** 2 + ((z - 12) / 62) ** 2 <= 1)
    image -= 1300.0 * (((x - 37) / 26) ** 2 + ((z - 18) / 55) ** 2 <= 1)
    image += 900.0 * ((np.abs(x + 3) < 7) & (z < 80))
    image += 700.0 * (((x + 45) ** 2 + (z - 30) ** 2) <= 7**2)
    return image


def radiograph(motion=None, modality: str = "CR") -> Volume:
    """A 200×200 chest-like film at 1 mm in the coronal plane y = 0."""
    return phantom_film(_film, motion, size=200, modality=modality)


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    return rigid_matrix(rotation_z(4.0), (6.0, -4.0, 3.0))


@pytest.fixture(scope="module")
def pair(motion) -> tuple[Volume, Volume]:
    return ct(), ct(motion, seed=2, nodule_scale=1.4)


@pytest.fixture(scope="module")
def registered(pair) -> Compare:
    return Compare(*pair)


class TestAlignment:
    def test_a_known_rigid_motion_is_recovered(self, registered, motion) -> None:
        rigid = registered.registration
        assert isinstance(rigid, Rigid)
        expected = CENTRES @ motion[:3, :3].T + motion[:3, 3]
        # the nodule grew: the anatomy around it still fixes the motion
        errors = np.linalg.norm(rigid.apply(CENTRES) - expected, axis=1)
        assert errors.max() < 1.0, errors
        assert rigid.rotation_degrees == pytest.approx(4.0, abs=0.4)

    def test_the_caption_reports_the_motion_at_the_centre(self, registered, pair, motion) -> None:
        before = pair[0]
        centre = before.index_to_lps((np.array(before.pixels.shape) - 1) / 2)
        moved = np.linalg.norm(motion[:3, :3] @ centre + motion[:3, 3] - centre)
        text = registered.alignment
        assert text.startswith("Follow-up aligned to Baseline: moved ")
        mm = float(text.split("moved ")[1].split(" mm")[0])
        degrees = float(text.split("rotated ")[1].rstrip("°"))
        assert mm == pytest.approx(moved, abs=1.0) and degrees == pytest.approx(4.0, abs=0.4)

    def test_after_layer_is_resample_to_within_half_a_quantisation_step(
        self, registered, pair
    ) -> None:
        before, after = pair
        info = registered.layers["after"]
        assert info["dtype"] == "uint16" and registered._arrays["after"].shape == (40, 96, 96)
        slope = info["rescale_slope"][0]
        assert slope == 2.0 ** round(np.log2(slope)) and slope <= 1 / 16
        reference = resample_to(
            after, before, transform=registered.registration.matrix, fill=border_median(after)
        )
        error = np.abs(registered.after_values - reference).max()
        assert error <= slope / 2 + 1e-4, (error, slope)
        # aligned: away from the nodule the follow-up matches the baseline to the noise
        body = chest_hu(voxel_lps(before)) > -1000
        nodule = np.linalg.norm(voxel_lps(before) - CENTRES[-1], axis=-1) < 15
        residual = np.abs(registered.after_values - registered.before_values)[body & ~nodule]
        assert residual.mean() < 30

    def test_the_grown_nodule_shows_in_the_difference(self, registered, pair) -> None:
        before = pair[0]
        d = registered.after_values - registered.before_values
        distance = np.linalg.norm(voxel_lps(before) - CENTRES[-1], axis=-1)
        rim = (distance > 8.0) & (
            distance < 9.0
        )  # inside the grown nodule (9.8 mm), outside the old
        assert np.median(d[rim]) > 300  # lung (−800) became nodule (60), blurred at the edge
        far = distance > 20
        assert abs(np.median(d[far])) < 5

    def test_register_false_on_one_grid_is_exact(self, pair) -> None:
        before = pair[0]
        same = ct(seed=3)
        compare = Compare(before, same, register=False)
        assert compare.registration is None
        assert (
            compare.alignment == "Follow-up shown in its own patient coordinates (not registered)"
        )
        assert np.array_equal(compare.after_values, modality_values(same).astype(np.float64))

    def test_a_rigid_or_a_matrix_is_used_as_given(self, pair, motion) -> None:
        before, after = pair
        for register in (Rigid(motion, -1.0, 5), motion, motion.tolist()):
            compare = Compare(before, after, register=register)
            np.testing.assert_array_equal(compare.registration.matrix, motion)
            reference = resample_to(after, before, transform=motion, fill=border_median(after))
            slope = compare.layers["after"]["rescale_slope"][0]
            assert np.abs(compare.after_values - reference).max() <= slope / 2 + 1e-4

    @pytest.mark.parametrize(("same_frame", "initial"), [(True, "identity"), (False, "geometry")])
    def test_one_frame_of_reference_starts_from_identity(
        self, pair, monkeypatch, same_frame, initial
    ) -> None:
        before, after = (Volume(**{**vars(v), "header": Dataset()}) for v in pair)
        before.header.FrameOfReferenceUID = "1.2.3"
        after.header.FrameOfReferenceUID = "1.2.3" if same_frame else "1.2.4"
        seen = {}

        def fake(fixed, moving, **kwargs):
            seen.update(kwargs, shapes=(fixed.pixels.shape, moving.pixels.shape))
            return Rigid(np.eye(4), -1.0, 1)

        from dicomteach.imaging import registration

        monkeypatch.setattr(registration, "register_rigid", fake)
        Compare(before, after)
        assert seen["initial"] == initial
        # registered on copies reduced to ~4 mm voxels: (3, 2.4, 2.4) mm → (3, 4.8, 4.8)
        assert seen["shapes"] == ((40, 48, 48), (40, 48, 48))

    def test_two_radiographs_are_aligned_in_their_plane(self) -> None:
        a = np.radians(3.0)
        rotation = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        motion = rigid_matrix(rotation, (5.0, 0.0, -4.0))
        prior, current = radiograph(), radiograph(motion, modality="DX")  # CR and DX together
        compare = Compare(prior, current, labels=("Prior", "Current"), mode="flicker")
        assert compare.shape == [1, 200, 200] and compare.planes == ["coronal"]
        points = np.array([[-45.0, 0.0, 30.0], [30.0, 0.0, -30.0]])
        expected = points @ rotation.T + motion[:3, 3]
        assert np.linalg.norm(compare.registration.apply(points) - expected, axis=1).max() < 1.0
        assert compare.alignment.startswith("Current aligned to Prior: moved ")
        inner = (slice(None), slice(25, -25), slice(25, -25))
        assert np.abs(compare.after_values - modality_values(prior))[inner].mean() < 25
        assert compare.mode == "flicker" and compare.series_labels == ["Prior", "Current"]


class TestErrors:
    def _raises(self, match: str, *args, **kwargs) -> str:
        with pytest.raises(ValueError, match=match) as info:
            Compare(*args, **kwargs)
        message = str(info.value)
        assert "\n" not in message
        return message

    def test_colour_is_refused(self) -> None:
        rgb = Volume(
            np.zeros((1, 8, 8, 3), np.uint8),
            (1.0, 1.0, 1.0),
            (0.0, 0.0, 0.0),
            AXIAL.copy(),
            modality="OP",
            photometric="RGB",
        )
        grey = Volume(
            np.zeros((1, 8, 8), np.uint8),
            (1.0, 1.0, 1.0),
            (0.0, 0.0, 0.0),
            AXIAL.copy(),
            modality="OP",
        )
        self._raises("Argument 'after' is a colour image", grey, rgb, register=False)
        self._raises("Argument 'before' is a colour image", rgb, grey, register=False)

    def test_a_volume_and_a_single_image_are_refused(self, pair) -> None:
        self._raises("both be volumes or both single images", pair[0], radiograph())

    def test_different_modalities_are_refused(self, pair) -> None:
        mr = Volume(**{**vars(pair[1]), "modality": "MR", "units": ""})
        message = self._raises("must be of one modality", pair[0], mr, register=False)
        assert "(CT)" in message and "(MR)" in message and "Viewer.fuse" in message

    def test_different_units_are_refused(self, pair) -> None:
        other = Volume(**{**vars(pair[1]), "units": "mg/ml"})
        self._raises("same units", pair[0], other, register=False)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"register": np.eye(3)}, "'register' must be True, False, a Rigid or a finite 4×4"),
            ({"register": "yes"}, "'register' must be True, False"),
            ({"register": np.ones((4, 4))}, "last row"),
            ({"mode": "overlay"}, "'mode' must be one of side-by-side, swipe"),
            ({"labels": ("Before",)}, "'labels' must be two non-empty strings"),
            ({"labels": "ab"}, "'labels' must be two non-empty strings"),
        ],
    )
    def test_bad_arguments(self, pair, kwargs, match) -> None:
        self._raises(match, *pair, **kwargs)

    def test_a_failed_registration_is_one_line(self, pair, monkeypatch) -> None:
        def fails(*args, **kwargs):
            raise RuntimeError("Exception thrown in SimpleITK\nitk::ERROR: All samples map outside")

        from dicomteach.imaging import registration

        monkeypatch.setattr(registration, "register_rigid", fails)
        message = self._raises("Could not register 'after' onto 'before'", *pair)
        assert "All samples map outside" in message and "register=False" in message

    def test_bad_settings_are_refused(self, pair) -> None:
        compare = Compare(*pair, register=False)
        for name, value in (("swipe", 1.5), ("flicker_rate", 0.0), ("checker_mm", -1.0)):
            with pytest.raises(Exception, match=name):
                setattr(compare, name, value)
        with pytest.raises(Exception, match="mode"):
            compare.mode = "blend"

    def test_a_follow_up_that_does_not_load_is_the_widget_state(self, pair, tmp_path) -> None:
        compare = Compare(pair[0], tmp_path / "missing")
        assert compare.error.startswith("Could not load the follow-up image: ")
        assert "missing" in compare.error and compare.layers == {}
        assert Compare(tmp_path / "missing", pair[1]).error.startswith("Could not load the image")


class TestPictureRules:
    def test_the_diverging_map_is_black_at_zero_red_up_blue_down(self) -> None:
        table = diverging_table()
        assert table.shape == (256, 3) and table.dtype == np.uint8
        assert table[128].tolist() == [0, 0, 0]
        assert table[255, 0] == 255 and table[255, 2] == 0
        assert table[0, 2] == 255 and table[0, 0] == 0

    def test_difference_is_centred_on_zero_and_absolute_is_grey(self) -> None:
        rng = np.random.default_rng(0)
        before = rng.integers(-1000, 1000, (5, 7)).astype(float)
        after = before + rng.integers(-300, 300, (5, 7))
        after[0, 0] = before[0, 0]
        window = Window(0, 400, function="LINEAR_EXACT")
        signed = difference_display(before, after, window)
        assert signed[0, 0].tolist() == [0, 0, 0]
        np.testing.assert_array_equal(
            signed, diverging_table()[window_to_uint8(after - before, window)]
        )
        grey = difference_display(
            before, after, Window(200, 400, function="LINEAR_EXACT"), absolute=True
        )
        assert grey[0, 0].tolist() == [0, 0, 0] and (grey[..., 0] == grey[..., 2]).all()

    def test_monochrome1_flips_the_signed_map_so_red_is_brighter_on_screen(self) -> None:
        before, after = np.array([[100.0, 100.0]]), np.array([[40.0, 100.0]])
        window = Window(0, 120, function="LINEAR_EXACT")
        # on a MONOCHROME1 film lower values are whiter: the new density is red, not blue
        assert difference_display(before, after, window)[0, 0].tolist() == [0, 255, 255]
        flipped = difference_display(before, after, window, invert=True)
        assert flipped[0, 0].tolist() == [255, 255, 0] and flipped[0, 1].tolist() == [0, 0, 2]
        assert np.array_equal(
            difference_display(before, after, window, absolute=True, invert=True),
            difference_display(before, after, window, absolute=True),
        )

    def test_checkerboard_squares_are_in_millimetres(self) -> None:
        mask = checkerboard_mask(10, 4, 0.5, 2.5, 5.0)  # anisotropic: 10 rows of 0.5 mm
        assert mask[:, 0].tolist() == [False] * 10
        assert mask[0].tolist() == [False, False, True, True]
        assert mask.sum() == 20

    @pytest.mark.parametrize("span", [1.0, 4095.0, 70000.0])
    def test_quantise_errs_by_at_most_half_a_slope(self, span) -> None:
        values = np.random.default_rng(1).uniform(-1024, -1024 + span, (4, 50, 50))
        stored, slope, intercept = quantise(values.astype(np.float32))
        assert stored.dtype == np.dtype("<u2")
        assert np.abs(stored * slope + intercept - values.astype(np.float32)).max() <= slope / 2
        assert slope == 2.0 ** np.ceil(np.log2((values.max() - intercept) / 65535))

    def test_quantise_keeps_whole_numbers_exact(self) -> None:
        values = np.arange(-1024, 3072, dtype=np.float32)
        stored, slope, intercept = quantise(values)
        assert np.array_equal(stored * slope + intercept, values)


def test_rulers_are_listed_by_side(pair) -> None:
    compare = Compare(*pair, register=False)
    compare.measurements = [
        {"kind": "ruler", "side": "before", "length_mm": 14.0},
        {"kind": "ellipse", "side": "before", "mean": 1.0},
        {"kind": "ruler", "side": "after", "length_mm": 19.6},
    ]
    assert compare.lengths_mm("before") == [14.0] and compare.lengths_mm("after") == [19.6]
    with pytest.raises(ValueError, match="'side'"):
        compare.lengths_mm("left")


def test_difference_window_follows_the_style(pair) -> None:
    compare = Compare(*pair, register=False, window=Window(40, 400))
    assert compare.difference_window == Window(0.0, 200.0, function="LINEAR_EXACT")
    compare.difference_style = "absolute"
    assert compare.difference_center == 100.0
    compare.difference_window = Window(0, 50)
    compare.difference_style = "signed"
    assert compare.difference_window == Window(0.0, 50.0, function="LINEAR_EXACT")


@pytest.mark.slow
def test_sample_follow_up_ct_is_aligned_on_its_nodule(tmp_path: Path) -> None:
    # the small variant of the sample (2.8 mm pixels, 48 slices): new Frame of Reference
    ct_chest.write(tmp_path, seed=0, size=128, slices=48)
    baseline = io.load(tmp_path / "baseline" / "ct")
    followup = io.load(tmp_path / "followup" / "ct")
    compare = Compare(baseline, followup)
    visit = ct_chest._VISITS[1]
    rotation = phantoms.rigid_motion(*visit.rotation_deg)
    centre = phantoms.make_nodule(0).centre
    expected = rotation @ centre + np.asarray(visit.shift_mm)
    assert np.linalg.norm(compare.registration.apply(centre) - expected) < 2.0
    assert compare.registration.rotation_degrees == pytest.approx(1.94, abs=0.5)
    assert compare.after_values.shape == baseline.pixels.shape
