"""dicomteach.grading: signed distances, feedback text, points, PNGs, and bad answers."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from dicomteach.grading import (
    Feedback,
    Marks,
    Status,
    grade_click,
    grade_delineation,
    grade_labels,
)
from dicomteach.roi import Answer, Point, save_answer
from dicomteach.scoring import score, signed_distance_map

AXIAL = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])  # slices S, rows P, columns L
SHAPE, SPACING = (60, 80, 80), (2.0, 1.0, 1.0)


def ellipsoid(centre, radii, shape=SHAPE):
    grid = np.indices(shape, dtype=float)
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)) <= 1


REFERENCE = ellipsoid((40, 40, 40), (12, 18, 15))


def grade(answer, **kw):
    kw.setdefault("spacing_mm", SPACING)
    kw.setdefault("direction", AXIAL)
    return grade_delineation(answer, REFERENCE, 10, **kw)


class TestSignedDistanceMap:
    def test_dilated_answer_is_positive_and_eroded_negative(self):
        large = ellipsoid((40, 40, 40), (13.5, 21, 18))
        small = ellipsoid((40, 40, 40), (10.5, 15, 12))
        assert signed_distance_map(large, REFERENCE, SPACING).mean() == pytest.approx(3, abs=0.6)
        assert signed_distance_map(small, REFERENCE, SPACING).mean() == pytest.approx(-3, abs=0.6)

    def test_identical_masks_are_zero_on_the_surface(self):
        m = signed_distance_map(REFERENCE, REFERENCE, SPACING)
        assert np.nanmax(np.abs(m.values)) == 0 and m.full().shape == SHAPE


class TestDelineationText:
    def test_posterior_shift_is_named_and_sized(self):
        f = grade(np.roll(REFERENCE, 3, axis=1))  # rows run posterior: 3 mm posterior
        text = " ".join(f.lines)
        assert "anterior margin is missed" in text and "posterior margin" in text
        assert "size of your outline is right" in text

    def test_missed_posterior_margin_lists_slices_from_one(self):
        answer = REFERENCE.copy()
        answer[40:44, 46:, :] = False  # array slices 40..43 = viewer slices 41–44
        f = grade(answer)
        assert any("posterior margin is missed on slices 41–44" in line for line in f.lines)
        assert any("extend your outline posteriorly" in line for line in f.lines)

    def test_too_large_and_too_small_sign(self):
        large = grade(ellipsoid((40, 40, 40), (13, 20, 17)))
        small = grade(ellipsoid((40, 40, 40), (11, 16, 13)))
        for f, word in ((large, "too large"), (small, "too small")):
            stated = f"{abs(f.details['mean_signed_mm']):.1f} mm {word}"
            assert f"On average your outline is {stated}" in f.lines[1]
        assert large.details["mean_signed_mm"] == pytest.approx(2, abs=0.5)
        assert small.details["mean_signed_mm"] == pytest.approx(-2, abs=0.5)

    def test_missing_superior_end_is_named(self):
        answer = REFERENCE.copy()
        answer[46:] = False
        f = grade(answer)
        assert any("not outlined on slices 47–53 (its superior end)" in line for line in f.lines)

    def test_without_direction_directions_are_on_screen(self):
        answer = REFERENCE.copy()
        answer[40:44, 46:, :] = False
        f = grade(answer, direction=None)
        assert any("lower margin is missed" in line for line in f.lines)


class TestNumbersShown:
    def test_text_quotes_the_mean_surface_distance_of_the_scores(self):
        for answer in (ellipsoid((40, 40, 40), (13, 20, 17)), np.roll(REFERENCE, 3, axis=1)):
            f = grade(answer)
            assert f.scores.msd_mm > 0.5
            assert f"(mean surface distance {f.scores.msd_mm:.2f} mm)" in f.lines[1]

    def test_full_mark_from_an_expert_baseline_says_where_it_comes_from(self):
        baseline = score(REFERENCE, np.roll(REFERENCE, 2, axis=2), SPACING, 1.0)
        line = grade(np.roll(REFERENCE, 3, axis=2), baseline=baseline).lines[0]
        assert (
            f"full marks from {baseline.dice - 0.02:.2f}: two experts agree at "
            f"{baseline.dice:.2f}, less 0.02 for their own variation" in line
        )
        assert f"experts {baseline.surface_dice:.2f} less 0.02" in line

    def test_instructor_full_marks_carry_no_explanation(self):
        line = grade(np.roll(REFERENCE, 3, axis=2)).lines[0]
        assert "full marks from 0.85)" in line and "experts" not in line


class TestDelineationPoints:
    def test_perfect_answer_gets_full_points(self):
        f = grade(REFERENCE.copy())
        assert f.points == 10 and f.status == Status.GRADED
        assert any("within 2 mm everywhere" in line for line in f.lines)

    def test_second_expert_answer_gets_full_points_with_baseline(self):
        expert_2 = np.roll(REFERENCE, 2, axis=2)
        baseline = score(REFERENCE, expert_2, SPACING, 1.0)
        assert grade(expert_2, tolerance_mm=1.0).points < 10
        assert grade(expert_2, baseline=baseline).points == 10

    def test_partial_credit_is_monotone(self):
        points = [grade(np.roll(REFERENCE, s, axis=1)).points for s in range(0, 14, 2)]
        assert points == sorted(points, reverse=True) and points[0] == 10 and points[-1] < 5

    def test_instructor_marks(self):
        answer = np.roll(REFERENCE, 4, axis=1)
        strict = grade(answer, full_marks=Marks(0.99, 0.99))
        lenient = grade(answer, full_marks=Marks(0.5, 0.3), zero_marks=Marks(0.1, 0.1))
        assert strict.points < lenient.points == 10


BAD_ANSWERS = {
    "missing": (None, "No delineation"),
    "missing file": ("/nonexistent/answer.npz", "not found"),
    "wrong shape": (np.zeros((10, 80, 80), bool), "60×80×80"),
    "non-binary": (REFERENCE * 3, "values other than 0 and 1"),
    "NaN": (np.where(REFERENCE, np.nan, 0.0), "NaN"),
    "empty": (np.zeros(SHAPE, bool), "empty"),
    "not a mask": ("not-a-file-but-a-string", "not found"),
    "4D": (np.zeros((2, *SHAPE), bool), "4D"),
    "text array": (np.array(["a", "b"]), "not an image mask"),
}


class TestBadAnswers:
    @pytest.mark.parametrize("name", list(BAD_ANSWERS))
    def test_bad_answer_gets_zero_and_a_line(self, name):
        answer, expected = BAD_ANSWERS[name]
        f = grade(answer)
        assert f.points == 0 and f.max_points == 10 and f.status == Status.INVALID_ANSWER
        assert len(f.lines) == 1 and expected in f.lines[0]

    def test_wrong_spacing_file_and_unreadable_file(self, tmp_path):
        np.savez(tmp_path / "a.npz", mask=REFERENCE, spacing=np.array([2.0, 0.9, 0.9]))
        f = grade(str(tmp_path / "a.npz"))
        assert f.points == 0 and "2×0.9×0.9 mm" in f.lines[0]
        np.savez(tmp_path / "b.npz", mask=REFERENCE, spacing=np.array([2.0, 1.0005, 1.0]))
        assert grade(str(tmp_path / "b.npz")).points == 10  # within 1e-3 mm
        (tmp_path / "c.npz").write_bytes(b"garbage")
        f = grade(str(tmp_path / "c.npz"))
        assert f.points == 0 and "could not be read" in f.lines[0]

    def test_one_structure_under_another_name_is_graded_and_the_feedback_says_so(self, tmp_path):
        path = tmp_path / "answer.npz"
        np.savez(path, mask=REFERENCE, spacing=np.array(SPACING), names=np.array(["Lesion"]))
        f = grade(str(path), structure="Nodule")
        assert f.points == 10
        assert (
            "only structure is named 'Lesion', not 'Nodule': it was graded as the Nodule"
            in f.lines[1]
        )
        # where the activity asks for several structures it may be another's outline: never
        f = grade(str(path), structure="Node", stand_in=False)
        assert f.points == 0 and f.status == Status.INVALID_ANSWER
        assert f.lines == ["Your delineation has no structure named 'Node' (it holds 'Lesion')."]

    def test_bad_reference_is_a_grading_error_not_an_exception(self):
        f = grade_delineation(REFERENCE, np.zeros(SHAPE), 10, spacing_mm=SPACING)
        assert f.points == 0 and f.status == Status.GRADING_ERROR and "instructor" in f.lines[0]
        f = grade_delineation(REFERENCE, REFERENCE, 10)  # no spacing
        assert f.status == Status.GRADING_ERROR


class TestImages:
    def case(self):
        answer = REFERENCE.copy()
        answer[40:44, 46:, :] = False
        answer |= ellipsoid((32, 40, 40), (3, 21, 18))
        hu = np.where(REFERENCE, 60.0, 20.0)
        return grade(answer, image=hu, window=None), answer

    def test_png_is_valid_deterministic_and_red_where_too_large(self, tmp_path):
        (f, _), (g, _) = self.case(), self.case()
        assert set(f.images) == {"worst-slices.png", "per-slice.png"}
        for name, data in f.images.items():
            assert hashlib.sha256(data).digest() == hashlib.sha256(g.images[name]).digest()
        picture = np.asarray(Image.open(io.BytesIO(f.images["worst-slices.png"])).convert("RGB"))
        assert picture.shape[0] > 250 and picture.shape[1] > 600
        r, g_, b = (picture[..., c].astype(int) for c in range(3))
        red = (r > g_ + 60) & (r > b + 60)
        blue = (b > r + 60) & (b > g_ + 30)
        assert red.sum() > 500 and blue.sum() > 500
        written = f.save(tmp_path)
        assert {p.name for p in written} >= {"worst-slices.png", "feedback.html", "feedback.txt"}
        assert "data:image/png;base64," in f.to_html() and f._repr_html_() == f.to_html()

    @pytest.mark.parametrize("thickness", [1, 3, 30])
    def test_the_chart_legend_is_whole_however_few_slices(self, thickness):
        reference = np.zeros((40, 30, 30), bool)
        reference[20 : 20 + thickness, 10:20, 10:20] = True
        answer = np.roll(reference, 2, axis=2)
        f = grade_delineation(answer, reference, 10, spacing_mm=(2, 1, 1), tolerance_mm=1)
        chart = np.asarray(Image.open(io.BytesIO(f.images["per-slice.png"])).convert("RGB"))
        header = chart[:28].astype(int)
        ink = np.abs(header - header[0, 0]).sum(axis=2) > 60  # text and keys on the background
        columns = np.flatnonzero(ink.any(axis=0))
        assert columns.max() < chart.shape[1] - 4, "the legend runs off the picture"
        blue = (header[..., 2] > header[..., 0] + 60).any(axis=0)
        assert blue.any(), "the 'too small' key is drawn"

    @pytest.mark.parametrize(
        "rows, cols, slices",
        [
            ((36, 44), (30, 50), (40, 41)),  # one small slice: one panel
            ((10, 70), (38, 42), (38, 42)),  # tall and narrow: four slices, three panels
            ((38, 42), (5, 75), (39, 41)),  # short and wide: two panels
        ],
        ids=["one-slice", "tall-narrow", "short-wide"],
    )
    def test_the_slices_legend_and_captions_are_whole_at_every_shape(self, rows, cols, slices):
        reference = np.zeros(SHAPE, bool)
        reference[slice(*slices), slice(*rows), slice(*cols)] = True
        answer = np.zeros_like(reference)
        for k in range(*slices):  # off by more on each slice: one panel per slice
            answer[k] = np.roll(reference[k], 2 + k - slices[0], axis=0)
        f = grade_delineation(answer, reference, 10, spacing_mm=SPACING, direction=AXIAL)
        picture = np.asarray(Image.open(io.BytesIO(f.images["worst-slices.png"])).convert("RGB"))
        background = picture[0, 0].astype(int)
        ink = np.abs(picture.astype(int) - background).sum(axis=2) > 60
        width = picture.shape[1]
        for band, what in ((slice(0, 28), "title"), (slice(30, 50), "legend")):
            columns = np.flatnonzero(ink[band].any(axis=0))
            assert columns.max() < width - 6, f"the {what} runs off the picture"
        legend = picture[30:50].reshape(-1, 3)
        for colour in ((40, 220, 90), (255, 214, 0), (235, 50, 50), (40, 120, 255)):
            assert (legend == colour).all(axis=1).sum() >= 40, f"the key {colour} is drawn"
        captions = ink[-24:]
        assert captions.any() and not captions[:, :4].any() and not captions[:, -4:].any()

    def test_two_dimensional_delineation(self):
        reference = REFERENCE[40]
        f = grade_delineation(
            np.roll(reference, 8, axis=0), reference, 5, spacing_mm=(1, 1), direction=AXIAL
        )
        assert 0 < f.points < 5 and "worst-slices.png" in f.images
        assert not any("slice" in line for line in f.lines[1:])


NODULE = ellipsoid((10, 30, 30), (2, 4, 4), (20, 60, 60))


class TestClick:
    def test_inside(self):
        f = grade_click(Point((10.0, 30.0, 31.0)), NODULE, (2, 1, 1), 2, 3)
        assert f.points == 2 and "your click is on it" in f.lines[0]

    def test_within_tolerance(self):
        f = grade_click([Point((10.0, 36.0, 30.0))], NODULE, (2, 1, 1), 2, 3)
        assert f.points == 2 and "2.0 mm from it" in f.lines[0]

    def test_outside_says_how_far_and_where(self):
        f = grade_click(Point((10.0, 30.0, 20.0)), NODULE, (2, 1, 1), 2, 3, direction=AXIAL)
        assert f.points == 0
        assert (
            "6.0 mm from it" in f.lines[0] and "to the patient's left of your click" in f.lines[0]
        )

    def test_points_per_finding_and_answer_file(self, tmp_path):
        second = ellipsoid((10, 10, 10), (1, 2, 2), (20, 60, 60))
        path = save_answer(Answer("1.2.3", [Point((10.0, 30.0, 30.0))]), tmp_path / "a.json")
        f = grade_click(path, {"nodule": NODULE, "node": second}, (2, 1, 1), 4, 3)
        assert f.points == 2 and f.lines[0].startswith("nodule: found")

    def test_missing_answer_file(self, tmp_path):
        f = grade_click(tmp_path / "none.json", NODULE, (2, 1, 1), 2, 3)
        assert f.points == 0 and "not found" in f.lines[0] and isinstance(f, Feedback)

    def test_each_of_several_findings_found_earns_its_share(self):
        findings = {
            "upper": ellipsoid((10, 10, 10), (2, 3, 3), (20, 60, 60)),
            "middle": NODULE,
            "lower": ellipsoid((10, 50, 50), (2, 3, 3), (20, 60, 60)),
        }
        clicks = [Point((10.0, 50.0, 50.0)), Point((10.0, 10.0, 11.0)), Point((10.0, 30.0, 5.0))]
        f = grade_click(clicks, findings, (2, 1, 1), 3, 3)
        assert f.points == 2.0
        assert [r["found"] for r in f.details["findings"].values()] == [True, False, True]


class TestExtraClickPenalty:
    """``penalty_per_extra_click``: points off per click on nothing or on a finding found."""

    FINDINGS = {"nodule": NODULE, "node": ellipsoid((10, 10, 10), (2, 3, 3), (20, 60, 60))}
    ON_NODULE, ON_NODE = Point((10.0, 30.0, 30.0)), Point((10.0, 10.0, 10.0))
    NOWHERE, ELSEWHERE = Point((10.0, 55.0, 5.0)), Point((10.0, 5.0, 55.0))

    def grade(self, clicks, penalty, points=4.0):
        return grade_click(
            clicks, self.FINDINGS, (2, 1, 1), points, 3, penalty_per_extra_click=penalty
        )

    def test_clicks_on_nothing_cost_the_penalty_each_and_say_so(self):
        f = self.grade([self.ON_NODULE, self.ON_NODE, self.NOWHERE, self.ELSEWHERE], 0.5)
        assert f.points == 3.0
        assert "2 clicks hit nothing: −1 point." in f.lines
        assert f.details["extra_clicks"] == {"nothing": 2, "repeats": 0, "penalty": 1.0}

    def test_a_second_click_on_a_finding_found_is_an_extra_click(self):
        again = Point((10.0, 31.0, 29.0))
        f = self.grade([self.ON_NODULE, again, self.ON_NODE], 0.25)
        assert f.points == 3.75
        assert f.lines[-1] == "1 click is on a finding already found: −0.25 points."

    def test_a_missed_finding_loses_its_share_and_the_wasted_click_the_penalty(self):
        f = self.grade([self.ON_NODULE, self.NOWHERE], 1.0)
        assert f.points == 1.0  # 2 for the nodule, 0 for the node, −1 for the click on nothing
        assert f.lines[1].startswith("node: your nearest click is")

    def test_points_never_go_below_zero(self):
        f = self.grade([self.NOWHERE, self.ELSEWHERE, Point((10.0, 40.0, 55.0))], 1.0)
        assert f.points == 0.0
        assert f.lines[-2:] == ["3 clicks hit nothing: −3 points.", "Points never go below 0."]

    def test_without_a_penalty_extra_clicks_cost_nothing(self):
        f = self.grade([self.ON_NODULE, self.ON_NODE, self.NOWHERE], 0.0)
        assert f.points == 4.0 and f.lines[-1] == "1 of your 3 clicks are not on a finding."
        assert "extra_clicks" not in f.details

    @pytest.mark.parametrize("penalty", [-0.5, float("nan")])
    def test_a_negative_penalty_is_the_instructors_problem(self, penalty):
        f = self.grade([self.ON_NODULE], penalty)
        assert f.points == 0 and f.status == Status.GRADING_ERROR
        assert "penalty_per_extra_click must be a number ≥ 0" in f.details["problem"]


class TestLabels:
    def test_correct_wrong_and_missing_labels(self):
        aorta = ellipsoid((10, 20, 20), (3, 5, 5), (20, 60, 60))
        trachea = ellipsoid((10, 40, 40), (3, 5, 5), (20, 60, 60))
        spine = ellipsoid((10, 50, 10), (3, 4, 4), (20, 60, 60))
        dropped = Answer(
            "1.2.3",
            [
                Point((10, 20, 20), None, "Aorta"),
                Point((10, 21, 20), None, "trachea"),
                Point((10, 5, 5), None, "heart"),
            ],
        )
        maps = {"aorta": aorta, "trachea": trachea, "spine": spine}
        f = grade_labels(dropped, maps, (2, 1, 1), 3, 2, direction=AXIAL)
        assert f.points == 1
        assert f.lines[0] == "✓ aorta: correct."
        assert "your label is on the aorta" in f.lines[1] and "posterior" in f.lines[1]
        assert f.lines[2] == "✗ spine: not placed."
        assert "'heart'" in f.lines[3]


class TestSegHandedInAlone:
    def test_a_seg_away_from_its_ct_is_placed_on_the_image_given(self, tmp_path):
        from dicomteach import io, roi
        from dicomteach.io.writer import write_ct_series

        values = np.where(REFERENCE, 40.0, -1000.0)
        write_ct_series(tmp_path / "study" / "ct", values, spacing=SPACING)
        ct = io.load(tmp_path / "study" / "ct")
        reference = roi.write_seg({"Nodule": REFERENCE}, ct, tmp_path / "study" / "ref.dcm")
        # the learner's SEG has frames where the nodule is only, and lies in another folder
        hand_in = tmp_path / "submitted" / "alice" / "lesson-3"
        hand_in.mkdir(parents=True)
        handed_in = roi.write_seg({"Nodule": REFERENCE}, ct, hand_in / "learner.dcm")
        for image in (ct, tmp_path / "study" / "ct"):
            f = grade_delineation(handed_in, reference, 10, image=image)
            assert f.status == Status.GRADED and f.points == 10, f.lines
