"""The triage worklist: cases in the AI's order or as they came, read in turn, graded.

The grading (misses, false alarms, the first true positive's time and rank,
whether the AI's flagged cases were read first, the picture) and the answer
file are pinned on small values; the activity runs the real triage model on
four held-out films (two patients of ``ai/films.py``, each without and with
findings, written as DICOM once for the module), from YAML, through its
widget as a click does, and through ``grade("name")`` with the scores
prepared once beside the key.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from dicomteach.activities.worklist import (
    Event,
    WorklistAnswer,
    load_worklist_answer,
    save_worklist_answer,
)
from dicomteach.grading import Status, grade_worklist
from dicomteach.grading.render import REFERENCE
from dicomteach.grading.worklist import ROW_PX, UNREAD, WRONG, Read, WorklistCase
from dicomteach.roi.errors import AnswerError

# arrival order A…D; the AI flags B and D; B and C are abnormal (C a miss of the AI's)
CASES = [
    WorklistCase("Case A", False, 0.05, False),
    WorklistCase("Case B", True, 0.92, True),
    WorklistCase("Case C", True, 0.20, False),
    WorklistCase("Case D", False, 0.71, True),
]
AI_ORDER = [1, 3, 2, 0]


class TestGradeWorklist:
    def test_misses_false_alarms_and_the_first_true_positive(self):
        reads = {
            "Case A": Read(0.0, "normal", 30.0),  # read first, though the AI scored it lowest
            "Case D": Read(32.0, "abnormal", 50.0),  # a false alarm the AI shared
            "Case B": Read(55.0, "abnormal", 81.5),
            # Case C never opened: a miss
        }
        f = grade_worklist(CASES, reads, AI_ORDER, points=4)
        assert f.status == Status.GRADED and f.points == 2.0
        assert "✗ Case C (AI 20 %): abnormal; you never read it: a miss." in f.lines
        assert "Misses: 1 of 2 abnormal cases (Case C)." in f.lines
        assert "False alarms: 1 (Case D)." in f.lines
        assert (
            "Your first true positive was Case B, the 3rd case you opened, called abnormal "
            "at 1 min 22 s." in f.lines
        )
        assert any(
            line.startswith(
                "You read the AI's flagged cases (Case B and Case D) before the "
                "others in 50 % of pairs"
            )
            for line in f.lines
        )
        assert (
            "Read in the AI's order, the first abnormal case would have been the 1st opened."
            in f.lines
        )
        d = f.details
        assert d["opened"] == ["Case A", "Case D", "Case B"]
        assert d["first_true_positive"] == {"case": "Case B", "seconds": 81.5, "rank": 3}
        assert d["misses"] == ["Case C"] and d["false_alarms"] == ["Case D"]
        assert d["flagged_first"] == 0.5

    def test_arrival_order_hides_the_scores_and_a_reader_of_flagged_cases_first_is_told(self):
        reads = {
            "Case B": Read(0.0, "abnormal", 12.0),
            "Case D": Read(14.0, "normal", 20.0),
            "Case C": Read(25.0, "normal", 40.0),  # called normal: a miss
            "Case A": Read(41.0, None, None),  # opened, no verdict
        }
        f = grade_worklist(CASES, reads, [0, 1, 2, 3], points=4, scores_shown=False)
        assert f.points == 2.0
        assert "✗ Case A: normal; you gave no verdict." in f.lines
        assert "✗ Case C: abnormal; you called it normal: a miss." in f.lines
        assert not any("AI 92 %" in line for line in f.lines)
        assert f.details["flagged_first"] == 1.0
        assert any(
            line.startswith(
                "You read the AI's flagged cases (Case B and Case D) before the others."
            )
            for line in f.lines
        )
        assert f.details["first_true_positive"]["rank"] == 1

    def test_nothing_read_gets_no_points_and_every_abnormal_case_is_a_miss(self):
        f = grade_worklist(CASES, {}, AI_ORDER, points=4)
        assert f.points == 0.0 and f.details["misses"] == ["Case B", "Case C"]
        assert "You called no abnormal case abnormal: no true positive." in f.lines

    def test_an_answer_naming_cases_the_worklist_lacks_is_refused_in_one_line(self):
        f = grade_worklist(CASES, {"Case Q": Read(0.0, "normal", 1.0)}, AI_ORDER, points=4)
        assert f.points == 0.0 and f.status == Status.INVALID_ANSWER
        assert f.lines == [
            "Your answer names cases this worklist does not have (Case Q): answer again in "
            "the activity."
        ]

    def test_the_picture_colours_each_verdict_in_its_row(self):
        reads = {"Case B": Read(0.0, "abnormal", 5.0), "Case D": Read(6.0, "abnormal", 9.0)}
        png = grade_worklist(CASES, reads, AI_ORDER, points=4).images["worklist.png"]
        picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        # the verdict's box, one row a case in the order shown: B right, D wrong, C and A unread
        x = 8 + 56 + 8 + 360 + 40
        colours = [tuple(picture[30 + r * ROW_PX + ROW_PX // 2 - 10, x]) for r in range(4)]
        assert colours == [REFERENCE, WRONG, UNREAD, UNREAD]


class TestAnswerFile:
    def test_written_and_read_back(self, tmp_path):
        answer = WorklistAnswer(
            "triage",
            "ai",
            ["Case B", "Case A"],
            [Event(0.0, "Case B", "open"), Event(4.25, "Case B", "abnormal")],
        )
        save_worklist_answer(tmp_path / "triage.json", answer)
        assert load_worklist_answer(tmp_path / "triage.json") == answer
        assert answer.reads() == {"Case B": Read(0.0, "abnormal", 4.25)}

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"version": 2}, "version 2 was written by a newer dicomteach (this one reads 1)"),
            ({"shown": "Case A"}, "'shown' must be a list of case labels"),
            (
                {"events": [{"t": 1, "case": "Case Z", "event": "open"}]},
                "events[0].case must be one of 'shown', not 'Case Z'",
            ),
            (
                {"events": [{"t": -1, "case": "Case A", "event": "open"}]},
                "events[0].t must be seconds (0 or more), not -1.0",
            ),
            (
                {"events": [{"t": 1, "case": "Case A", "event": "maybe"}]},
                "events[0].event must be one of open, abnormal, normal",
            ),
            ({"events": [{"case": "Case A"}]}, "events[0] must have 't', 'case' and 'event'"),
        ],
    )
    def test_a_bad_file_is_refused_in_one_line(self, tmp_path, change, problem):
        data = {"version": 1, "activity": "t", "order": "ai", "shown": ["Case A"], "events": []}
        path = tmp_path / "t.json"
        path.write_text(json.dumps({**data, **change}))
        with pytest.raises(AnswerError) as raised:
            load_worklist_answer(path)
        assert raised.value.problem == problem


# ---------------------------------------------------------------------- on the model's own scores


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    """Four held-out films as DICOM (two patients, each normal and abnormal), and their truth,
    written by ``film_folder`` as the lessons' are."""
    pytest.importorskip("onnxruntime")
    from dicomteach.ai.film_cases import film_folder, read_truth

    folder = tmp_path_factory.mktemp("worklist-films")
    made = []
    for number in (0, 1):
        patient = film_folder(number, root=folder)
        for film in read_truth(patient)["films"].values():
            made.append((f"{patient.name}/{film['file']}", film["holds_lesion"]))
    # arrival: patient 0 normal, patient 1 abnormal, patient 1 normal, patient 0 abnormal
    order = [made[0], made[3], made[2], made[1]]
    return folder, [name for name, _ in order], ["abnormal" if a else "normal" for _, a in order]


def test_film_folder_writes_a_patients_films_once_with_what_each_holds(films):
    from dicomteach import io
    from dicomteach.ai.film_cases import film_folder, read_truth

    source, cases, _ = films
    patient = source / cases[0].split("/")[0]
    written = {p.name: p.stat().st_mtime_ns for p in patient.iterdir()}
    assert film_folder(0, root=source) == patient  # found again, not written again
    assert {p.name: p.stat().st_mtime_ns for p in patient.iterdir()} == written
    truth = read_truth(patient)
    assert truth["patient"] == "held-out-000"
    normal, abnormal = truth["films"]["normal"], truth["films"]["abnormal"]
    assert not normal["holds_lesion"] and normal["lesions"] == []
    assert abnormal["holds_lesion"] and abnormal["lesions"]
    film = io.load(patient / abnormal["file"])
    assert film.modality == "DX" and film.pixels.shape[-2:] == (2600, 2330)
    for lesion in abnormal["lesions"]:
        row, col = lesion["pixel"]
        assert 0 <= row < 2600 and 0 <= col < 2330 and lesion["diameter_mm"] > 0
    with pytest.raises(ValueError, match="Argument 'number' must be a whole number"):
        film_folder(-1, root=source)


def _yaml(folder, films, name="triage", order="ai"):
    source, cases, truth = films
    lines = [
        "type: worklist",
        f"name: {name}",
        "prompt: Say of each film whether it holds a nodule or a mass.",
        "points: 4",
        f"order: {order}",
        "cases: [" + ", ".join(str(source / c) for c in cases) + "]",
        "reference: [" + ", ".join(truth) + "]",
    ]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class TestWorklist:
    def test_the_scores_are_the_models_and_order_the_worklist(self, films, tmp_path):
        from dicomteach.activities import Activity
        from dicomteach.ai import triage_radiograph

        source, cases, truth = films
        assert truth == ["normal", "abnormal", "normal", "abnormal"]
        worklist = Activity.load(_yaml(tmp_path, films), answer=tmp_path / "t.json")
        scores = worklist.scores()
        assert scores[1] == (pytest.approx(triage_radiograph(source / cases[1]).score), True)
        abnormal = [s for (s, _), t in zip(scores, truth, strict=True) if t == "abnormal"]
        normal = [s for (s, _), t in zip(scores, truth, strict=True) if t == "normal"]
        assert min(abnormal) > max(normal)  # these two patients the model reads rightly
        assert worklist.shown() == sorted(range(4), key=lambda n: -scores[n][0])
        assert set(worklist.shown()[:2]) == {1, 3}
        arrival = Activity.load(_yaml(tmp_path, films, "arrival", "arrival"))
        assert arrival.shown() == [0, 1, 2, 3]

    def test_the_widget_logs_each_open_and_verdict_and_reads_them_back(self, films, tmp_path):
        from dicomteach.activities import Activity

        key = _yaml(tmp_path, films)
        worklist = Activity.load(key, answer=tmp_path / "triage.json")
        question = worklist.question
        first, second = (worklist.labels[n] for n in worklist.shown()[:2])
        assert all(p.disabled for p in question.pickers.values())  # read before a verdict
        question.open_case(first)
        assert question.viewer is not None and not question.pickers[first].disabled
        saved = load_worklist_answer(tmp_path / "triage.json")
        assert saved.shown == [worklist.labels[n] for n in worklist.shown()]
        assert [(e.case, e.event) for e in saved.events] == [(first, "open")]
        question.give(first, "abnormal")
        question.open_case(second)
        question.give(second, "normal")
        saved = load_worklist_answer(tmp_path / "triage.json")
        assert [(e.case, e.event) for e in saved.events] == [
            (first, "open"),
            (first, "abnormal"),
            (second, "open"),
            (second, "normal"),
        ]
        times = [e.t for e in saved.events]
        assert times[0] == 0.0 and times == sorted(times)
        # a kernel started again: the verdicts come back and the clock goes on
        again = Activity.load(key, answer=tmp_path / "triage.json").question
        assert again.verdicts == {first: "abnormal", second: "normal"}
        assert again.pickers[first].value == "abnormal" and not again.pickers[first].disabled
        third = worklist.labels[worklist.shown()[2]]
        again.open_case(third)
        last = load_worklist_answer(tmp_path / "triage.json").events[-1]
        assert last.case == third and last.t >= times[-1]
        feedback = worklist.grade()
        assert feedback.points == 1.0  # of 4: the first right, the second a miss, two unjudged
        assert feedback.details["first_true_positive"]["rank"] == 1

    def test_another_activitys_file_is_moved_aside_not_overwritten(self, films, tmp_path):
        from dicomteach.activities import Activity

        path = tmp_path / "triage.json"
        save_worklist_answer(path, WorklistAnswer("other", "ai", ["Case A"], []))
        with pytest.warns(UserWarning):
            question = Activity.load(_yaml(tmp_path, films), answer=path).question
        moved = list(tmp_path.glob("triage.moved-*.json"))
        assert len(moved) == 1 and json.loads(moved[0].read_text())["activity"] == "other"
        assert "not used" in question.status.value

    def test_graded_by_name_the_model_runs_once_for_the_class(self, films, tmp_path, monkeypatch):
        from dicomteach.activities import REFERENCES_ENV, grade, worklist

        references = tmp_path / "references" / "week-7"
        references.mkdir(parents=True)
        _yaml(references, films)
        learner = tmp_path / "week-7"
        learner.mkdir()
        save_worklist_answer(
            learner / "triage.json",
            WorklistAnswer(
                "triage",
                "ai",
                ["Case D", "Case B", "Case C", "Case A"],
                [
                    Event(0.0, "Case D", "open"),
                    Event(9.0, "Case D", "abnormal"),
                    Event(10.0, "Case B", "open"),
                    Event(30.0, "Case B", "normal"),
                    Event(31.0, "Case A", "open"),
                    Event(40.0, "Case A", "normal"),
                ],
            ),
        )
        monkeypatch.chdir(learner)
        monkeypatch.setenv(REFERENCES_ENV, str(tmp_path / "references"))
        first = grade("triage")
        assert first.points == 2.0
        assert first.feedback.details["misses"] == ["Case B"]
        assert "worklist.png" in first.feedback.images
        assert list((references / ".prepared").glob("triage-*/worklist.npz"))

        def no_model(volume):
            raise AssertionError("the model ran again")

        monkeypatch.setattr(worklist, "case_score", no_model)
        monkeypatch.setattr(worklist, "thumbnail", no_model)
        again = grade("triage")
        assert (again.points, again.feedback.lines) == (first.points, first.feedback.lines)

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            (
                "reference: [normal]",
                "'reference' must say 'abnormal' or 'normal' for each of the 4 cases, in order",
            ),
            ("order: score", "'order' must be 'ai' or 'arrival', not 'score'"),
            ("study: a.dcm", "'study' is not used by a worklist: list its studies under 'cases'"),
        ],
    )
    def test_a_bad_activity_file_is_refused_in_one_line(self, films, tmp_path, change, problem):
        from dicomteach.activities import Activity, ActivityError

        key = _yaml(tmp_path, films)
        kept = [
            line
            for line in key.read_text().splitlines()
            if not line.startswith(change.split(":")[0])
        ]
        key.write_text("\n".join([*kept, change]) + "\n")
        with pytest.raises(ActivityError) as raised:
            Activity.load(key)
        assert str(raised.value) == f"{key}: {problem}"


def test_a_ct_is_scored_by_its_most_probable_nodule_candidate():
    """Two CTs made in memory (no series UID: each is scored on its own), lungs in soft tissue,
    one with a 9 mm ball in the left of them."""
    pytest.importorskip("onnxruntime")
    from dicomteach.activities.worklist import case_score, thumbnail
    from dicomteach.io.volume import FrameAxis, Volume

    def ct(ball: bool) -> Volume:
        pixels = np.full((20, 128, 128), 40, np.int16)
        pixels[:, 20:108, 15:60] = pixels[:, 20:108, 68:113] = -850
        z, y, x = np.mgrid[:20, :128, :128]
        if ball:
            pixels[(z - 10) ** 2 * 6.25 + (y - 60) ** 2 * 4 + (x - 40) ** 2 * 4 < 81] = 30
        pixels += np.random.default_rng(0).normal(0, 15, pixels.shape).astype(np.int16)
        axial = np.array([[0, 0, 1.0], [1, 0, 0], [0, 1, 0]])
        return Volume(
            pixels,
            (2.5, 2.0, 2.0),
            (0.0, 0.0, 0.0),
            axial,
            modality="CT",
            frame_axis=FrameAxis.SLICE,
        )

    clear, nodule = case_score(ct(False)), case_score(ct(True))
    assert clear[1] is False and nodule[1] is True and nodule[0] > clear[0]
    assert thumbnail(ct(True)).shape == (96, 96)
