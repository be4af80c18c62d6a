"""Several experts' outlines: the sample observers, their STAPLE consensus, grading inside their spread.

The observers are the sample library's (``samples/experts.py``) on the CT
nodule and the MR glioma; the consensus and spread are ``scoring/consensus.py``;
grading is ``grading/experts.py`` and ``Delineate(experts=…)``
(docs/decisions.md, decision 29). The agreement figures docs/samples.md quotes
are measured here, and by ``tests/experts_gallery.py``, which prints them.
"""

from __future__ import annotations

import io as _io
import itertools
import re
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from PIL import Image

from dicomteach import io
from dicomteach.activities import Activity, ActivityError, Delineate
from dicomteach.grading import Status, grade_against_experts
from dicomteach.grading.render import ANSWER
from dicomteach.grading.render_experts import EVERY_EXPERT, SOME_EXPERTS
from dicomteach.imaging import modality_values
from dicomteach.roi import read_seg, write_seg
from dicomteach.samples import experts
from dicomteach.samples.cache import lesson_study
from dicomteach.scoring import dice, score
from dicomteach.scoring.consensus import expert_spread, staple

LETTERS = ("a", "b", "c")


def _pairs(outlines: dict[str, np.ndarray], spacing) -> dict[tuple[str, str], tuple[float, float]]:
    """Dice and the larger volume over the smaller, for every pair of observers."""
    found = {}
    for a, b in itertools.combinations(sorted(outlines), 2):
        big, small = sorted((outlines[a].sum(), outlines[b].sum()), reverse=True)
        found[a, b] = (dice(outlines[a], outlines[b]), big / small)
    return found


def _nodule(seed: int) -> dict:
    folder = lesson_study("ct-chest", seed=seed, size=256, slices=60) / "baseline"
    volume = io.load(folder / "ct")
    reference = read_seg(folder / "seg-nodule.dcm", volume).masks[1]
    files = [folder / "experts" / f"seg-nodule-observer-{x}.dcm" for x in LETTERS]
    outlines = {
        x.upper(): read_seg(f, volume).masks[1] for x, f in zip(LETTERS, files, strict=True)
    }
    return {
        "folder": folder,
        "volume": volume,
        "reference": reference,
        "files": files,
        "outlines": outlines,
    }


@pytest.fixture(scope="module")
def nodule():
    """The lessons' lesson-sized CT (seed 0), its reference and its observers' SEGs."""
    return _nodule(0)


@pytest.fixture(scope="module", params=[0, 1], ids=["lessons", "assignment"])
def any_nodule(request):
    """The lessons' case and the one the ct-nodule assignment grades (graders/README.md)."""
    return _nodule(request.param)


@pytest.fixture(scope="module")
def glioma():
    folder = lesson_study("mr-brain")
    t1c = io.load(folder / "t1c")
    reference = read_seg(folder / "seg-tumour.dcm", t1c)
    files = [folder / "experts" / f"seg-tumour-observer-{x}.dcm" for x in LETTERS]
    outlines = {x.upper(): read_seg(f, t1c) for x, f in zip(LETTERS, files, strict=True)}
    return {
        "folder": folder,
        "t1c": t1c,
        "reference": reference,
        "files": files,
        "outlines": outlines,
    }


class TestSampleObservers:
    def test_each_observer_hands_over_a_seg_of_their_own_named_as_a_department_would(
        self, nodule, glioma
    ):
        for files, labels in (
            (nodule["files"], ["Lung nodule"]),
            (glioma["files"], ["Enhancing tumour", "Oedema"]),
        ):
            series = set()
            for letter, path in zip(LETTERS, files, strict=True):
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                assert ds.ContentCreatorName == f"OBSERVER^{letter.upper()}"
                assert ds.SeriesDescription.endswith(f"observer {letter.upper()}")
                assert [s.SegmentLabel for s in ds.SegmentSequence] == labels
                assert all(
                    f"Observer {letter.upper()} outlined it" in s.SegmentDescription
                    for s in ds.SegmentSequence
                )
                series.add(ds.SeriesInstanceUID)
            assert len(series) == 3

    def test_the_nodules_observers_differ_as_real_observers_do(self, any_nodule):
        outlines, reference = any_nodule["outlines"], any_nodule["reference"]
        pairs = _pairs(outlines, any_nodule["volume"].spacing)
        print({f"{a}-{b}": f"Dice {d:.2f}, volumes ×{r:.2f}" for (a, b), (d, r) in pairs.items()})
        # published inter-observer Dice is 0.7-0.85; a 15 mm nodule on 1.4 mm pixels lands
        # at the low end, and volumes differ up to about twice
        assert all(0.65 <= d <= 0.9 for d, _ in pairs.values())
        assert 1.4 <= max(r for _, r in pairs.values()) <= 2.2
        volumes = {k: m.sum() for k, m in outlines.items()}
        assert volumes["B"] < reference.sum() < volumes["A"]
        assert len(set(volumes.values())) == 3

    def test_the_tight_observer_stops_a_slice_early(self, any_nodule):
        slices = {k: np.flatnonzero(m.any(axis=(1, 2))) for k, m in any_nodule["outlines"].items()}
        drawn = np.flatnonzero(any_nodule["reference"].any(axis=(1, 2)))
        assert slices["A"].tolist() == drawn.tolist()
        assert drawn[0] < slices["B"][0] or slices["B"][-1] < drawn[-1]
        assert len(slices["B"]) >= len(drawn) - 2

    def test_outlines_follow_the_image_not_only_the_reference(self, nodule):
        hu = modality_values(nodule["volume"])
        reference, outlines = nodule["reference"], nodule["outlines"]
        added = outlines["A"] & ~reference
        dropped = reference & ~outlines["B"]
        kept_edge = reference & outlines["B"] & ~_eroded(outlines["B"])
        lung = _ring(reference, 4) & ~_ring(reference, 2)
        # what the generous observer adds is denser than the lung round the nodule, and what
        # the tight one leaves out is fainter than the edge it keeps
        assert np.median(hu[added]) > np.median(hu[lung]) + 100
        assert np.median(hu[dropped]) < np.median(hu[kept_edge]) - 50

    def test_the_gliomas_observers_differ_and_never_overlap_their_own_segments(self, glioma):
        reference, outlines = glioma["reference"], glioma["outlines"]
        for number, name in ((1, "enhancing tumour"), (2, "oedema")):
            masks = {k: found.masks[number] for k, found in outlines.items()}
            pairs = _pairs(masks, glioma["t1c"].spacing)
            print(name, {f"{a}-{b}": f"{d:.2f} ×{r:.2f}" for (a, b), (d, r) in pairs.items()})
            assert all(0.45 <= d <= 0.95 for d, _ in pairs.values())
            assert 1.3 <= max(r for _, r in pairs.values()) <= 2.2
            assert all(dice(reference.masks[number], m) > 0.6 for m in masks.values())
        for found in outlines.values():
            assert not (found.masks[1] & found.masks[2]).any()

    def test_the_same_seed_draws_the_same_outlines_and_another_seed_another_hand(self, nodule):
        hu = modality_values(nodule["volume"])
        spacing = nodule["volume"].spacing
        first = experts.nodule_outlines(nodule["reference"], hu, spacing, 0)
        again = experts.nodule_outlines(nodule["reference"], hu, spacing, 0)
        other = experts.nodule_outlines(nodule["reference"], hu, spacing, 1)
        assert all(np.array_equal(first[k], again[k]) for k in first)
        # the files hold what the generator draws
        assert all(np.array_equal(first[k], nodule["outlines"][k]) for k in first)
        # only the loose hand depends on the seed: the others follow the image
        assert np.array_equal(first["A"], other["A"]) and np.array_equal(first["B"], other["B"])
        assert not np.array_equal(first["C"], other["C"])

    def test_a_seg_written_twice_has_the_same_bytes(self, nodule, tmp_path):
        from dicomteach.samples.ct_chest import NODULE_SEGMENT

        volume = nodule["volume"]
        datasets = [pydicom.dcmread(path) for path, _frame in volume.sources]
        written = [
            experts.write_observer_segs(
                tmp_path / run,
                {k: {"Lung nodule": m} for k, m in nodule["outlines"].items()},
                datasets,
                [NODULE_SEGMENT],
                stem="seg-nodule",
                what="Nodule",
                seed=0,
                tag=("test",),
                created=("20250310", "120000"),
            )
            for run in ("first", "second")
        ]
        assert [p.read_bytes() for p in written[0]] == [p.read_bytes() for p in written[1]]

    @pytest.mark.skipif(
        shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed"
    )
    def test_observer_segs_pass_dciodvfy(self, nodule, glioma):
        for path in (nodule["files"][0], glioma["files"][1]):
            out = subprocess.run(
                ["dciodvfy", str(path)], capture_output=True, text=True, timeout=60
            )
            errors = [
                line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")
            ]
            assert errors == [], path


def _ring(mask: np.ndarray, reach: int) -> np.ndarray:
    from scipy import ndimage

    return np.stack([ndimage.binary_dilation(m, iterations=reach) for m in mask])


def _eroded(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return np.stack([ndimage.binary_erosion(m) for m in mask])


class TestStaple:
    def test_identical_masks_are_their_own_consensus_with_perfect_raters(self):
        mask = np.zeros((4, 20, 20), bool)
        mask[1:3, 5:15, 4:12] = True
        found = staple([mask, mask.copy(), mask.copy()])
        assert np.array_equal(found.mask, mask)
        assert found.sensitivity == pytest.approx((1, 1, 1))
        assert found.specificity == pytest.approx((1, 1, 1))

    def test_a_voxel_two_of_three_drew_is_in_and_one_only_one_drew_is_out(self):
        a = np.zeros((20, 20), bool)
        a[5:15, 5:15] = True
        b, c = a.copy(), a.copy()
        b[5:15, 15] = c[5:15, 15] = True  # two agree on one more column
        c[5:15, 16] = True  # one alone on another
        found = staple([a, b, c])
        assert found.mask[5:15, 15].all() and not found.mask[5:15, 16].any()
        assert found.specificity[2] < found.specificity[0]
        assert found.sensitivity[0] < found.sensitivity[1]

    def test_the_background_around_the_masks_changes_nothing(self):
        rng = np.random.default_rng(3)
        masks = [np.zeros((6, 16, 16), bool) for _ in range(3)]
        for m in masks:
            m[1:5, 3:12, 4:13] = True
            m[rng.integers(1, 5), rng.integers(2, 14), rng.integers(2, 14)] ^= True
        small = staple(masks)
        padded = staple([np.pad(m, 40) for m in masks])
        assert np.array_equal(padded.mask[40:-40, 40:-40, 40:-40], small.mask)

    @pytest.mark.parametrize("seed", range(6))
    def test_it_gives_what_simpleitks_filter_gives(self, seed):
        # distinct votes stand for their voxels (decision 39): same estimate, raters and steps
        import SimpleITK as sitk

        rng = np.random.default_rng(seed)
        raters = int(rng.integers(2, 12))
        shape = (int(rng.integers(1, 10)), int(rng.integers(8, 40)), int(rng.integers(8, 40)))
        grid = np.indices(shape).astype(float)
        masks = []
        for _ in range(raters):
            centre = np.array(shape) / 2 + rng.normal(0, 1.5, 3)
            radius = rng.uniform(2, 8) + rng.normal(0, 0.6, shape)
            masks.append(np.sqrt(((grid - centre[:, None, None, None]) ** 2).sum(0)) <= radius)
        masks[-1][0, 0, 0] = masks[-1][-1, -1, -1] = True  # stray corners: the box is the grid
        found = staple(masks)
        method = sitk.STAPLEImageFilter()
        method.SetForegroundValue(1.0)
        method.SetMaximumIterations(200)
        itk = sitk.GetArrayFromImage(
            method.Execute([sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks])
        )
        assert np.abs(found.probability - np.nan_to_num(itk)).max() < 1e-6
        assert np.array_equal(found.mask, np.nan_to_num(itk) >= 0.5)
        assert found.sensitivity == pytest.approx(method.GetSensitivity(), abs=1e-9)
        assert found.specificity == pytest.approx(method.GetSpecificity(), abs=1e-9)
        assert found.iterations == method.GetElapsedIterations()

    def test_a_class_larger_than_a_word_of_votes_goes_through_simpleitk(self):
        mask = np.zeros((3, 12, 12), bool)
        mask[1, 3:9, 3:9] = True
        wider = mask.copy()
        wider[1, 3:9, 9] = True
        found = staple([mask] * 40 + [wider] * 30)
        assert np.array_equal(found.mask, wider) and len(found.sensitivity) == 70

    @pytest.mark.parametrize(
        "masks, problem",
        [
            ([np.ones((4, 4), bool)], "at least two masks"),
            ([np.ones((4, 4), bool), np.ones((5, 4), bool)], "one shape"),
            ([np.zeros((4, 4), bool), np.zeros((4, 4), bool)], "only empty masks"),
            ([np.ones((4, 4)), np.full((4, 4), 2)], "must be binary"),
        ],
    )
    def test_what_cannot_be_agreed_on_is_refused(self, masks, problem):
        with pytest.raises(ValueError, match=problem):
            staple(masks)

    def test_the_spread_scores_each_expert_against_the_consensus(self, nodule):
        spacing = nodule["volume"].spacing
        masks = list(nodule["outlines"].values())
        spread = expert_spread(masks, spacing, 2.0)
        for mask, found in zip(masks, spread.scores, strict=True):
            assert found.dice == pytest.approx(dice(spread.consensus.mask, mask))
        assert spread.worst_dice == min(s.dice for s in spread.scores) < 0.95
        assert spread.volume_ratio == pytest.approx(
            max(m.sum() for m in masks) / min(m.sum() for m in masks)
        )
        # the reference the observers started from agrees with their consensus as well as
        # at least one of them does
        truth = score(spread.consensus.mask, nodule["reference"], spacing, 2.0)
        assert min(spread.place(truth)) >= 1


class TestGradeAgainstExperts:
    def test_an_outline_drawn_like_a_fourth_expert_gets_full_points(self, nodule):
        hu = modality_values(nodule["volume"])
        fourth = experts.observer_outline(
            nodule["reference"], hu, nodule["volume"].spacing, experts.OBSERVERS[2], seed=7
        )
        f = grade_against_experts(fourth, nodule["files"], 10, image=nodule["volume"])
        assert f.points == 10.0
        assert "inside the experts' spread: full points" in str(f)
        assert f.details["experts"]["as_well_as"]["dice"] >= 1
        assert {"experts-spread.png", "experts-band.png"} <= set(f.images)

    def test_an_outline_beside_the_nodule_gets_few_points_and_is_told_it_is_below_the_spread(
        self, nodule
    ):
        shifted = np.roll(nodule["reference"], 4, axis=2)  # 5.6 mm to one side
        f = grade_against_experts(shifted, nodule["files"], 10, image=nodule["volume"])
        assert 0 < f.points < 5
        assert "less well than any of the 3 experts" in str(f)
        assert "below the experts' spread" in str(f)

    def test_the_pictures_show_the_learner_among_the_experts(self, nodule):
        shifted = np.roll(nodule["reference"], 2, axis=2)
        f = grade_against_experts(shifted, nodule["files"], 10, image=nodule["volume"])
        spread = _rgb(f.images["experts-spread.png"])
        band = _rgb(f.images["experts-band.png"])
        assert _count(spread, ANSWER) > 100  # the learner's yellow dot, on each row
        assert _count(band, ANSWER) > 100  # the learner's outline
        # the experts' band: where all drew, and where only some did (the tints are blends,
        # so look for pixels nearer each tint than anything else drawn)
        assert _near(band, EVERY_EXPERT) > 200 and _near(band, SOME_EXPERTS) > 50

    def test_a_missing_answer_is_zero_with_its_reason(self, nodule, tmp_path):
        f = grade_against_experts(
            tmp_path / "nodule.npz", nodule["files"], 10, image=nodule["volume"]
        )
        assert f.points == 0 and f.status is Status.INVALID_ANSWER
        assert "'nodule.npz' was not found" in str(f)

    def test_problems_with_the_experts_are_the_instructors(self, nodule, tmp_path):
        volume, files = nodule["volume"], nodule["files"]
        answer = nodule["reference"]
        for panel, problem in (
            (files[:1], "at least 2 outlines"),
            ([files[0], tmp_path / "gone.dcm"], "expert 2: .*'gone.dcm' was not found"),
            ([np.zeros((60, 256, 256), bool), answer], "expert 1's outline is empty"),
            ([answer, answer[:30]], "experts must draw on one grid"),
        ):
            f = grade_against_experts(answer, panel, 10, image=volume)
            assert f.status is Status.GRADING_ERROR and f.points == 0
            assert re.search(problem, f.details["problem"]), f.details["problem"]


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(_io.BytesIO(png)).convert("RGB")).astype(int)


def _count(rgb: np.ndarray, colour) -> int:
    return int((np.abs(rgb - np.asarray(colour)).sum(axis=2) < 30).sum())


def _near(rgb: np.ndarray, colour) -> int:
    """Pixels whose hue leans to ``colour``: its strongest channel well above the gray under it."""
    colour = np.asarray(colour)
    strong, weak = int(np.argmax(colour)), int(np.argmin(colour))
    second = 3 - strong - weak
    lean = (rgb[..., strong] - rgb[..., weak] > 40) & (
        np.sign(rgb[..., second] - rgb[..., weak]) == np.sign(colour[second] - colour[weak] - 40)
    )
    return int(lean.sum())


SHAPE = (8, 40, 40)
SPACING = (2.5, 0.8, 0.8)


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A small CT with a soft-tissue ball, and three experts' SEGs of it (one per file)."""
    from dicomteach.io.writer import write_ct_series

    folder = tmp_path_factory.mktemp("panel")
    z, y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1], 0 : SHAPE[2]]
    radius = np.sqrt(((z - 4) * 2.5) ** 2 + ((y - 20) * 0.8) ** 2 + ((x - 18) * 0.8) ** 2)
    write_ct_series(folder / "ct", np.where(radius <= 6.0, 40.0, -800.0), spacing=SPACING)
    volume = io.load(folder / "ct")
    balls = {"a": radius <= 5.2, "b": radius <= 6.0, "c": radius <= 6.8}
    for name, ball in balls.items():
        write_seg({"Nodule": ball, "Vessel": radius <= 2.0}, volume, folder / f"expert-{name}.dcm")
    return {"folder": folder, "volume": volume, "balls": balls, "radius": radius}


def _panel_yaml(panel, extra="experts: [expert-a.dcm, expert-b.dcm, expert-c.dcm]\n"):
    path = panel["folder"] / "nodule.yaml"
    path.write_text(
        "type: delineate\nstudy: ct\nprompt: Outline the nodule\npoints: 10\n"
        "structures: [Nodule]\nreference_structure: Nodule\ntolerance_mm: 2\n" + extra
    )
    return path


class TestDelineateWithExperts:
    def test_from_yaml_a_good_outline_earns_full_points_and_says_where_it_falls(
        self, panel, tmp_path, monkeypatch
    ):
        monkeypatch.chdir(tmp_path)
        nodule = Activity.load(_panel_yaml(panel))
        assert [p.name for p in nodule.reference.resolve()] == [
            "expert-a.dcm",
            "expert-b.dcm",
            "expert-c.dcm",
        ]
        nodule.question.labels = (panel["radius"] <= 6.4).astype(np.uint8)
        f = nodule.grade()
        assert f.points == 10.0, str(f)
        assert "as well as" in str(f) and "experts" in str(f)
        assert "experts-spread.png" in f.images
        nodule.question.labels = (panel["radius"] <= 3.0).astype(np.uint8)
        assert nodule.grade().points < 5

    def test_in_python_with_several_structures_each_is_graded_against_its_experts(
        self, panel, tmp_path
    ):
        folder = panel["folder"]
        pair = Delineate(
            "pair",
            panel["volume"],
            prompt="Outline the nodule and the vessel",
            points=10,
            structures=["Nodule", "Vessel"],
            experts=[folder / f"expert-{x}.dcm" for x in "abc"],
            answer=tmp_path / "pair.npz",
        )
        labels = np.zeros(SHAPE, np.uint8)
        labels[panel["balls"]["b"]] = 1
        pair.question.labels = labels  # the nodule drawn, the vessel not
        f = pair.grade()
        assert f.points == 5.0
        assert any(line.startswith("Vessel: Your delineation is empty") for line in f.lines)
        assert any(line.startswith("Nodule: ") and "full points" in line for line in f.lines)

    def test_the_key_file_keeps_the_experts_and_the_learners_copy_has_none(self, panel, tmp_path):
        nodule = Activity.load(_panel_yaml(panel))
        key = nodule.save(tmp_path / "key.yaml", reference=True)
        public = nodule.save(tmp_path / "public.yaml")
        assert "expert-a.dcm" in key.read_text() and "expert" not in public.read_text()
        assert nodule.public().reference is None
        again = Activity.load(key, name="nodule")
        assert again.to_dict(reference=True)["experts"] == [f"expert-{x}.dcm" for x in "abc"]

    def test_check_my_answer_reveals_the_experts_consensus(self, panel, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        nodule = Activity.load(_panel_yaml(panel))
        shown = nodule._reference_masks()
        assert np.array_equal(shown["Nodule"], panel["balls"]["b"])

    @pytest.mark.parametrize(
        "extra, problem",
        [
            ("experts: [expert-a.dcm]\n", r"'experts' must list at least 2 outlines"),
            ("experts: expert-a.dcm\n", r"'experts' must list at least 2 outlines"),
            (
                "experts: [expert-a.dcm, expert-b.dcm]\nreference: expert-c.dcm\n",
                r"'experts' replaces 'reference'",
            ),
            (
                "experts: [expert-a.dcm, expert-b.dcm]\nfull_marks: {dice: 0.8, surface_dice: 0.9}\n",
                r"'full_marks' comes from the experts' spread",
            ),
        ],
    )
    def test_a_wrong_panel_is_one_line_naming_the_file_and_the_key(self, panel, extra, problem):
        path = _panel_yaml(panel, extra)
        with pytest.raises(ActivityError, match=rf"^{path}: {problem}"):
            Activity.load(path)

    def test_in_python_a_wrong_panel_names_the_argument(self, panel):
        with pytest.raises(ValueError, match=r"^Argument 'experts' must list at least 2"):
            Delineate("nodule", panel["volume"], prompt="Outline it", experts=["one.dcm"])
