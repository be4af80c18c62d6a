"""Hotspot and LabelDrop without a browser: what the browser's changes write to the answer file.

The browser sends ``marks`` as a state update; ``set_state`` is what ipywidgets
calls with it, so these tests take the same path as a click in JupyterLab.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from dicomteach import io
from dicomteach.grading import grade_click, grade_labels
from dicomteach.io.writer import write_ct_series
from dicomteach.roi import Answer, answer_from_points, load_answer, save_answer
from dicomteach.widgets import AnswerFileMovedWarning, Hotspot, LabelDrop


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct") / "ct"
    k, r, c = np.mgrid[0:6, 0:20, 0:16]
    write_ct_series(
        folder,
        (-1000 + 30 * c + 10 * r + 50 * k).astype(float),
        spacing=(2.5, 0.7, 0.9),
        origin=(-10.0, -20.0, -300.0),
    )
    volume = io.load(folder)
    assert volume.series_uid
    return volume


@pytest.fixture
def here(tmp_path, monkeypatch):
    """The notebook's folder: the kernel's working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def click(widget, *marks):
    """What the browser sends after the learner's gesture: the whole list of marks."""
    widget.set_state(
        {"marks": [{"image": list(m[:3]), "label": m[3] if len(m) > 3 else ""} for m in marks]}
    )


def read(path):
    return json.loads(path.read_text(encoding="utf-8"))


class TestHotspotAnswerFile:
    def test_a_click_writes_schema_v1_with_image_index_and_patient_mm(self, ct, here):
        spot = Hotspot(ct, prompt="Click the nodule", activity="nodule-1")
        assert not (here / "hotspot.json").exists()  # nothing until the learner answers
        click(spot, (3, 12.0, 7.5))
        data = read(here / "hotspot.json")
        assert data["version"] == 1
        assert data["series_uid"] == ct.series_uid
        assert data["activity"] == "nodule-1"
        (point,) = data["points"]
        assert point["image"] == [3.0, 12.0, 7.5]
        assert np.allclose(point["patient_mm"], ct.index_to_lps((3, 12.0, 7.5)), atol=1e-6)
        assert point["label"] == ""
        assert load_answer(here / "hotspot.json") == spot.answer
        assert spot.points[0].image == (3.0, 12.0, 7.5)
        assert spot.save_state["n"] == 1 and "hotspot.json" in spot.save_state["message"]
        # Written through a temporary file renamed into place: nothing else is left.
        assert sorted(p.name for p in here.iterdir()) == ["hotspot.json"]

    def test_moving_the_marker_rewrites_the_file(self, ct, here):
        spot = Hotspot(ct)
        click(spot, (3, 12, 7))
        click(spot, (3, 4, 9))
        assert [p["image"] for p in read(here / "hotspot.json")["points"]] == [[3.0, 4.0, 9.0]]
        assert spot.save_state["n"] == 2

    def test_removing_the_marker_saves_an_empty_answer(self, ct, here):
        spot = Hotspot(ct)
        click(spot, (3, 12, 7))
        spot.clear()
        assert read(here / "hotspot.json")["points"] == []

    def test_an_interrupted_save_keeps_the_previous_file_and_says_so(self, ct, here, monkeypatch):
        spot = Hotspot(ct)
        click(spot, (3, 12, 7))
        before = (here / "hotspot.json").read_bytes()

        def broken_replace(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", broken_replace)
        click(spot, (3, 1, 1))
        monkeypatch.undo()
        assert (here / "hotspot.json").read_bytes() == before
        assert sorted(p.name for p in here.iterdir()) == ["hotspot.json"]  # no .part left
        assert "could not be saved" in spot.save_state["error"]
        assert "No space left on device" in spot.save_state["error"]

    def test_coordinates_are_kept_on_the_image_and_junk_is_dropped(self, ct, here):
        spot = Hotspot(ct, max_points=3)
        spot.set_state(
            {
                "marks": [
                    {"image": [9, -3, 99.4], "label": "x"},
                    {"image": [1, "a", 2]},
                    {"image": [1.23456, 2, float("nan")]},
                    {"image": [1.23456, 2.0004, 3]},
                ]
            }
        )
        assert spot.marks == [
            {"image": [5.0, 0.0, 15.0], "label": ""},
            {"image": [1.235, 2.0, 3.0], "label": ""},
        ]
        assert [p["image"] for p in read(here / "hotspot.json")["points"]] == [
            [5.0, 0.0, 15.0],
            [1.235, 2.0, 3.0],
        ]

    def test_max_points_keeps_the_first_ones(self, ct, here):
        spot = Hotspot(ct, max_points=2)
        click(spot, (1, 1, 1), (2, 2, 2), (3, 3, 3))
        assert len(spot.marks) == 2
        assert len(read(here / "hotspot.json")["points"]) == 2

    def test_relative_answer_path_is_beside_the_notebook_even_after_chdir(
        self, ct, here, monkeypatch
    ):
        spot = Hotspot(ct, answer="q1/answer.json")
        monkeypatch.chdir(here.parent)
        click(spot, (0, 0, 0))
        assert (here / "q1" / "answer.json").exists()
        assert spot.answer_path == here / "q1" / "answer.json"


class TestReloadAndMismatch:
    def test_built_again_the_widget_shows_the_saved_answer_without_rewriting_it(self, ct, here):
        spot = Hotspot(ct, max_points=2, activity="a")
        click(spot, (3, 12, 7), (2, 5.5, 6.25))
        before = (here / "hotspot.json").read_bytes()
        mtime = (here / "hotspot.json").stat().st_mtime_ns
        again = Hotspot(ct, max_points=2, activity="a")  # kernel restart, re-run
        assert again.marks == spot.marks
        assert again.answer == spot.answer
        assert "loaded" in again.save_state["message"]
        assert (here / "hotspot.json").read_bytes() == before
        assert (here / "hotspot.json").stat().st_mtime_ns == mtime
        assert again.notice == ""

    def test_a_loaded_answer_opens_on_its_slice_unless_the_author_chose_one(self, ct, here):
        click(Hotspot(ct), (4, 12, 7))
        again = Hotspot(ct)  # opened in the middle (slice 3) it would hide the marker
        assert again.position == [4, 12, 7]
        assert Hotspot(ct, frame=1).position[0] == 1

    def test_a_file_of_another_series_is_moved_aside_with_a_warning(self, ct, here):
        other = Answer("1.2.3.4", answer_from_points(ct, [(1, 2, 3, "")]).points)
        save_answer(other, here / "hotspot.json")
        original = (here / "hotspot.json").read_bytes()
        with pytest.warns(AnswerFileMovedWarning, match="another series"):
            spot = Hotspot(ct)
        assert spot.marks == []
        moved = [p for p in here.iterdir() if p.name != "hotspot.json"]
        assert len(moved) == 1 and moved[0].name.startswith("hotspot.moved-")
        assert moved[0].suffix == ".json"
        assert moved[0].read_bytes() == original  # kept, not overwritten
        assert not (here / "hotspot.json").exists()
        assert moved[0].name in spot.notice and "another series" in spot.notice
        assert "\n" not in spot.notice
        click(spot, (0, 1, 1))
        assert read(here / "hotspot.json")["series_uid"] == ct.series_uid
        assert moved[0].read_bytes() == original

    def test_an_unreadable_file_is_moved_aside(self, ct, here):
        (here / "hotspot.json").write_text("{not json")
        with pytest.warns(AnswerFileMovedWarning, match="could not be read"):
            Hotspot(ct)
        (moved,) = [p for p in here.iterdir() if p.name.startswith("hotspot.moved-")]
        assert moved.read_text() == "{not json"

    def test_a_file_of_another_activity_is_moved_aside(self, ct, here):
        save_answer(answer_from_points(ct, [(1, 2, 3, "")], activity="old"), here / "x.json")
        with pytest.warns(AnswerFileMovedWarning, match="another activity"):
            Hotspot(ct, answer="x.json", activity="new")

    def test_a_file_with_more_points_than_allowed_is_moved_aside(self, ct, here):
        save_answer(answer_from_points(ct, [(1, 2, 3, ""), (1, 4, 4, "")]), here / "hotspot.json")
        with pytest.warns(AnswerFileMovedWarning, match="2 points"):
            Hotspot(ct, max_points=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            save_answer(
                answer_from_points(ct, [(1, 2, 3, ""), (1, 4, 4, "")]), here / "hotspot.json"
            )
            assert len(Hotspot(ct, max_points=2).marks) == 2

    def test_two_moves_in_the_same_second_keep_both_files(self, ct, here):
        for _ in range(2):
            (here / "hotspot.json").write_text("broken")
            with pytest.warns(AnswerFileMovedWarning):
                Hotspot(ct)
        assert len([p for p in here.iterdir() if p.name.startswith("hotspot.moved-")]) == 2

    def test_an_image_that_does_not_load_leaves_the_file_alone(self, ct, here):
        save_answer(answer_from_points(ct, [(1, 2, 3, "")]), here / "hotspot.json")
        before = (here / "hotspot.json").read_bytes()
        spot = Hotspot(here / "no-such-folder")
        assert spot.error.startswith("Could not load the image")
        assert spot.points == []
        assert (here / "hotspot.json").read_bytes() == before
        assert sorted(p.name for p in here.iterdir()) == ["hotspot.json"]


class TestLabelDrop:
    def test_dropped_labels_are_saved_with_their_names(self, ct, here):
        drop = LabelDrop(ct, ["aorta", "trachea", "oesophagus"], activity="mediastinum")
        click(drop, (2, 5, 6, "trachea"), (2, 10, 3.5, "aorta"))
        data = read(here / "labels.json")
        assert [(p["label"], p["image"]) for p in data["points"]] == [
            ("trachea", [2.0, 5.0, 6.0]),
            ("aorta", [2.0, 10.0, 3.5]),
        ]
        assert np.allclose(data["points"][1]["patient_mm"], ct.index_to_lps((2, 10, 3.5)))
        assert data["activity"] == "mediastinum"
        assert [p.label for p in drop.points] == ["trachea", "aorta"]
        assert [c["name"] for c in drop.choices] == ["aorta", "trachea", "oesophagus"]

    def test_each_label_is_placed_once_and_unknown_labels_are_dropped(self, ct, here):
        drop = LabelDrop(ct, ["aorta", "trachea"])
        click(drop, (2, 5, 6, "aorta"), (2, 6, 6, "aorta"), (2, 7, 7, "spleen"))
        assert drop.marks == [{"image": [2.0, 5.0, 6.0], "label": "aorta"}]

    def test_max_per_label_none_allows_repeats(self, ct, here):
        drop = LabelDrop(ct, ["rib"], max_per_label=None)
        click(drop, *[(2, r, 3, "rib") for r in range(5)])
        assert len(read(here / "labels.json")["points"]) == 5

    def test_taking_a_label_back_removes_it_from_the_file(self, ct, here):
        drop = LabelDrop(ct, ["aorta", "trachea"])
        click(drop, (2, 5, 6, "aorta"), (2, 6, 6, "trachea"))
        click(drop, (2, 6, 6, "trachea"))
        assert [p["label"] for p in read(here / "labels.json")["points"]] == ["trachea"]

    def test_reload_and_a_file_with_foreign_labels_is_moved_aside(self, ct, here):
        drop = LabelDrop(ct, ["aorta", "trachea"])
        click(drop, (2, 5, 6, "aorta"))
        assert LabelDrop(ct, ["aorta", "trachea"]).marks == drop.marks
        with pytest.warns(AnswerFileMovedWarning, match="labels this question does not have"):
            LabelDrop(ct, ["liver"])
        save_answer(
            answer_from_points(ct, [(1, 1, 1, "aorta"), (1, 2, 2, "aorta")]),
            here / "labels.json",
        )
        with pytest.warns(AnswerFileMovedWarning, match="'aorta' 2 times"):
            LabelDrop(ct, ["aorta"])


class TestArguments:
    @pytest.mark.parametrize(
        ("make", "message"),
        [
            (lambda v: Hotspot(v, max_points=0), "Argument 'max_points' must be a whole number"),
            (lambda v: Hotspot(v, max_points=1.5), "Argument 'max_points'"),
            (lambda v: Hotspot(v, max_points=True), "Argument 'max_points'"),
            (lambda v: Hotspot(v, answer="answer.txt"), "Argument 'answer' must name a .json"),
            (lambda v: Hotspot(v, answer=""), "Argument 'answer' must be the path"),
            (lambda v: Hotspot(v, answer=None), "Argument 'answer' must be the path"),
            (lambda v: Hotspot(v, prompt=3), "Argument 'prompt' must be a string"),
            (lambda v: Hotspot(v, activity=None), "Argument 'activity' must be a string"),
            (lambda v: Hotspot(v, frame=99), "Argument 'frame' must be in 0..5"),
            (lambda v: LabelDrop(v, []), "Argument 'labels' must be a non-empty list"),
            (lambda v: LabelDrop(v, "aorta"), "Argument 'labels' must be a non-empty list"),
            (lambda v: LabelDrop(v, ["aorta", " "]), "Argument 'labels' must hold non-empty"),
            (lambda v: LabelDrop(v, ["Aorta", "aorta"]), "Argument 'labels' holds 'aorta' twice"),
            (lambda v: LabelDrop(v, ["a"], max_per_label=0), "Argument 'max_per_label'"),
        ],
    )
    def test_bad_arguments_raise_one_line_value_errors(self, ct, here, make, message):
        with pytest.raises(ValueError, match=message) as info:
            make(ct)
        assert "\n" not in str(info.value)

    def test_an_answer_path_that_is_a_folder_is_refused(self, ct, here):
        (here / "a.json").mkdir()
        with pytest.raises(ValueError, match="is a folder"):
            Hotspot(ct, answer="a.json")


class TestGradersTakeWhatTheWidgetsWrite:
    def test_grade_click_on_the_saved_file_and_on_the_answer(self, ct, here):
        nodule = np.zeros(ct.pixels.shape, bool)
        nodule[3, 10:14, 5:9] = True
        spot = Hotspot(ct)
        click(spot, (3, 12, 7))
        for answer in (here / "hotspot.json", spot.answer):
            right = grade_click(answer, {"nodule": nodule}, ct.spacing, points=2, tolerance_mm=2)
            assert right.points == right.max_points == 2, right.lines
        click(spot, (3, 2, 14))
        wrong = grade_click(here / "hotspot.json", {"nodule": nodule}, ct.spacing, 2, 2)
        assert wrong.points == 0, wrong.lines
        assert "mm from it" in wrong.lines[0]

    def test_grade_labels_on_the_saved_file(self, ct, here):
        aorta = np.zeros(ct.pixels.shape, bool)
        aorta[2, 2:6, 2:6] = True
        trachea = np.zeros(ct.pixels.shape, bool)
        trachea[2, 12:16, 10:14] = True
        structures = {"aorta": aorta, "trachea": trachea}
        drop = LabelDrop(ct, ["aorta", "trachea"])
        click(drop, (2, 3, 3, "aorta"), (2, 14, 11.5, "trachea"))
        right = grade_labels(here / "labels.json", structures, ct.spacing, points=2)
        assert right.points == 2, right.lines
        click(drop, (2, 14, 11, "aorta"), (2, 3, 3, "trachea"))  # swapped
        wrong = grade_labels(drop.answer, structures, ct.spacing, points=2)
        assert wrong.points == 0, wrong.lines
        assert "your label is on the trachea" in wrong.lines[0]
