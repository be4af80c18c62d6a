"""Reading with the AI: SecondReader and CritiqueAI, on the nodule model's own marks.

The grading of a second reading and of a critique is pinned on small arrays
(every kind of change, both readings' points, the AI's errors the learner
agreed with); the activities run the real model on the lessons' teaching CT
(``ct-chest-findings`` at 512², written once into this run's sample cache),
from YAML, through the widget as a browser would, and through ``grade("name")``
with the model's marks prepared once beside the key.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dicomteach.grading import OtherMark, Status, grade_critique, grade_second_reading
from dicomteach.grading.render_ai import AI
from dicomteach.roi import Answer, Point, load_answer, save_answer

NODULES = [
    "spiculated nodule RUL 16 mm",
    "part-solid nodule LUL 14 mm",
    "ground-glass nodule RLL 12 mm",
    "solid nodule LLL 9 mm",
    "calcified granuloma RML 7 mm",
]


def _masks():
    a = np.zeros((3, 40, 40), bool)
    a[1, 8:12, 8:12] = True
    b = np.zeros((3, 40, 40), bool)
    b[1, 28:32, 28:32] = True
    c = np.zeros((3, 40, 40), bool)
    c[1, 28:32, 6:10] = True
    return {"A": a, "B": b, "C": c}


# A marked (true), B unmarked (an AI miss), C marked (true), one false positive at (1, 20, 30)
MARKS = [
    OtherMark((1.0, 10.0, 10.0), 2.0, 0.97, "A"),
    OtherMark((1.0, 30.0, 8.0), 2.0, 0.9, "C"),
    OtherMark((1.0, 20.0, 30.0), 2.0, 0.81, None),
]


def _grade(first, final, **kwargs):
    reading = Answer("1.2.3", [Point(p) for p in final], first_points=[Point(p) for p in first])
    return grade_second_reading(
        reading, _masks(), MARKS, (1, 1, 1), points=3, tolerance_mm=2, max_clicks=5, **kwargs
    )


class TestGradeSecondReading:
    def test_each_change_says_whether_it_followed_the_ai_rightly_or_wrongly(self):
        # before: B found, a stray click at (1, 2, 38); after: A added (marked), B kept,
        # the stray removed (unmarked there), a click on the AI's false positive added
        f = _grade(
            [(1, 30, 30), (1, 2, 38)],
            [(1, 10, 10), (1, 30, 30), (1, 20, 30)],
        )
        assert (f.points, f.details["first_points"]) == (2.0, 1.0)
        kinds = {c["kind"]: (c["right"], c["followed_ai"]) for c in f.details["changes"]}
        assert kinds == {
            "added-marked": (True, True),
            "missed-marked": (False, False),  # C: the AI marked it, the learner never did
            "added-false-marked": (False, True),
            "removed-false-unmarked": (True, True),
        }
        assert (f.details["followed_rightly"], f.details["followed_wrongly"]) == (2, 1)
        assert f.lines[0].startswith("Your reading after the AI: 2 / 3 points (before it: 1).")
        assert any("click added on the AI's false positive (AI 81 %)" in line for line in f.lines)

    def test_removing_a_finding_the_ai_left_unmarked_and_keeping_its_miss_are_wrong(self):
        f = _grade([(1, 10, 10), (1, 30, 30)], [(1, 10, 10), (1, 30, 8)])
        by_finding = {c["finding"]: c for c in f.details["changes"] if c["finding"]}
        assert by_finding["B"]["kind"] == "removed-unmarked"
        assert not by_finding["B"]["right"] and by_finding["B"]["followed_ai"]
        assert by_finding["C"]["kind"] == "added-marked"
        # the AI's errors: B missed (the learner came to agree), its false positive (never)
        errors = {e["error"]: e for e in f.details["ai_errors"]}
        assert (errors["miss"]["agreed_before"], errors["miss"]["agreed_after"]) == (False, True)
        fp = errors["false positive"]
        assert (fp["agreed_before"], fp["agreed_after"]) == (False, False)
        g = _grade([(1, 10, 10)], [(1, 10, 10), (1, 30, 8)])
        kept = next(c for c in g.details["changes"] if c["finding"] == "B")
        assert kept["kind"] == "missed-unmarked" and "the AI missed it too" in kept["line"]

    def test_the_picture_shows_each_place_with_the_ai_marks_only_in_their_column(self):
        image = np.full((3, 40, 40), -800.0)
        f = _grade([(1, 30, 30)], [(1, 10, 10), (1, 30, 30)], image=image)
        png = Image.open(io.BytesIO(f.images["readings.png"])).convert("RGB")
        pixels = np.asarray(png).astype(int)
        cyan = (np.abs(pixels - np.array(AI)).sum(axis=2) < 40).nonzero()[1]
        width = png.size[0]
        assert len(cyan) > 50
        # the AI's column is the third of four
        assert cyan.min() > width * 0.45 and cyan.max() < width * 0.78

    def test_without_show_me_the_ai_the_reading_is_graded_alone(self):
        reading = Answer("1.2.3", [Point((1, 10, 10))])
        f = grade_second_reading(reading, _masks(), MARKS, (1, 1, 1), points=3, tolerance_mm=2)
        assert f.points == 1.0 and f.status is Status.GRADED
        assert "did not ask to see the AI" in f.lines[0] and f.details["changes"] == []

    def test_a_missing_answer_is_zero_with_a_reason(self, tmp_path):
        f = grade_second_reading(tmp_path / "gone.json", _masks(), MARKS, (1, 1, 1))
        assert f.points == 0 and f.status is Status.INVALID_ANSWER


class TestGradeCritique:
    def test_each_right_verdict_earns_its_share_and_wrong_ones_are_drawn(self):
        image = np.full((3, 40, 40), -800.0)
        f = grade_critique(["true", None, "true"], MARKS, points=3, image=image)
        assert f.points == 1.0
        assert f.details["wrong"] == [1, 2]
        assert (
            f.lines[2]
            == "✗ Mark 3 (AI 81 %, slice 2): you called it a finding; it is a false positive."
        )
        assert Image.open(io.BytesIO(f.images["wrong-marks.png"])).size[1] > 200  # two rows

    def test_a_critique_of_other_marks_is_the_learners_problem(self):
        f = grade_critique(["true"], MARKS, points=3)
        assert f.points == 0 and "judges 1 marks and the AI made 3" in f.lines[0]


def test_a_first_reading_is_kept_in_the_answer_and_older_readers_read_the_revised_one(tmp_path):
    path = tmp_path / "reader.json"
    save_answer(Answer("1.2", [Point((1.0, 2.0, 3.0))], "reader", [Point((4.0, 5.0, 6.0))]), path)
    data = json.loads(path.read_text())
    assert data["points"][0]["image"] == [1, 2, 3] and data["first_points"][0]["image"] == [4, 5, 6]
    assert load_answer(path).first_points == [Point((4.0, 5.0, 6.0))]
    del data["first_points"]
    path.write_text(json.dumps(data))
    assert load_answer(path).first_points is None


# ---------------------------------------------------------------------- with the model


@pytest.fixture(scope="module")
def teaching(tmp_path_factory):
    """The lessons' teaching CT, its findings' SEG, and the model's marks on it (run once)."""
    pytest.importorskip("onnxruntime")
    from dicomteach import io as dio
    from dicomteach.activities.ai_reading import model_candidates
    from dicomteach.samples.cache import lesson_study

    folder = lesson_study("ct-chest-findings", size=512)
    volume = dio.load(folder / "ct")
    return {"folder": folder, "volume": volume, "candidates": model_candidates(volume)}


def _yaml(folder: Path, teaching, kind: str, name: str) -> Path:
    seg = teaching["folder"] / "seg-findings.dcm"
    regions = "".join(
        f"  {n.split()[0]}-{n.split()[-3]}: {{file: {seg}, structure: {n}}}\n" for n in NODULES
    )
    path = folder / f"{name}.yaml"
    path.write_text(
        f"type: {kind}\nstudy: {teaching['folder'] / 'ct'}\nprompt: Click each nodule\n"
        f"points: 5\nwindow: Lung\ntolerance_mm: 3\nreference:\n{regions}"
    )
    return path


def _judged(teaching) -> tuple[list, list]:
    """The model's marks at 0.5 on the teaching CT, and each judged against its findings."""
    from dicomteach.activities.ai_reading import judge_marks
    from dicomteach.roi import load_structures

    found = load_structures(teaching["folder"] / "seg-findings.dcm", teaching["volume"])
    targets = {found.names[n]: m for n, m in found.masks.items() if found.names[n] in NODULES}
    shown = [c for c in teaching["candidates"] if c.probability >= 0.5]
    return shown, judge_marks(shown, targets, teaching["volume"].spacing)


def _false_marks(teaching) -> int:
    """How many of the model's marks at 0.5 on the teaching CT are on no finding."""
    return sum(mark.finding is None for mark in _judged(teaching)[1])


def _centre(teaching, what: str) -> list[float]:
    """Where the model put a mark on a finding (``what`` in its structure's name), or a false one."""
    shown, marks = _judged(teaching)
    for candidate, mark in zip(shown, marks, strict=True):
        if (mark.finding is None and what == "false") or (mark.finding and what in mark.finding):
            return list(candidate.centre_index)
    raise AssertionError(f"the model marked no {what}")


class TestSecondReaderWithTheModel:
    def test_the_ai_marks_reach_the_widget_only_after_show_me_the_ai(
        self, teaching, tmp_path, monkeypatch
    ):
        monkeypatch.chdir(tmp_path)  # the notebook's folder: the answer file goes there
        from dicomteach.activities import Activity, SecondReader

        # the file's keys, on the CT already read (a kernel reads it once)
        key = _yaml(tmp_path, teaching, "second-reader", "reader")
        reader = Activity.load(key, study=teaching["volume"])
        assert isinstance(reader, SecondReader) and reader.max_clicks == 8
        question = reader.question
        question.marks = [{"image": _centre(teaching, "spiculated"), "label": ""}]
        assert question.ai_marks == [] and question.first_marks is None
        shown = reader.show_ai()
        expected = [c for c in teaching["candidates"] if c.probability >= 0.5]
        assert shown == len(expected) == len(question.ai_marks) >= 2
        assert [m["image"] for m in question.ai_marks] == [
            [round(v, 3) for v in c.centre_index] for c in expected
        ]
        # revise: add the click on the false positive; both readings are in the file
        question.marks = [*question.marks, {"image": _centre(teaching, "false"), "label": ""}]
        saved = json.loads(reader.answer_path.read_text())
        assert len(saved["first_points"]) == 1 and len(saved["points"]) == 2
        feedback = reader.grade()
        assert feedback.details["first_points"] == feedback.points == 1.0
        kinds = [c["kind"] for c in feedback.details["changes"]]
        assert "added-false-marked" in kinds and "missed-unmarked" in kinds  # the granuloma
        assert "readings.png" in feedback.images
        # built again (a restarted kernel): the first reading and the AI's marks come back
        again = Activity.load(key, study=teaching["volume"])
        assert again.question.first_marks == question.first_marks
        assert again.question.ai_marks == question.ai_marks

    def test_graded_by_name_the_model_runs_once_for_the_class(
        self, teaching, tmp_path, monkeypatch
    ):
        from dicomteach.activities import REFERENCES_ENV, Activity, ai_reading, grade

        references = tmp_path / "references" / "week-6"
        references.mkdir(parents=True)
        key = _yaml(references, teaching, "critique-ai", "critique")
        learner = tmp_path / "week-6"
        learner.mkdir()
        monkeypatch.chdir(learner)
        critique = Activity.load(key, study=teaching["volume"]).public()
        question = critique.question
        assert len(question.pickers) == len(critique.candidates())
        # what a notebook shows: the marks and their verdicts, with no "Show me the AI"
        # (the marks are there from the start)
        assert critique.view().children[1] is question
        for n in range(len(question.pickers)):
            question.judge(n + 1, "true")  # every mark called a finding: the false ones are wrong
        monkeypatch.setenv(REFERENCES_ENV, str(tmp_path / "references"))
        first = grade("critique")
        right = len(critique.candidates()) - _false_marks(teaching)
        assert 0 < right < len(critique.candidates())
        assert first.points == round(5 * right / len(critique.candidates()), 2)
        assert "wrong-marks.png" in first.feedback.images
        assert list((references / ".prepared").glob("model.candidates-*/candidates.npz"))

        def no_model(volume):
            raise AssertionError("the model ran again")

        monkeypatch.setattr(ai_reading, "model_candidates", no_model)
        again = grade("critique")
        assert (again.points, again.feedback.lines) == (first.points, first.feedback.lines)
        # a second reading of the same CT, graded by name too, from the same prepared marks
        _yaml(references, teaching, "second-reader", "reader")
        spiculated = Point(tuple(_centre(teaching, "spiculated")))
        save_answer(
            Answer(teaching["volume"].series_uid, [spiculated], "reader", [spiculated]),
            learner / "reader.json",
        )
        reading = grade("reader")
        assert reading.points == 1.0 and reading.feedback.details["first_points"] == 1.0
        assert "readings.png" in reading.feedback.images


def test_the_class_view_says_who_followed_the_ai_when_it_was_wrong(teaching, tmp_path, capsys):
    from dicomteach.course.following import follow_the_ai
    from dicomteach.roi import load_structures

    course = tmp_path / "course"
    (course / "references" / "week-6").mkdir(parents=True)
    _yaml(course / "references" / "week-6", teaching, "second-reader", "reader")
    found = load_structures(teaching["folder"] / "seg-findings.dcm", teaching["volume"])
    granuloma = next(m for n, m in found.masks.items() if found.names[n] == NODULES[-1])
    on_granuloma = np.argwhere(granuloma).mean(axis=0)
    false, spiculated = _centre(teaching, "false"), _centre(teaching, "spiculated")
    uid = teaching["volume"].series_uid
    readings = {  # learner: (first reading, revised reading)
        "ann": ([], [false]),  # clicked the AI's false positive once shown it
        "bo": ([false], [false]),  # had clicked it before: not the AI's doing
        "cy": ([on_granuloma, spiculated], [spiculated]),  # dropped the granuloma it missed
    }
    for name, (first, then) in readings.items():
        folder = course / "submitted" / name / "week-6"
        folder.mkdir(parents=True)
        save_answer(
            Answer(
                uid, [Point(tuple(p)) for p in then], "reader", [Point(tuple(p)) for p in first]
            ),
            folder / "reader.json",
        )
    (following,) = follow_the_ai(course, "week-6")
    assert following.learners == ["ann", "bo", "cy"]
    # the AI's errors on this CT: its false marks, the first the one clicked above, then the
    # granuloma it missed (the key names its regions)
    false_marks = _false_marks(teaching)
    assert false_marks >= 1
    assert all(e.startswith("false positive, slice") for e in following.errors[:false_marks])
    assert following.errors[false_marks:] == ["missed: calcified-RML"]
    others = ["resisted"] * (false_marks - 1)  # its other false marks: nobody clicked them
    assert following.states == [
        ["followed", *others, "agreed"],
        ["agreed", *others, "agreed"],
        ["resisted", *others, "followed"],
    ]
    k = len(others)
    assert following.by_learner() == {
        "ann": 1 / (1 + k),
        "bo": 0.0 if k else None,
        "cy": 1 / (2 + k),
    }
    assert list(following.by_error().values()) == [0.5, *[0.0] * k, 1.0]
    picture = Image.open(io.BytesIO(following.png())).convert("RGB")
    assert picture.size[1] > 3 * 34  # a row per learner
    # the instructor's one command after a class draws it beside the gradebook
    from dicomteach.cli import main

    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    assert main(["grade-class", "week-6", "--course", str(course), "--no-autograde"]) == 0
    said = capsys.readouterr().out
    chances = 3 + 3 * k  # ann 1 + k, bo k, cy 2 + k
    share = f"{100 * 2 / chances:.0f} %"
    assert (
        f"reader: the class followed the AI when it was wrong 2 times of {chances} ({share})"
        in said
    )
    drawn = Image.open(course / "week-6-following-reader.png").convert("RGB")
    assert drawn.size == picture.size


class TestSecondOutline:
    def test_an_outline_revised_towards_the_ais_is_told_whether_that_was_right(self):
        from dicomteach.grading import Feedback, grade_second_outline

        ref = np.zeros((3, 30, 30), bool)
        ref[1, 10:20, 10:20] = True
        ai = np.zeros_like(ref)
        ai[1, 10:20, 11:20] = True
        wrong = np.zeros_like(ref)
        wrong[1, 2:8, 2:8] = True  # the AI's outline elsewhere
        small = np.zeros_like(ref)
        small[1, 12:17, 12:17] = True
        graded = Feedback(5.0, 10.0)
        right = grade_second_outline(graded, small, ai, ai, ref, (1, 1, 1))
        assert (right.details["followed_ai"], right.details["right"]) == (True, True)
        worse = grade_second_outline(graded, ref, small | wrong, wrong, ref, (1, 1, 1))
        assert (worse.details["followed_ai"], worse.details["right"]) == (True, False)
        assert "you followed the AI wrongly" in worse.lines[1]
        alone = grade_second_outline(graded, None, small, ai, ref, (1, 1, 1))
        assert "did not ask to see the AI" in alone.lines[0] and alone.points == 5.0

    def test_a_first_mask_of_another_shape_is_refused_before_it_is_read(self, tmp_path):
        from dicomteach.roi import DelineationAnswer, RoiError, load_delineation, save_delineation

        labels = np.zeros((2, 4, 4), np.uint8)
        path = save_delineation(
            DelineationAnswer(labels, (1.0, 1.0, 1.0), ("Nodule",), first_mask=labels[:1]),
            tmp_path / "outline.npz",
        )
        with pytest.raises(RoiError, match="'first_mask' of 1×4×4"):
            load_delineation(path)

    def test_with_the_model_the_first_outline_and_the_ais_come_back_after_a_restart(
        self, teaching, tmp_path, monkeypatch
    ):
        from dicomteach.activities import SecondReaderOutline

        monkeypatch.chdir(tmp_path)

        def activity():
            return SecondReaderOutline(
                "part-solid", teaching["volume"], prompt="Outline the part-solid nodule",
                points=10, structures=["Nodule"],
                reference=teaching["folder"] / "seg-findings.dcm",
                reference_structure=NODULES[1],
            )  # fmt: skip

        outline = activity()
        question = outline.question
        reference = outline._reference_mask()
        half = reference.copy()
        half[:, :, : int(np.argwhere(reference)[:, 2].mean())] = False  # half the nodule
        question.labels = half.astype(np.uint8)
        assert "other" not in question.layers
        assert outline.show_ai() == len(outline.candidates())
        assert "other" in question.layers
        question.labels = reference.astype(np.uint8)  # revised to the whole nodule
        feedback = outline.grade()
        assert feedback.points == 10.0
        assert feedback.details["first_dice"] < 0.8 < feedback.details["revised_dice"]
        assert feedback.details["followed_ai"] is True and feedback.details["right"] is True
        assert "outlines.png" in feedback.images
        again = activity().question
        assert np.array_equal(again.first_labels, half.astype(np.uint8))
        assert "other" in again.layers
