"""CompareFindings: a baseline and its follow-up, what changed, and the lesion measured on both.

A small CT pair is written once per module: the follow-up's slices start one
slice higher and 3 mm to the patient's left (a table moved), with the same
nodule grown from 5 to 8 mm in radius, and a SEG of the nodule on each
series. Rulers are set as the browser sets them (``Compare.measurements``,
ends in the baseline's array indices), the reading is checked in its file,
and the grader is checked against what a learner would expect. The course's
example (``graders/references/ct-followup``) is graded on the sample CT, with
its registration.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dicomteach.activities import Activity, ActivityError, CompareFindings
from dicomteach.grading import Finding, Status, grade_followup, recist_response
from dicomteach.grading.followup import longest_diameter
from dicomteach.grading.render import ANSWER, REFERENCE, TOO_LARGE
from dicomteach.roi.followup import Line, Reading, load_reading, save_reading
from dicomteach.widgets import CheckAnswer

SHAPE = (10, 48, 48)
SPACING = (2.5, 1.0, 1.0)
ORIGIN = (-24.0, -24.0, -12.5)
MOVED = (3.0, 0.0, 2.5)  # the follow-up's first voxel, from the baseline's (LPS mm)
CENTRE = (5, 24, 20)  # the nodule in the baseline's array indices
COURSE = Path(__file__).resolve().parents[1] / "graders"
COURSE_KEY = COURSE / "references/ct-followup/nodule.yaml"
COURSE_NOTEBOOK = COURSE / "source/ct-followup/ct-followup.ipynb"


def _ball(radius: float, centre=CENTRE) -> np.ndarray:
    k, r, c = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1], 0 : SHAPE[2]]
    return ((k - centre[0]) * 2.5) ** 2 + (r - centre[1]) ** 2 + (c - centre[2]) ** 2 <= radius**2


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from dicomteach import io as dio
    from dicomteach.io.writer import write_ct_series
    from dicomteach.roi import write_seg

    folder = tmp_path_factory.mktemp("pair")
    before = _ball(5.0)
    # the same place in the patient, in the follow-up's indices: one slice lower, 3 columns left
    after = _ball(8.0, (CENTRE[0] - 1, CENTRE[1], CENTRE[2] - 3))
    write_ct_series(
        folder / "baseline", np.where(before, 40.0, -800.0), spacing=SPACING, origin=ORIGIN
    )
    moved = tuple(o + m for o, m in zip(ORIGIN, MOVED, strict=True))
    write_ct_series(
        folder / "followup", np.where(after, 40.0, -800.0), spacing=SPACING, origin=moved
    )
    for name, mask in (("baseline", before), ("followup", after)):
        write_seg({"Nodule": mask}, dio.load(folder / name), folder / f"seg-{name}.dcm")
    return {"folder": folder, "before": before, "after": after}


KEY = (
    "type: compare-findings\nstudy: baseline\nfollowup: followup\nprompt: What changed?\n"
    "points: 3\nfindings: [nodule]\nregister: false\ntolerance_mm: 2\n"
    "reference:\n  nodule:\n    change: grown\n    baseline: {file: seg-baseline.dcm}\n"
    "    followup: {file: seg-followup.dcm}\n"
)


@pytest.fixture
def notebook_folder(tmp_path, monkeypatch):
    folder = tmp_path / "assignment"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def activity(pair, notebook_folder):
    path = pair["folder"] / "nodule.yaml"
    path.write_text(KEY, encoding="utf-8")
    return Activity.load(path)


def ruler(side: str, start: tuple[float, float], end: tuple[float, float], frame: int = 5):
    """A ruler as the browser sends it: ends in the baseline's array indices (axial)."""
    (r0, c0), (r1, c1) = start, end
    return {
        "kind": "ruler",
        "side": side,
        "plane": "axial",
        "slice": frame,
        "points": [[r0 + 0.5, c0 + 0.5], [r1 + 0.5, c1 + 0.5]],
        "array": [[frame, r0, c0], [frame, r1, c1]],
        "length_mm": float(np.hypot(r1 - r0, c1 - c0)),
    }


def _picture(feedback) -> np.ndarray:
    """The feedback's picture below its title and legend (which show every colour)."""
    png = Image.open(io.BytesIO(feedback.images["followup.png"])).convert("RGB")
    return np.asarray(png)[58:]


# across each nodule from edge to edge: 11 mm on the baseline, 17 mm on the follow-up
GOOD = [ruler("before", (24, 14.5), (24, 25.5)), ruler("after", (24, 11.5), (24, 28.5))]


class TestActivityFile:
    def test_the_file_gives_both_studies_the_findings_and_their_key(self, activity, pair):
        assert isinstance(activity, CompareFindings)
        assert (activity.findings, activity.register, activity.tolerance_mm) == (
            ["nodule"],
            False,
            2.0,
        )
        assert activity.followup_volume.pixels.shape == SHAPE
        assert activity.reference["nodule"]["change"] == "grown"
        key = activity.to_dict(reference=True)
        assert key["followup"] == "followup" and key["reference"]["nodule"]["baseline"] == {
            "file": "seg-baseline.dcm"
        }
        assert "reference" not in activity.to_dict()

    @pytest.mark.parametrize(
        "change, problem",
        [
            ("followup: followup\n", r"'followup' is needed"),
            ("change: grown\n", r"'reference.nodule.change' must be one of new, grown, stable"),
            ("register: false\n", r"'register' must be true or false, not 'sometimes'"),
            (
                "findings: [nodule]\n",
                r"'reference' must have one entry per finding \(missing \['mass'\]",
            ),
            (
                "    baseline: {file: seg-baseline.dcm}\n",
                r"'reference.nodule' is 'grown', so it needs a lesion on the baseline and followup",
            ),
            (
                "    followup: {file: seg-followup.dcm}\n",
                r"'reference.nodule.followup' is a point: give the lesion's 'diameter_mm' too",
            ),
        ],
    )
    def test_a_wrong_key_is_one_line_naming_the_file_and_the_key(self, pair, change, problem):
        replacement = {
            "followup: followup\n": "",
            "change: grown\n": "change: bigger\n",
            "register: false\n": "register: sometimes\n",
            "findings: [nodule]\n": "findings: [mass, nodule]\n",
            "    baseline: {file: seg-baseline.dcm}\n": "",
            "    followup: {file: seg-followup.dcm}\n": "    followup: {point: [24, 17], radius_mm: 9}\n",
        }[change]
        path = pair["folder"] / "wrong.yaml"
        path.write_text(KEY.replace(change, replacement), encoding="utf-8")
        with pytest.raises(ActivityError, match=rf"^{path}: {problem}") as info:
            Activity.load(path)
        assert "\n" not in str(info.value)


class TestTheReadingFile:
    def test_every_ruler_and_pick_is_saved_with_each_line_in_its_own_series(
        self, activity, notebook_folder
    ):
        question = activity.question
        assert question.compare.tool == "ruler" and not question.answered
        question.pick("nodule", "grown")
        saved = json.loads((notebook_folder / "nodule.json").read_text())
        assert saved["changes"] == {"nodule": "grown"} and saved["lines"] == []
        question.compare.measurements = GOOD
        reading = load_reading(notebook_folder / "nodule.json")
        assert [line.date for line in reading.lines] == ["baseline", "followup"]
        assert reading.lines[0].image == ((5.0, 24.0, 14.5), (5.0, 24.0, 25.5))
        # the follow-up's series starts a slice higher and 3 mm to the left
        assert np.allclose(reading.lines[1].image, ((4.0, 24.0, 8.5), (4.0, 24.0, 25.5)))
        assert np.allclose(reading.lines[1].patient_mm[0], (-12.5, 0.0, 0.0))  # as on the baseline
        assert reading.followup_series_uid == activity.followup_volume.series_uid

    def test_built_again_it_shows_the_saved_rulers_and_picks(self, activity, notebook_folder):
        activity.question.pick("nodule", "shrunk")
        activity.question.compare.measurements = GOOD
        again = Activity.load(activity.source).question
        assert again.changes == {"nodule": "shrunk"}
        assert [m["side"] for m in again.compare.measurements] == ["before", "after"]
        assert again.compare.measurements[1]["array"] == GOOD[1]["array"]
        assert again.compare.position[0] == 5 and again.answered

    def test_a_reading_of_other_series_is_moved_aside_not_overwritten(
        self, activity, notebook_folder
    ):
        save_reading(
            Reading("1.2.3", "1.2.4", {"nodule": "grown"}), notebook_folder / "nodule.json"
        )
        with pytest.warns(UserWarning, match=r"it holds a reading of other series"):
            question = activity.question
        assert "moved aside" in question.status.value
        assert len(list(notebook_folder.glob("nodule.moved-*.json"))) == 1

    @pytest.mark.parametrize(
        "content, why",
        [
            ("{not json", r"not JSON"),
            ("[1, 2]", r"must hold a JSON object, not list"),
            (
                '{"version": 1, "series_uid": "1", "followup_series_uid": "2", "lines": '
                '[{"date": "followup", "image": [[NaN, 1, 2], [1, 2, 3]]}]}',
                r"lines\[0\]\.image must be two lists of 3 finite numbers",
            ),
            ('{"version": 9}', r"version 9 was written by a newer dicomteach"),
            (
                "{" + '"pad": "' + "x" * 300_000 + '"}',
                r"is 300011 bytes; a reading is at most 262144",
            ),
        ],
    )
    def test_a_malformed_reading_gets_zero_and_one_line_saying_why(
        self, activity, notebook_folder, content, why
    ):
        (notebook_folder / "nodule.json").write_text(content)
        feedback = activity.grade()
        assert feedback.points == 0 and feedback.status is Status.INVALID_ANSWER
        assert len(feedback.lines) == 1
        assert re.search(
            rf"^Your answer file 'nodule\.json' could not be read \(.*{why}", feedback.lines[0]
        )

    def test_no_reading_is_zero_and_says_so(self, activity, notebook_folder):
        feedback = activity.grade()
        assert feedback.points == 0
        assert feedback.lines == [
            "No answer was found: measure the lesion and say what changed "
            "(your answer file 'nodule.json' was not found)."
        ]


class TestGrading:
    def test_a_good_reading_earns_every_point_and_the_picture_shows_both_dates(
        self, activity, notebook_folder
    ):
        activity.question.pick("nodule", "grown")
        activity.question.compare.measurements = GOOD
        feedback = activity.grade()
        assert feedback.points == 3 and feedback.status is Status.GRADED
        assert feedback.lines[:3] == [
            "✓ nodule has grown.",
            "✓ nodule on the baseline: your line is 11.0 mm, the reference diameter 11.0 mm "
            "(2 mm allowed).",
            "✓ nodule on the follow-up: your line is 17.0 mm, the reference diameter 17.0 mm "
            "(2 mm allowed).",
        ]
        assert feedback.lines[3] == (
            "Reference: sum of longest diameters 11.0 mm → 17.0 mm (+55 %, +6.0 mm): "
            "progressive disease (PD)."
        )
        assert feedback.lines[4].startswith("Yours: 11.0 mm → 17.0 mm")
        assert feedback.lines[5].startswith("RECIST 1.1 compares the sums of longest diameters")
        picture = _picture(feedback)
        colours = {tuple(int(v) for v in c) for c in picture.reshape(-1, 3)}
        assert {REFERENCE, ANSWER} <= colours and TOO_LARGE not in colours
        # two panels side by side: the learner's yellow lines in the left and the right half
        columns = np.argwhere(np.all(picture == ANSWER, axis=-1))[:, 1]
        assert columns.min() < picture.shape[1] / 2 < columns.max()

    def test_a_wrong_change_and_a_diameter_out_of_tolerance_lose_their_parts(
        self, activity, notebook_folder
    ):
        activity.question.pick("nodule", "stable")
        short = ruler("after", (24, 14.5), (24, 27.5))  # 13 mm across a 17 mm nodule
        activity.question.compare.measurements = [GOOD[0], short]
        feedback = activity.grade()
        assert feedback.points == 1.0
        assert feedback.lines[0] == "✗ nodule: you said it is stable; it has grown."
        assert feedback.lines[2] == (
            "✗ nodule on the follow-up: your line is 13.0 mm, the reference diameter 17.0 mm: "
            "4.0 mm too short (2 mm allowed)."
        )

    def test_the_right_length_off_the_lesion_does_not_count(self, activity, notebook_folder):
        activity.question.pick("nodule", "grown")
        elsewhere = ruler("after", (5, 11.5), (5, 28.5))  # 17 mm, but 19 mm above the nodule
        activity.question.compare.measurements = [GOOD[0], elsewhere]
        feedback = activity.grade()
        assert feedback.points == 2.0
        assert feedback.lines[2].startswith("✗ nodule on the follow-up: not measured: no line")
        assert feedback.lines[3] == (
            "1 of your lines is on no finding and was not graded: 17.0 mm on the follow-up."
        )
        assert np.all(_picture(feedback) == TOO_LARGE, axis=-1).any()  # the stray line, in red

    def test_the_last_line_drawn_on_a_lesion_counts(self, activity, notebook_folder):
        activity.question.pick("nodule", "grown")
        first_try = ruler("before", (24, 16.5), (24, 23.5))
        activity.question.compare.measurements = [first_try, *GOOD]
        assert activity.grade().points == 3
        activity.question.compare.measurements = [*GOOD, first_try]
        assert activity.grade().points == 2

    def test_check_my_answer_grades_the_reading_and_a_released_one_says_later(
        self, activity, notebook_folder
    ):
        panel = next(c for c in activity.view().children if isinstance(c, CheckAnswer))
        assert panel.button.disabled
        activity.question.pick("nodule", "grown")
        assert not panel.button.disabled
        assert panel.check().points == 1.0  # the change only: nothing measured yet
        released = activity.public()
        texts = [getattr(c, "value", "") for c in released.view().children]
        assert any("nodule.json" in t and "graded after you submit" in t for t in texts)
        assert released.grade().status is Status.GRADING_ERROR

    def test_a_reading_of_other_series_is_zero_with_its_reason(self, activity, notebook_folder):
        save_reading(
            Reading("1.2.3", "1.2.4", {"nodule": "grown"}), notebook_folder / "nodule.json"
        )
        feedback = activity.grade()
        assert feedback.points == 0
        assert "holds a reading of other series than this activity's" in feedback.lines[0]


class TestGrader:
    """``grade_followup`` alone, on masks."""

    before, after = _ball(5.0), _ball(8.0)

    def reading(self, changes, *lines):
        return Reading("1", "2", changes, list(lines))

    def line(self, date, a, b, frame=5):
        return Line(date, ((frame, *a), (frame, *b)))

    def test_a_new_lesion_is_progression_whatever_the_sizes(self):
        new = _ball(4.0, (5, 8, 38))  # 9 mm across, far from the old one
        key = {"old": Finding("stable", self.before, self.before), "new": Finding("new", None, new)}
        reading = self.reading(
            {"old": "stable", "new": "new"},
            self.line("baseline", (24, 14.5), (24, 25.5)),
            self.line("followup", (8, 33.5), (8, 42.5)),
            self.line("followup", (24, 14.5), (24, 25.5)),
        )
        feedback = grade_followup(reading, key, SPACING, SPACING, points=5, draw=False)
        # each follow-up line goes to the lesion it lies on, whatever the order drawn
        assert feedback.details["findings"]["new"]["followup"]["line_mm"] == 9.0
        assert feedback.details["findings"]["old"]["followup"]["line_mm"] == 11.0
        assert feedback.points == 5
        assert feedback.details["recist"] == {"reference": "PD", "yours": "PD"}
        assert feedback.lines[-3].endswith("progressive disease (PD), because of a new lesion.")

    def test_a_diameter_given_by_the_instructor_is_the_reference(self):
        key = {"nodule": Finding("grown", self.before, self.after, followup_mm=20.0)}
        reading = self.reading({"nodule": "grown"}, self.line("followup", (24, 11.5), (24, 28.5)))
        feedback = grade_followup(reading, key, SPACING, SPACING, 2, 2, draw=False)
        assert feedback.details["findings"]["nodule"]["followup"]["reference_mm"] == 20.0
        assert "3.0 mm too short" in feedback.lines[2]

    def test_an_empty_reading_is_zero(self):
        feedback = grade_followup(
            self.reading({"nodule": None}),
            {"nodule": Finding("grown", self.before, self.after)},
            SPACING,
            SPACING,
        )
        assert feedback.points == 0 and feedback.lines == [
            "Your answer is empty: measure the lesion and say what changed."
        ]

    def test_a_key_that_contradicts_itself_is_the_instructors_problem(self):
        key = {"nodule": Finding("resolved", self.before, self.after)}
        feedback = grade_followup(self.reading({"nodule": "grown"}), key, SPACING, SPACING)
        assert feedback.status is Status.GRADING_ERROR
        assert (
            "has resolved but has a lesion on baseline and followup" in feedback.details["problem"]
        )

    @pytest.mark.parametrize(
        "before, after, new, category",
        [
            (16.1, 20.8, False, "SD"),
            (16.0, 21.0, False, "PD"),
            (20.0, 14.0, False, "PR"),
            (20.0, 0.0, False, "CR"),
            (20.0, 18.0, True, "PD"),
        ],
    )
    def test_recist_categories(self, before, after, new, category):
        assert recist_response(before, after, new_lesion=new).category == category

    def test_the_longest_diameter_is_in_plane_edge_to_edge(self):
        d = longest_diameter(self.after, SPACING)
        assert d.slice == 5 and d.length_mm == 17.0


def test_the_course_example_grades_the_sample_follow_up_after_registration(tmp_path, monkeypatch):
    """graders/ct-followup: the released notebook's activity on the lesson-sized chest CT and
    its follow-up (registered), answered, then graded by ``grade("nodule")`` with the key."""
    from dicomteach.activities import REFERENCES_ENV, grade
    from dicomteach.activities.targets import target_masks

    folder = tmp_path / "ct-followup"  # a learner's copy of the assignment
    folder.mkdir()
    monkeypatch.chdir(folder)
    cells = json.loads(COURSE_NOTEBOOK.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    grading = [c for c in cells if c["metadata"]["nbgrader"].get("grade")]
    assert [c["metadata"]["nbgrader"]["points"] for c in grading] == [3]
    assert "".join(grading[0]["source"]).endswith('grade("nodule")')
    namespace: dict = {}
    exec(code[0], namespace)  # the read-only cell that shows the activity
    released = namespace["nodule"]
    assert released.reference is None and "seg-nodule" not in COURSE_NOTEBOOK.read_text()
    key = Activity.load(COURSE_KEY)
    assert key.points == released.points and key.name == released.name
    question = released.question
    compare = question.compare
    assert compare.registration is not None and "aligned to Baseline" in compare.alignment
    # a learner who measures each date's reference diameter, drawn where the widget shows it
    rulers = []
    for side, date, volume in (
        ("before", "baseline", key.volume),
        ("after", "followup", key.followup_volume),
    ):
        region = key.reference["nodule"][date][0]
        d = longest_diameter(target_masks((region,), volume)[date], volume.spacing)
        ends = [(d.slice, *end) for end in d.ends]
        if side == "after":  # shown on the baseline's grid: bring the ends back onto it
            inverse = compare.registration.inverse()
            ends = [key.volume.lps_to_index(inverse.apply(volume.index_to_lps(e))) for e in ends]
        frame = int(round(float(np.mean([e[0] for e in ends]))))
        array = [[frame, float(e[1]), float(e[2])] for e in ends]
        rulers.append(
            {**ruler(side, tuple(array[0][1:]), tuple(array[1][1:]), frame), "array": array}
        )
    question.pick("nodule", "grown")
    compare.measurements = rulers
    assert (folder / "nodule.json").is_file()
    monkeypatch.setenv(REFERENCES_ENV, str(COURSE_KEY.parents[1]))
    result = grade("nodule")
    assert result.points == 3, result.feedback.lines
    assert "stable disease (SD), as the increase is under 5 mm" in result.feedback.lines[3]
    question.pick("nodule", "stable")
    compare.measurements = [rulers[0]]
    poor = grade("nodule").feedback
    assert poor.points == 1.0
    assert poor.lines[2].startswith("✗ nodule on the follow-up: not measured")
