"""Change between two dates (dicomteach/ai/changes.py): registered, matched, measured, classified."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from dicomteach import io
from dicomteach.ai import ModelInputError
from dicomteach.ai import change_pairs as pairs
from dicomteach.ai.changes import GROWTH_MM, find_changes, measure
from dicomteach.ai.nodules import Candidate
from dicomteach.roi.load import load_structures
from dicomteach.samples.cache import lesson_study

pytest.importorskip("onnxruntime")
pytest.importorskip("SimpleITK")


@pytest.fixture(scope="module")
def library():
    """The library's nodule study at lesson size: baseline, and 182 days later the nodule grown 30 %."""
    root = lesson_study("ct-chest", seed=1, size=256, slices=60)
    baseline, followup = io.load(root / "baseline" / "ct"), io.load(root / "followup" / "ct")
    return root, baseline, followup, find_changes(baseline, followup)


def _reference(root, date, volume):
    """The nodule's reference segmentation on one date, measured as the model's outlines are."""
    masks = load_structures(root / date / "seg-nodule.dcm", volume).masks
    mask = np.asarray(next(iter(masks.values())), bool)
    whole = tuple(slice(0, n) for n in mask.shape)
    centre = volume.index_to_lps(np.argwhere(mask).mean(0))
    return measure(
        Candidate(1.0, (0, 0, 0), (0, 0, 0), whole, mask, 0.0, 0.0), volume.spacing
    ), centre  # type: ignore[arg-type]


def test_the_library_nodule_has_grown_by_about_what_it_did(library):
    root, baseline, followup, changes = library
    before, centre = _reference(root, "baseline", baseline)
    after, _ = _reference(root, "followup", followup)
    truth_mm = after.mean_mm - before.mean_mm  # the SEGs: 16.1 → 20.6 mm, +28 %
    nodule = min(changes, key=lambda c: np.linalg.norm(np.array(c.centre_mm) - centre))
    assert np.linalg.norm(np.array(nodule.centre_mm) - centre) < 5.0
    assert nodule.change == "grown" and nodule.probability > 0.9
    assert abs(nodule.diameter_change_mm - truth_mm) <= 1.5
    assert 15.0 <= nodule.diameter_change_percent <= 45.0
    assert changes.days == 182 and 100 < nodule.doubling_days < 400
    # the registration found how the patient lay: ct_chest's follow-up is turned about 1.6°
    assert 1.0 < changes.rigid.rotation_degrees < 3.0


def test_the_same_ct_twice_is_all_stable(library):
    _, baseline, _, _ = library
    twice = find_changes(baseline, baseline)
    assert len(twice) > 0
    assert {c.change for c in twice} == {"stable"}
    assert all(c.diameter_change_mm == 0.0 for c in twice)
    assert twice.days == 0 and twice.rigid.rotation_degrees < 0.1


@pytest.fixture(scope="module")
def generated_pair(tmp_path_factory):
    """A held-out patient imaged twice (48 slices): a 16 mm solid nodule new at follow-up."""
    spec = pairs.pair_specs(1, slices=48)[0]
    assert 0.0 in spec.growth
    folder = pairs.write_pair(spec, tmp_path_factory.mktemp("pair"), slices=48)
    truth = json.loads((folder / "truth.json").read_text("utf-8"))["findings"]
    return folder, truth, find_changes(folder / "baseline" / "ct", folder / "followup" / "ct")


def test_a_new_nodule_is_reported_new_where_it_is(generated_pair):
    folder, truth, changes = generated_pair
    (new,) = [f for f in truth if f["change"] == "new"]
    assert new["baseline"] is None and new["followup"]["mean_mm"] > 10
    called = [
        c
        for c in changes.of("new")
        if np.linalg.norm(np.subtract(c.centre_mm, new["centre_mm"])) < 5.0
    ]
    assert len(called) == 1
    assert abs(called[0].followup.mean_mm - new["followup"]["mean_mm"]) < 3.0
    # drawn where the patient lay at follow-up: the follow-up's own coordinates differ by the motion
    moved_by = np.linalg.norm(np.subtract(new["followup_centre_mm"], new["centre_mm"]))
    assert moved_by > 3.0
    found = np.array(called[0].followup.candidate.centre_mm)
    assert np.linalg.norm(found - new["followup_centre_mm"]) < 5.0


def test_a_pair_shows_as_a_picture(generated_pair):
    from PIL import Image

    from dicomteach.ai.changes import change_png

    _, _, changes = generated_pair
    png = change_png(changes, changes.of("new")[0])
    image = np.asarray(Image.open(__import__("io").BytesIO(png)).convert("RGB")).astype(int)
    half = image.shape[1] // 2
    yellow = (image[..., 0] > 200) & (image[..., 1] > 150) & (image[..., 2] < 100)
    assert yellow[:, half:].sum() > 50 and yellow[:, :half].sum() == 0  # outlined at follow-up only


class TestBadInput:
    def test_different_patients(self, library):
        _, baseline, followup, _ = library
        other = copy.deepcopy(followup.header)
        other.PatientID = "SOMEONE-ELSE"
        with pytest.raises(ModelInputError, match="different patients.*'SOMEONE-ELSE'") as info:
            find_changes(baseline, dataclasses.replace(followup, header=other))
        assert "\n" not in str(info.value)

    def test_not_ct(self, library):
        _, baseline, followup, _ = library
        with pytest.raises(ModelInputError, match="follow-up is MR, not CT"):
            find_changes(baseline, dataclasses.replace(followup, modality="MR"))

    def test_the_follow_up_before_the_baseline(self, library):
        _, baseline, followup, _ = library
        with pytest.raises(ModelInputError, match="older than the baseline.*swap them"):
            find_changes(followup, baseline)

    def test_no_overlap(self, library):
        _, baseline, followup, _ = library
        top = slice(0, 6)  # six slices of the apices: a tenth of the baseline's lungs
        per_frame = {
            name: getattr(followup, name)[top]
            for name in ("rescale_slope", "rescale_intercept", "positions", "sources")
            if getattr(followup, name) is not None and len(getattr(followup, name)) > 1
        }
        far = dataclasses.replace(followup, pixels=followup.pixels[top], **per_frame)
        with pytest.raises(ModelInputError, match=r"covers 1\d% of the baseline's lungs") as info:
            find_changes(baseline, far)
        assert "\n" not in str(info.value)

    def test_a_failed_registration(self, library, monkeypatch):
        from dicomteach.imaging import registration

        def fails(*args, **kwargs):
            raise RuntimeError("Exception thrown in SimpleITK\nitk::ERROR: All samples map outside")

        monkeypatch.setattr(registration, "register_rigid", fails)
        _, baseline, followup, _ = library
        with pytest.raises(ModelInputError, match="cannot align.*All samples map outside") as info:
            find_changes(baseline, followup)
        assert "\n" not in str(info.value)


def test_growth_is_the_lung_rads_rule():
    from dicomteach.ai.changes import Measure, classify

    def m(d):
        return Measure(None, d, d, 0.1)  # type: ignore[arg-type]

    assert classify(m(10.0), m(10.0 + GROWTH_MM + 0.1)) == "grown"
    assert classify(m(10.0), m(10.0 + GROWTH_MM)) == "stable"
