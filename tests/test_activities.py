"""dicomteach.activities: activity files, the widgets' answer files, graders that never raise.

A small CT series is written once per module (``write_ct_series``) with a
reference SEG on it; activities are read from YAML files beside it, answered
through their widgets as the browser would (state updates), and graded.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dicomteach.activities import (
    REFERENCES_ENV,
    Activity,
    ActivityError,
    Delineate,
    Hotspot,
    LabelDrop,
    MultipleChoice,
    grade,
)
from dicomteach.grading import Status
from dicomteach.io.volume import Volume
from dicomteach.widgets import CheckAnswer

SHAPE = (8, 40, 40)
SPACING = (2.5, 0.8, 0.8)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A CT series with a sphere of soft tissue in it, and the sphere as a reference SEG."""
    from dicomteach import io
    from dicomteach.io.writer import write_ct_series
    from dicomteach.roi import write_seg

    folder = tmp_path_factory.mktemp("study")
    z, y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1], 0 : SHAPE[2]]
    ball = ((z - 4) * 2.5) ** 2 + ((y - 20) * 0.8) ** 2 + ((x - 18) * 0.8) ** 2 <= 6.0**2
    hu = np.where(ball, 40.0, -800.0)
    write_ct_series(folder / "ct", hu, spacing=SPACING)
    volume = io.load(folder / "ct")
    write_seg({"Nodule": ball}, volume, folder / "seg-nodule.dcm")
    return {"folder": folder, "volume": volume, "ball": ball}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def notebook_folder(tmp_path, monkeypatch):
    folder = tmp_path / "assignment"
    folder.mkdir()
    monkeypatch.chdir(folder)  # a kernel runs in its notebook's folder
    return folder


def _delineate_yaml(study, name="nodule.yaml", extra=""):
    return _write(
        study["folder"] / name,
        "type: delineate\nstudy: ct\nprompt: Outline the nodule\npoints: 10\n"
        "structures: [Nodule]\nreference: seg-nodule.dcm\ntolerance_mm: 2\n" + extra,
    )


class TestActivityFiles:
    def test_a_delineation_is_read_from_its_file_with_paths_beside_it(self, study):
        nodule = Activity.load(_delineate_yaml(study))
        assert isinstance(nodule, Delineate)
        assert (nodule.name, nodule.points, nodule.tolerance_mm) == ("nodule", 10.0, 2.0)
        assert nodule.reference.resolve() == study["folder"] / "seg-nodule.dcm"
        assert nodule.volume.pixels.shape == SHAPE

    def test_saved_and_read_again_it_is_the_same_activity(self, study, tmp_path):
        nodule = Activity.load(_delineate_yaml(study))
        key = nodule.save(tmp_path / "key.yaml", reference=True)
        public = nodule.save(tmp_path / "public.yaml")
        assert "reference" in key.read_text() and "reference" not in public.read_text()
        again = Activity.load(key, name="nodule")
        assert again.to_dict(reference=True)["tolerance_mm"] == 2.0
        assert Activity.load(public, name="nodule").reference is None

    @pytest.mark.parametrize(
        "text, problem",
        [
            (
                "type: ruler\nprompt: x\n",
                r"'type' must be one of compare-findings, critique-ai, delineate, hotspot, labels",
            ),
            (
                "type: hotspot\nstudy: ct\nprompt: x\npenalty_per_extra_click: -1\n",
                r"'penalty_per_extra_click' must be ≥ 0, not -1",
            ),
            ("type: hotspot\nstudy: ct\nprompt: x\npoints: many\n", r"'points' must be a number"),
            (
                "type: hotspot\nstudy: ct\nprompt: x\ntolerence_mm: 3\n",
                r"'tolerence_mm' is not a key",
            ),
            ("type: hotspot\nstudy: ct\n", r"'prompt' is missing"),
            ("type: hotspot\nprompt: x\n", r"'study' is needed"),
            (
                "type: hotspot\nstudy: {sample: ct-chest, path: ../../etc}\nprompt: x\n",
                r"'path' must be a relative",
            ),
            (
                "type: hotspot\nstudy: ct\nprompt: x\nreference: {mass: {point: [1, 2]}}\n",
                r"needs 'radius_mm'",
            ),
            (
                "type: labels\nstudy: ct\nprompt: x\nlabels: [a, b]\nreference: {a: {point: [1, 2], radius_mm: 3}}\n",
                r"one region per label \(missing \['b'\]",
            ),
            (
                "type: multiple-choice\nprompt: x\noptions: [lung mass, normal]\nreference: effusion\n",
                r"'reference' must be one of the options",
            ),
            (
                "type: delineate\nstudy: ct\nprompt: x\nname: ../up\n",
                r"'name' must be letters, digits",
            ),
            ("version: 7\ntype: delineate\n", r"'version' 7 was written by a newer dicomteach"),
            (
                "type: delineate\nprompt: [unclosed\n",
                r"is not valid YAML at line 3 \(expected ',' or ']'",
            ),
            (
                "type: delineate\nstudy: ct\nprompt: x\nwindow: [40]\n",
                r"'window' must be a preset name",
            ),
        ],
    )
    def test_a_wrong_file_is_one_line_naming_the_file_and_the_key(self, tmp_path, text, problem):
        path = _write(tmp_path / "activity.yaml", text)
        with pytest.raises(
            ActivityError, match=rf"^{tmp_path}/activity\.yaml: .*{problem}"
        ) as info:
            Activity.load(path)
        assert "\n" not in str(info.value)

    def test_python_arguments_are_checked_with_the_argument_named(self, study):
        with pytest.raises(ValueError, match=r"^Argument 'points' must be > 0, not 0"):
            Hotspot("mass", study["volume"], prompt="Click", points=0)
        with pytest.raises(ValueError, match=r"^Argument 'labels' is needed"):
            LabelDrop("anatomy", study["volume"], prompt="Drag")

    def test_a_window_that_is_no_preset_is_named(self, study, notebook_folder):
        nodule = Activity.load(_delineate_yaml(study, extra="window: Sunset\n"))
        with pytest.raises(ActivityError, match=r"'window' 'Sunset' is not a preset of CT \(Brain"):
            nodule.question  # noqa: B018


class TestAnswersThroughTheWidgets:
    def test_a_delineation_is_saved_on_every_change_and_graded(self, study, notebook_folder):
        nodule = Activity.load(_delineate_yaml(study))
        assert not (notebook_folder / "nodule.npz").exists()
        nodule.question.labels = study["ball"].astype(np.uint8)
        assert (notebook_folder / "nodule.npz").is_file()
        feedback = nodule.grade()
        assert feedback.points == 10 and feedback.status is Status.GRADED
        assert "worst-slices.png" in feedback.images
        # the learner comes back: a new kernel finds the outline again
        again = Activity.load(_delineate_yaml(study))
        assert again.question.labels.sum() == study["ball"].sum()

    def test_with_its_reference_it_offers_check_my_answer(self, study, notebook_folder):
        nodule = Activity.load(_delineate_yaml(study))
        panel = next(c for c in nodule.view().children if isinstance(c, CheckAnswer))
        assert panel.button.disabled
        nodule.question.labels = np.roll(study["ball"], 3, axis=2).astype(np.uint8)
        result = panel.check()
        assert 0 < result.points < 10
        assert nodule.question._arrays.get("reference") is not None  # shown once checked

    def test_without_its_reference_it_says_the_answer_is_graded_after_submission(
        self, study, notebook_folder
    ):
        released = Activity.load(_delineate_yaml(study)).public()
        texts = [getattr(c, "value", "") for c in released.view().children]
        assert not any(isinstance(c, CheckAnswer) for c in released.view().children)
        assert any("nodule.npz" in t and "graded after you submit" in t for t in texts)
        assert released.grade().status is Status.GRADING_ERROR

    def test_clicks_labels_and_a_choice_are_saved_and_graded(self, study, notebook_folder):
        regions = "{point: [20, 18], slice: 5, radius_mm: 5}"
        mass = Hotspot(
            "mass",
            study["folder"] / "ct",
            prompt="Click it",
            points=2,
            reference={"nodule": {"point": [20, 18], "slice": 5, "radius_mm": 5}},
        )
        mass.question.set_state({"marks": [{"image": [4, 21, 18], "label": ""}]})
        assert json.loads((notebook_folder / "mass.json").read_text())["points"]
        assert mass.grade().points == 2
        labels = _write(
            study["folder"] / "anatomy.yaml",
            f"type: labels\nstudy: ct\nprompt: Name it\npoints: 2\nlabels: [nodule, lung]\n"
            f"reference: {{nodule: {regions}, lung: {{point: [5, 5], slice: 5, radius_mm: 3}}}}\n",
        )
        anatomy = Activity.load(labels)
        anatomy.question.set_state(
            {
                "marks": [
                    {"image": [4, 20, 18], "label": "nodule"},
                    {"image": [4, 20, 19], "label": "lung"},
                ]
            }
        )
        feedback = anatomy.grade()
        assert feedback.points == 1 and "✗ lung: your label is on the nodule" in feedback.lines[1]
        quiz = MultipleChoice(
            "finding",
            study["volume"],
            prompt="What is it?",
            options=["Nodule", "Normal"],
            reference="Nodule",
        )
        assert quiz.question.viewer is not None
        quiz.question.pick("Nodule")
        assert json.loads((notebook_folder / "finding.json").read_text())["choice"] == "Nodule"
        assert quiz.grade().points == 1
        assert (
            MultipleChoice(
                "finding", None, prompt="What is it?", options=["Nodule", "Normal"]
            ).question.choice
            == "Nodule"
        )

    def test_a_hotspot_file_with_a_penalty_takes_points_off_wasted_clicks(
        self, study, notebook_folder
    ):
        spots = _write(
            study["folder"] / "spots.yaml",
            "type: hotspot\nstudy: ct\nprompt: Click the nodule\npoints: 2\nclicks: 3\n"
            "penalty_per_extra_click: 0.5\n"
            "reference: {nodule: {point: [20, 18], slice: 5, radius_mm: 5}}\n",
        )
        activity = Activity.load(spots)
        assert activity.to_dict()["penalty_per_extra_click"] == 0.5
        assert activity.question.max_points == 3
        activity.question.set_state(
            {"marks": [{"image": [4, 20, 18], "label": ""}, {"image": [4, 5, 5], "label": ""}]}
        )
        feedback = activity.grade()
        assert feedback.points == 1.5 and feedback.lines[-1] == "1 click hit nothing: −0.5 points."


def _npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


class _Unpickled:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class TestHostileAnswers:
    """A bad answer file earns 0 points and one line saying why; nothing raises, no pickle loads."""

    @pytest.fixture
    def nodule(self, study, notebook_folder):
        return Activity.load(_delineate_yaml(study))

    def _zero(self, feedback, why: str) -> None:
        assert feedback.points == 0 and feedback.status is Status.INVALID_ANSWER, feedback
        assert len(feedback.lines) == 1 and why in feedback.lines[0], feedback.lines

    def test_wrong_shape(self, nodule, notebook_folder):
        _npz(
            notebook_folder / "nodule.npz",
            mask=np.ones((3, 4, 5), np.uint8),
            spacing=np.array(SPACING),
        )
        self._zero(nodule.grade(), "does not lie on the grid")

    def test_nan(self, nodule, notebook_folder):
        mask = np.zeros(SHAPE, float)
        mask[3] = np.nan
        _npz(notebook_folder / "nodule.npz", mask=mask, spacing=np.array(SPACING))
        self._zero(nodule.grade(), "nodule.npz")

    def test_an_array_declared_huge_is_refused_before_it_is_read(self, nodule, notebook_folder):
        path = notebook_folder / "nodule.npz"
        header = np.lib.format
        with zipfile.ZipFile(path, "w") as archive, archive.open("mask.npy", "w") as member:
            header.write_array_header_1_0(
                member, {"descr": "|u1", "fortran_order": False, "shape": (4000, 4000, 4000)}
            )
            member.write(b"\x00" * 64)
        self._zero(nodule.grade(), "could not be read")

    def test_a_pickle_is_never_loaded(self, nodule, notebook_folder):
        marker = notebook_folder / "PICKLE-LOADED"
        _npz(notebook_folder / "nodule.npz", mask=np.array([_Unpickled(marker)], dtype=object))
        self._zero(nodule.grade(), "could not be read")
        with pytest.warns(UserWarning, match="a pickle"):
            Activity.load(nodule.source).question  # noqa: B018 - the widget opens it too
        assert not marker.exists()

    def test_a_renamed_answer_file_is_not_graded_and_the_feedback_names_it(
        self, nodule, notebook_folder, study
    ):
        nodule.question.labels = study["ball"].astype(np.uint8)
        (notebook_folder / "nodule.npz").rename(notebook_folder / "my-final-Nodule.npz")
        self._zero(
            nodule.grade(),
            "Your answer file 'nodule.npz' was not found; 'my-final-Nodule.npz' beside the "
            "notebook is not graded: an answer file must keep the name the activity gives it.",
        )
        (notebook_folder / "my-final-Nodule.npz").unlink()
        self._zero(nodule.grade(), "Your delineation file 'nodule.npz' was not found")

    def test_where_nbgrader_runs_the_notebook_no_widget_is_built_and_no_file_moved(
        self, nodule, notebook_folder, monkeypatch
    ):
        _npz(notebook_folder / "nodule.npz", mask=np.ones((3, 4, 5), np.uint8), spacing=[1, 1, 1])
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
        bundle = nodule._repr_mimebundle_()
        assert set(bundle) == {"text/plain", "text/html"}  # no widget view
        assert "Graded from your answer file nodule.npz" in bundle["text/html"]
        assert nodule._volume is None and nodule._question is None  # the study is not read
        assert sorted(p.name for p in notebook_folder.iterdir()) == ["nodule.npz"]
        self._zero(nodule.grade(), "Your delineation file 'nodule.npz' does not lie on the grid")

    def test_a_file_the_widget_moved_aside_is_graded_with_its_reason(self, nodule, notebook_folder):
        _npz(
            notebook_folder / "nodule.npz",
            mask=np.ones((3, 4, 5), np.uint8),
            spacing=np.array(SPACING),
        )
        with pytest.warns(UserWarning, match="was not used"):
            Activity.load(nodule.source).question  # noqa: B018 - as a learner's kernel does
        assert not (notebook_folder / "nodule.npz").exists()
        self._zero(nodule.grade(), "does not lie on the grid")

    @pytest.mark.parametrize(
        "content, why",
        [
            (b"[" * 200_000, "nested too deeply"),
            (b" " * (2 * 1024 * 1024), "an answer is at most"),
            (
                b'{"version": 1, "series_uid": "x", "points": [{"image": [NaN, 1, 1]}]}',
                "3 finite numbers",
            ),
            (b"\xff\xfe not text", "not JSON"),
        ],
    )
    def test_click_answers(self, study, notebook_folder, content, why):
        (notebook_folder / "mass.json").write_bytes(content)
        mass = Hotspot(
            "mass",
            study["volume"],
            prompt="Click",
            reference={"m": {"point": [1, 1], "radius_mm": 2}},
        )
        self._zero(mass.grade(), why)

    def test_a_choice_that_is_not_an_option(self, notebook_folder):
        (notebook_folder / "finding.json").write_text('{"version": 1, "choice": "All of them"}')
        quiz = MultipleChoice("finding", prompt="?", options=["a", "b"], reference="a")
        feedback = quiz.grade()
        assert feedback.points == 0 and "is not one of the options" in feedback.lines[0]

    def test_a_broken_reference_is_the_instructors_problem(self, study, notebook_folder):
        text = _delineate_yaml(study).read_text().replace("seg-nodule.dcm", "missing-seg.dcm")
        nodule = Activity.load(_write(study["folder"] / "broken.yaml", text), name="nodule")
        nodule.question.labels = study["ball"].astype(np.uint8)
        feedback = nodule.grade()
        assert feedback.points == 0 and feedback.status is Status.GRADING_ERROR
        assert "not in your answer" in feedback.lines[0]


class TestGradeByName:
    @pytest.fixture
    def course(self, study, tmp_path, monkeypatch):
        references = tmp_path / "references" / "week-3"
        references.mkdir(parents=True)
        (references / "nodule.yaml").write_text(
            _delineate_yaml(study)
            .read_text()
            .replace("study: ct", f"study: {study['folder'] / 'ct'}")
            .replace(
                "reference: seg-nodule.dcm", f"reference: {study['folder'] / 'seg-nodule.dcm'}"
            )
        )
        learner = tmp_path / "week-3"
        learner.mkdir()
        monkeypatch.chdir(learner)
        return {"references": tmp_path / "references", "learner": learner}

    def test_in_a_learners_kernel_nothing_is_graded(self, course, monkeypatch, capsys):
        monkeypatch.delenv(REFERENCES_ENV, raising=False)
        result = grade("nodule")
        assert (result.graded, repr(result)) == (False, "0")
        assert "graded after you submit" in result._repr_html_()

    def test_with_the_course_it_grades_and_nbgrader_reads_the_points(
        self, course, study, monkeypatch, capsys
    ):
        monkeypatch.setenv(REFERENCES_ENV, str(course["references"]))
        Activity.load(course["references"] / "week-3" / "nodule.yaml").question.labels = study[
            "ball"
        ].astype(np.uint8)
        result = grade("nodule")
        assert repr(result) == "10"
        assert "Activity nodule" in result._repr_html_() and "<img" in result._repr_html_()
        assert capsys.readouterr().err == ""

    def test_a_missing_answer_is_zero_without_a_word_on_stderr(self, course, monkeypatch, capsys):
        monkeypatch.setenv(REFERENCES_ENV, str(course["references"]))
        (course["learner"] / "nodule.npz").write_bytes(b"PK\x03\x04 broken")
        result = grade("nodule")
        assert repr(result) == "0" and "could not be read" in result.feedback.lines[0]
        assert capsys.readouterr().err == ""

    @pytest.mark.parametrize("name", ["../week-3/nodule", "missing", 42])
    def test_an_unknown_name_is_a_grading_error_never_an_exception(self, course, monkeypatch, name):
        monkeypatch.setenv(REFERENCES_ENV, str(course["references"]))
        result = grade(name)
        assert repr(result) == "0" and result.feedback.status is Status.GRADING_ERROR


class TestPreparedForAClass:
    """grade("name") reads the study and the reference once for a class (activities/prepared.py)."""

    @pytest.fixture
    def key(self, study, tmp_path, monkeypatch):
        references = tmp_path / "references"
        key = references / "week-3" / "nodule.yaml"
        key.parent.mkdir(parents=True)
        key.write_text(
            _delineate_yaml(study)
            .read_text()
            .replace("study: ct", f"study: {study['folder'] / 'ct'}")
            .replace(
                "reference: seg-nodule.dcm", f"reference: {study['folder'] / 'seg-nodule.dcm'}"
            )
        )
        learner = tmp_path / "week-3"
        learner.mkdir()
        monkeypatch.chdir(learner)
        monkeypatch.setenv(REFERENCES_ENV, str(references))
        # a learner's outline 3.2 mm off: partial points, and a picture of the slices
        Activity.load(key).question.labels = np.roll(study["ball"], 4, axis=2).astype(np.uint8)
        return key

    @staticmethod
    def _entries(key: Path) -> list[str]:
        return sorted(p.name.rsplit("-", 1)[0] for p in (key.parent / ".prepared").iterdir())

    def test_read_once_they_grade_every_submission_alike_without_a_dicom_file(
        self, key, monkeypatch
    ):
        from dicomteach import io
        from dicomteach.roi import load

        unprepared = Activity.load(key).grade()
        first = grade("nodule").feedback
        assert self._entries(key) == ["nodule", "study"]

        def no_dicom(*args, **kwargs):
            raise AssertionError("a DICOM file was read")

        monkeypatch.setattr(io, "load", no_dicom)
        monkeypatch.setattr(load, "read_object", no_dicom)
        again = grade("nodule").feedback
        assert 0 < again.points < 10
        for feedback in (first, again):
            assert (feedback.points, feedback.lines) == (unprepared.points, unprepared.lines)
            assert feedback.images == unprepared.images  # the same pictures, byte for byte

    def test_a_changed_key_is_read_again_and_its_old_entry_goes(self, key):
        grade("nodule")
        before = sorted((key.parent / ".prepared").iterdir())
        key.write_text(key.read_text().replace("tolerance_mm: 2", "tolerance_mm: 3"))
        assert "at 3 mm" in grade("nodule").feedback.lines[0]
        after = sorted((key.parent / ".prepared").iterdir())
        assert self._entries(key) == ["nodule", "study"]
        assert after[0] != before[0] and after[1] == before[1]  # the study is still good

    def test_a_damaged_entry_is_made_again_and_an_unwritable_folder_costs_only_time(self, key):
        points = grade("nodule").points
        pixels = next((key.parent / ".prepared").glob("study-*/pixels.npy"))
        size = pixels.stat().st_size
        pixels.write_bytes(b"\x93NUMPY cut short")
        assert grade("nodule").points == points
        assert pixels.stat().st_size == size
        shutil.rmtree(key.parent / ".prepared")
        (key.parent / ".prepared").write_text("not a folder")
        assert grade("nodule").points == points


class TestExpertsPreparedForAClass:
    """Several experts' outlines are read, and their STAPLE spread computed, once for a class."""

    @pytest.fixture
    def key(self, study, tmp_path, monkeypatch):
        from dicomteach.roi import write_seg

        references = tmp_path / "references"
        key = references / "week-4" / "nodule.yaml"
        key.parent.mkdir(parents=True)
        experts = []
        for name, shift in (("a", 0), ("b", 1), ("c", -1)):  # three hands, a voxel apart
            path = key.parent / f"observer-{name}.dcm"
            write_seg({"Nodule": np.roll(study["ball"], shift, axis=2)}, study["volume"], path)
            experts.append(f"  - {path}\n")
        key.write_text(
            f"type: delineate\nstudy: {study['folder'] / 'ct'}\nprompt: Outline the nodule\n"
            "points: 10\nstructures: [Nodule]\ntolerance_mm: 2\nexperts:\n" + "".join(experts)
        )
        learner = tmp_path / "week-4"
        learner.mkdir()
        monkeypatch.chdir(learner)
        monkeypatch.setenv(REFERENCES_ENV, str(references))
        Activity.load(key).question.labels = np.roll(study["ball"], 4, axis=2).astype(np.uint8)
        return key

    def test_read_once_they_grade_alike_with_no_seg_decoded_and_no_staple_run(
        self, key, monkeypatch
    ):
        from dicomteach import io
        from dicomteach.roi import load
        from dicomteach.scoring import consensus

        unprepared = Activity.load(key).grade()
        first = grade("nodule").feedback
        assert sorted(p.name.rsplit("-", 1)[0] for p in (key.parent / ".prepared").iterdir()) == [
            "nodule",
            "study",
        ]

        def not_again(*args, **kwargs):
            raise AssertionError("read or computed again for a second learner")

        monkeypatch.setattr(io, "load", not_again)
        monkeypatch.setattr(load, "read_object", not_again)
        monkeypatch.setattr(consensus, "staple", not_again)
        again = grade("nodule").feedback
        assert "experts' consensus" in " ".join(again.lines)
        for feedback in (first, again):
            assert (feedback.points, feedback.lines) == (unprepared.points, unprepared.lines)
            assert feedback.details["experts"] == unprepared.details["experts"]
            assert feedback.images == unprepared.images


def test_an_activity_on_a_volume_in_memory_needs_no_file():
    volume = Volume(np.zeros((1, 20, 20), np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    spot = Hotspot("spot", volume, prompt="Click")
    assert spot.volume is volume
    with pytest.raises(ValueError, match="built on a Volume cannot be written"):
        spot.to_dict()


def test_several_structures_share_the_points_and_say_which_is_which(tmp_path):
    from dicomteach.roi import DelineationAnswer, save_delineation

    volume = Volume(np.zeros((6, 32, 32), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    key = np.zeros((6, 32, 32), np.uint8)
    key[1:4, 4:12, 4:12] = 1
    key[2:5, 18:28, 18:28] = 2
    reference = save_delineation(
        DelineationAnswer(key, (2.0, 1.0, 1.0), ("Tumour", "Node")), tmp_path / "key.npz"
    )
    outline = Delineate(
        "gtv",
        volume,
        prompt="Outline the tumour and the node",
        points=10,
        structures=["Tumour", "Node"],
        reference=reference,
        answer=tmp_path / "gtv.npz",
    )
    outline.question.labels = np.where(key == 1, 1, 0).astype(np.uint8)  # the node forgotten
    feedback = outline.grade()
    assert feedback.points == 5
    assert feedback.lines[0].startswith("Tumour: Dice 1.00")
    assert any(line.startswith("Node: ") and "empty" in line for line in feedback.lines)
    assert set(feedback.details["structures"]) == {"Tumour", "Node"}


def test_a_hotspot_takes_its_key_file_as_a_path_as_well_as_text(tmp_path):
    from dicomteach.roi import DelineationAnswer, save_delineation

    volume = Volume(np.zeros((4, 32, 32), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    key = np.zeros((4, 32, 32), np.uint8)
    key[:, 4:12, 20:28] = 1
    reference = save_delineation(
        DelineationAnswer(key, (2.0, 1.0, 1.0), ("Left lung",)), tmp_path / "key.npz"
    )
    for given in (reference, str(reference)):
        spot = Hotspot(
            "lung", volume, prompt="Click", reference=given, answer=tmp_path / "lung.json"
        )
        spot.question.marks = [{"image": [2, 8, 24], "label": ""}]
        assert spot.grade().points == 1.0
