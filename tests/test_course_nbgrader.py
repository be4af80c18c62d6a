"""The course in graders/ through the real nbgrader loop, as a class would live it.

One copy of the course is built per module: the instructor generates and
releases both assignments to the course's exchange; four learners fetch them,
answer by working the activities of the released notebooks (whose widgets
write the answer files), and submit; the instructor collects, autogrades,
generates feedback and exports the gradebook. Then each test checks one thing
a learner or an instructor would notice. nbgrader is driven through its
Python API (a command costs about 4 s of start-up each); nbgrader runs
``alembic`` from PATH, so the venv's ``bin`` goes first on it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nbgrader")

from dicomteach.activities import REFERENCES_ENV, Activity  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRADERS = ROOT / "graders"
ASSIGNMENTS = ("ct-nodule", "cr-quiz")
#: What nbgrader makes in a course folder: never copied from the repository's course.
MADE_BY_NBGRADER = ("release", "submitted", "autograded", "feedback", "exchange", "gradebook.db*")
MADE_BY_NBGRADER += (".prepared",)  # made by grade(), beside the keys

LEARNERS = ("alice", "bob", "carol", "mallory")
"""alice answers well, bob poorly, carol not at all, mallory hands in hostile files."""

MISBEHAVING = {
    "dave": ("ct-nodule",),  # answers as bob, and edits the grading cell to claim 10 points
    "erin": ASSIGNMENTS,  # deletes a grading cell: the nodule's (answers as bob), the labels'
    "frank": ASSIGNMENTS,  # renames an answer file: 'my nodule.npz', 'Finding (1).json'
    "grace": ("ct-nodule",),  # an outline on a 10×20×20 grid
    "heidi": ("ct-nodule",),  # an outline whose header declares 39 TB
    "ivan": ("ct-nodule",),  # an outline of floats, NaN outside the nodule
    "judy": ("cr-quiz",),  # a click file cut short (not JSON)
    "kim": ("ct-nodule",),  # alice's outline from another tool, its structure named 'Lesion'
}
"""Learners who do what a grader must survive: each gets what their answer files earn, or 0
and a line saying why, and never what an edited cell claims."""

WORK = {**dict.fromkeys(LEARNERS, ASSIGNMENTS), **MISBEHAVING}
"""Which assignments each learner hands in."""


def _who_did(assignment: str) -> list[str]:
    return [learner for learner, done in WORK.items() if assignment in done]


pytestmark = [
    pytest.mark.slow,
    # nbgrader 0.9.6's own gradebook code, on SQLAlchemy 2: harmless, not ours
    pytest.mark.filterwarnings("ignore:Object of type .* not in session"),
]


class _Unpickled:
    """Unpickling this touches a file: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def _check(result: dict, what: str) -> None:
    assert result["success"], f"{what} failed:\n{result.get('error')}\n{result.get('log')}"


def _exchange(api, config, step: str, assignment: str, student: str, folder: Path) -> None:
    """A learner's fetch or submit, through nbgrader's own exchange classes."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    coursedir.student_id = student
    app = getattr(api.exchange, step)(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config
    )
    app.assignment_dir = str(folder)
    app.start()


def _run_released_cells(notebook: Path) -> dict[str, Activity]:
    """Run the code cells a learner runs (not the graded ones) here; the activities they make."""
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict = {}
    for cell in cells:
        if cell["cell_type"] != "code" or cell["metadata"].get("nbgrader", {}).get("grade"):
            continue
        exec(compile("".join(cell["source"]), str(notebook), "exec"), namespace)
    return {a.name: a for a in namespace.values() if isinstance(a, Activity)}


def _key(assignment: str, name: str) -> Activity:
    return Activity.load(GRADERS / "references" / assignment / f"{name}.yaml")


def _reference_nodule(activity: Activity) -> np.ndarray:
    """The nodule as the sample drew it (its reference SEG): not one of the experts' outlines."""
    from dicomteach.roi import load_structures

    key = _key("ct-nodule", "nodule")
    found = load_structures(key.study.resolve().parent / "seg-nodule.dcm", image=activity.volume)
    return next(iter(found.masks.values())).astype(np.uint8)


def _declared_huge(path: Path, spacing) -> None:
    """A .npz whose mask header declares 60000×25600×25600 bytes and holds a kilobyte."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("mask.npy", "w") as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "|u1", "fortran_order": False, "shape": (60000, 25600, 25600)}
            )
            member.write(b"\x00" * 1024)
        with archive.open("spacing.npy", "w") as member:
            np.lib.format.write_array(member, np.asarray(spacing, float))


def _answer_ct(learner: str, nodule: Activity, folder: Path) -> None:
    if learner in ("alice",):
        nodule.question.labels = _reference_nodule(nodule)
    elif learner in ("bob", "dave", "erin"):  # the right place, 4 pixels (5.6 mm) to one side
        nodule.question.labels = np.roll(_reference_nodule(nodule), 4, axis=2)
    elif learner == "mallory":  # a pickle where the label map should be
        with open(folder / "nodule.npz", "wb") as fh:
            np.savez(fh, mask=np.array([_Unpickled(folder / "PICKLE-LOADED")], dtype=object))
    elif learner == "frank":
        nodule.question.labels = _reference_nodule(nodule)
        (folder / "nodule.npz").rename(folder / "my nodule.npz")
    elif learner == "grace":
        np.savez(folder / "nodule.npz", mask=np.ones((10, 20, 20), np.uint8), spacing=[1, 1, 1])
    elif learner == "heidi":
        _declared_huge(folder / "nodule.npz", nodule.volume.spacing)
    elif learner == "ivan":
        mask = np.where(_reference_nodule(nodule) > 0, 1.0, np.nan)
        np.savez(folder / "nodule.npz", mask=mask, spacing=nodule.volume.spacing)
    elif learner == "kim":
        from dicomteach.roi import DelineationAnswer, save_delineation

        outline = DelineationAnswer(_reference_nodule(nodule), nodule.volume.spacing, ("Lesion",))
        save_delineation(outline, folder / "nodule.npz")


def _misbehave(learner: str, assignment: str, notebook: Path) -> None:
    """What a learner does to the notebook itself: edit or delete a grading cell."""
    cells = json.loads(notebook.read_text())
    graded = [c for c in cells["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    if learner == "dave":
        graded[0]["source"] = "10  # claimed"
    elif learner == "erin":
        cells["cells"].remove(graded[0] if assignment == "ct-nodule" else graded[1])
    notebook.write_text(json.dumps(cells))


def _key_point(name: str, region: str) -> list[float]:
    key = _key("cr-quiz", name)
    found = next(r for r in key.reference if r.name == region)
    return [0.0, *found.coordinates[0]]


def _answer_quiz(learner: str, activities: dict[str, Activity], folder: Path) -> None:
    mass, anatomy, finding = (activities[n] for n in ("mass", "anatomy", "finding"))
    labels = ["right hilum", "left hilum", "heart", "gastric bubble", "right hemidiaphragm"]
    if learner in ("alice", "erin", "frank", "judy"):
        mass.question.marks = [{"image": _key_point("mass", "mass"), "label": ""}]
        anatomy.question.marks = [
            {"image": _key_point("anatomy", name), "label": name} for name in labels
        ]
        finding.question.pick("Nodule in the right upper zone")
    elif learner == "bob":  # the other lung; two labels right, three swapped; the wrong finding
        row, col = _key_point("mass", "mass")[1:]
        mass.question.marks = [{"image": [0.0, row, 2330 - col], "label": ""}]
        dropped_at = {  # right hilum and heart right, two swapped, one never placed
            "right hilum": "right hilum",
            "heart": "heart",
            "left hilum": "gastric bubble",
            "gastric bubble": "left hilum",
        }
        anatomy.question.marks = [
            {"image": _key_point("anatomy", at), "label": name} for name, at in dropped_at.items()
        ]
        finding.question.pick("Right pneumothorax")
    elif learner == "mallory":
        (folder / "mass.json").write_text(
            '{"version": 1, "series_uid": "x", "points": [' + "[" * 100000
        )
        (folder / "anatomy.json").write_bytes(b"\x00" * (2 * 1024 * 1024))
        (folder / "finding.json").write_text(json.dumps({"version": 1, "choice": {"$ne": None}}))
    if learner == "frank":
        (folder / "finding.json").rename(folder / "Finding (1).json")
    elif learner == "judy":
        (folder / "mass.json").write_text('{"version": 1, "points": [')


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The whole loop, once: released, answered, submitted, collected, autograded, fed back, exported."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.plugins import CsvExportPlugin

    base = tmp_path_factory.mktemp("nbgrader")
    course = base / "course"
    shutil.copytree(GRADERS, course, ignore=shutil.ignore_patterns(*MADE_BY_NBGRADER))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        mp.setenv(REFERENCES_ENV, "")  # the course's configuration sets it; undone after
        mp.delenv("DICOMTEACH_EXCHANGE", raising=False)
        config = _config(course)
        assert os.environ[REFERENCES_ENV] == str(course / "references")
        config.Exchange.cache = str(base / "learners-cache")
        api = NbGraderAPI(config=config)
        for assignment in ASSIGNMENTS:
            _check(api.generate_assignment(assignment), f"generate_assignment {assignment}")
            _check(api.release_assignment(assignment), f"release_assignment {assignment}")
        # the learners' side: no references in their kernels
        mp.delenv(REFERENCES_ENV)
        for learner, assignments in WORK.items():
            home = base / "home" / learner
            home.mkdir(parents=True)
            for assignment in assignments:
                _exchange(api, config, "FetchAssignment", assignment, learner, home)
                folder = home / assignment
                mp.chdir(folder)  # a kernel runs in its notebook's folder
                activities = _run_released_cells(folder / f"{assignment}.ipynb")
                if assignment == "ct-nodule":
                    _answer_ct(learner, activities["nodule"], folder)
                else:
                    _answer_quiz(learner, activities, folder)
                _misbehave(learner, assignment, folder / f"{assignment}.ipynb")
                _exchange(api, config, "Submit", assignment, learner, home)
        mp.chdir(base)
        mp.setenv(REFERENCES_ENV, str(course / "references"))
        logs = {}
        for assignment in ASSIGNMENTS:
            _check(api.collect(assignment), f"collect {assignment}")
            for learner in _who_did(assignment):
                result = api.autograde(assignment, learner)
                _check(result, f"autograde {assignment} {learner}")
                logs[assignment, learner] = result.get("log", "")
            _check(api.generate_feedback(assignment), f"generate_feedback {assignment}")
        exporter = CsvExportPlugin(config=config)
        exporter.to = str(base / "grades.csv")
        with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as book:
            exporter.export(book)
            cells = {
                (a, s, c.name): (c.score, c.max_score)
                for a in ASSIGNMENTS
                for s in _who_did(a)
                for nb in book.find_submission(a, s).notebooks
                for c in nb.grades
            }
            manual = {
                (a, s)
                for a in ASSIGNMENTS
                for s in _who_did(a)
                if book.find_submission(a, s).needs_manual_grade
            }
    grades = {
        (row["assignment"], row["student_id"]): float(row["score"])
        for row in csv.DictReader((base / "grades.csv").open())
    }
    return {
        "root": course,
        "home": base / "home",
        "grades": grades,
        "cells": cells,
        "logs": logs,
        "needs_manual_grade": manual,
    }


def _feedback(course, assignment: str, learner: str) -> str:
    page = (course["root"] / "feedback" / learner / assignment / f"{assignment}.html").read_text()
    return html.unescape(page)


def test_a_good_delineation_earns_full_points_a_poor_one_few_and_none_zero(course):
    grades = course["grades"]
    # alice's outline is none of the experts': full points because it lies inside their spread
    assert grades["ct-nodule", "alice"] == 10
    alice = _feedback(course, "ct-nodule", "alice")
    assert "inside the experts' spread: full points" in alice
    assert 0 < grades["ct-nodule", "bob"] <= 4
    assert grades["ct-nodule", "carol"] == 0
    assert grades["ct-nodule", "mallory"] == 0


def test_the_quiz_grades_each_question_on_its_own(course):
    cells = course["cells"]
    assert [cells["cr-quiz", "alice", f"grade-{q}"] for q in ("mass", "anatomy", "finding")] == [
        (2.0, 2.0),
        (5.0, 5.0),
        (1.0, 1.0),
    ]
    assert [cells["cr-quiz", "bob", f"grade-{q}"][0] for q in ("mass", "anatomy", "finding")] == [
        0.0,
        2.0,
        0.0,
    ]
    assert course["grades"]["cr-quiz", "alice"] == 8
    assert course["grades"]["cr-quiz", "carol"] == 0


def test_a_missing_answer_gets_zero_and_the_feedback_says_why(course):
    ct = _feedback(course, "ct-nodule", "carol")
    assert "0 / 10 points" in ct
    assert "Your delineation file 'nodule.npz' was not found" in ct
    quiz = _feedback(course, "cr-quiz", "carol")
    for name in ("mass.json", "anatomy.json", "finding.json"):
        assert f"your answer file '{name}' was not found" in quiz


def test_hostile_answer_files_get_zero_with_a_reason_and_no_pickle_is_loaded(course):
    ct = _feedback(course, "ct-nodule", "mallory")
    assert "0 / 10 points" in ct
    assert (
        "Your delineation file 'nodule.npz' could not be read (holds Python objects in its "
        "'mask' (a pickle): refusing to load them)" in ct
    )
    # the pickle would touch a file beside the learner's own copy, wherever it is unpickled
    assert not list(course["root"].parent.rglob("PICKLE-LOADED"))
    quiz = _feedback(course, "cr-quiz", "mallory")
    for points in (2, 5, 1):
        assert f"<strong>0 / {points} points</strong>" in quiz
    assert "an answer is at most" in quiz  # the 2 MB labels file, refused unread
    assert "nested too deeply" in quiz and "'choice' must be a string" in quiz
    for assignment in ASSIGNMENTS:  # every submission went through autograde
        for learner in _who_did(assignment):
            autograded = course["root"] / "autograded" / learner / assignment
            assert (autograded / f"{assignment}.ipynb").exists(), (learner, assignment)


@pytest.mark.parametrize(
    "learner, why",
    [
        (
            "grace",
            "Your delineation file 'nodule.npz' does not lie on the grid of the assignment's "
            "image (was drawn on an image of shape 10×20×20, not on the 60×256×256 grid",
        ),
        (
            "heidi",
            "Your delineation file 'nodule.npz' does not lie on the grid of the assignment's "
            "image (was drawn on an image of shape 60000×25600×25600",
        ),
        (
            "ivan",
            "Your delineation file 'nodule.npz' could not be read (holds a float64 'mask'; it "
            "must be bool or integer labels)",
        ),
        (
            "frank",
            "Your answer file 'nodule.npz' was not found; 'my nodule.npz' beside the notebook "
            "is not graded: an answer file must keep the name the activity gives it.",
        ),
    ],
)
def test_a_malformed_or_renamed_outline_gets_zero_and_the_feedback_says_why(course, learner, why):
    page = _feedback(course, "ct-nodule", learner)
    assert "<strong>0 / 10 points</strong>" in page and why in page
    assert course["grades"]["ct-nodule", learner] == 0
    # the file handed in is the one graded, and it goes back with the feedback untouched
    handed_in, autograded = (
        sorted(p.name for p in folder.iterdir() if p.suffix != ".txt")  # nbgrader's own .txt
        for folder in (
            course["home"] / learner / "ct-nodule",
            course["root"] / "autograded" / learner / "ct-nodule",
        )
    )
    assert autograded == handed_in


def test_a_malformed_or_renamed_quiz_answer_gets_zero_for_that_question_only(course):
    cells = course["cells"]
    assert cells["cr-quiz", "judy", "grade-mass"] == (0.0, 2.0)
    assert cells["cr-quiz", "judy", "grade-anatomy"] == (5.0, 5.0)
    assert "Your answer file 'mass.json' could not be read (not JSON" in _feedback(
        course, "cr-quiz", "judy"
    )
    assert cells["cr-quiz", "frank", "grade-finding"] == (0.0, 1.0)
    assert cells["cr-quiz", "frank", "grade-mass"] == (2.0, 2.0)
    assert (
        "Your answer file 'finding.json' was not found; 'Finding (1).json' beside the notebook "
        "is not graded" in _feedback(course, "cr-quiz", "frank")
    )


def test_an_edited_grading_cell_is_undone_and_grades_the_answer_file(course):
    grades = course["grades"]
    assert grades["ct-nodule", "dave"] == grades["ct-nodule", "bob"] < 10  # not the 10 claimed
    page = _feedback(course, "ct-nodule", "dave")
    assert "# This graded cell was changed in your submission; the grader undid the change" in page
    code = re.sub(r"<[^>]+>", "", page)  # the cell's source, without its highlighting
    assert "claimed" not in code and 'grade("nodule")' in code


def test_a_deleted_grading_cell_is_put_back_and_grades_the_answer_file(course):
    grades, cells = course["grades"], course["cells"]
    assert grades["ct-nodule", "erin"] == grades["ct-nodule", "bob"] > 0
    assert cells["cr-quiz", "erin", "grade-anatomy"] == (5.0, 5.0)
    assert grades["cr-quiz", "erin"] == 8
    # nbgrader alone would leave it ungraded, waiting for a manual grade forever (#1682)
    assert not {("ct-nodule", "erin"), ("cr-quiz", "erin")} & course["needs_manual_grade"]
    quiz = _feedback(course, "cr-quiz", "erin")
    notice = "# This graded cell was missing from your submission; the grader put it back"
    assert quiz.count(notice) == 1
    # back in its place: after the labels' activity, before the last question
    assert quiz.index("Name the anatomy") < quiz.index(notice) < quiz.index("What is it?")
    assert notice in _feedback(course, "ct-nodule", "erin")


def test_a_structure_named_otherwise_is_graded_and_the_feedback_says_so(course):
    assert course["grades"]["ct-nodule", "kim"] == 10
    page = _feedback(course, "ct-nodule", "kim")
    assert (
        "Your delineation's only structure is named 'Lesion', not 'Nodule': it was graded as "
        "the Nodule." in page
    )


def _pngs(page: str) -> list[np.ndarray]:
    from PIL import Image

    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
        for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    ]


def test_the_feedback_shows_the_learners_outline_against_the_reference(course):
    page = _feedback(course, "ct-nodule", "bob")
    assert "Dice" in page and "points" in page
    worst = _pngs(page)[0]
    r, g, b = (worst[..., k].astype(int) for k in range(3))
    reference_green = (g > 160) & (r < 120) & (b < 120)
    learner_yellow = (r > 200) & (g > 160) & (b < 90)
    assert reference_green.sum() > 50 and learner_yellow.sum() > 50


def test_the_feedback_shows_where_the_learner_falls_among_the_experts(course):
    page = _feedback(course, "ct-nodule", "bob")
    assert "less well than any of the 3 experts" in page and "below the experts' spread" in page
    assert 'alt="experts-spread.png"' in page and 'alt="experts-band.png"' in page
    spread = _pngs(page)[2]  # after the worst slices and the per-slice chart
    r, g, b = (spread[..., k].astype(int) for k in range(3))
    learner_yellow = (r > 200) & (g > 160) & (b < 90)
    assert learner_yellow.sum() > 100


def test_released_files_hold_nothing_of_the_references(course):
    from dicomteach.io.reader import read_object

    key = _key("ct-nodule", "nodule")
    secrets = {"seg-nodule", "observer-", "experts/", "references", REFERENCES_ENV}
    secrets.add(str(course["root"]))
    for path in key.reference.resolve():
        seg = read_object(path).ds
        secrets |= {seg.SOPInstanceUID, seg.SeriesInstanceUID}
    numbers = set()
    for name in ("mass", "anatomy"):
        for region in _key("cr-quiz", name).reference:
            numbers |= {f"{v:g}" for v in region.coordinates[0]}
    released = [
        p
        for folder in (
            course["root"] / "release",
            course["root"] / "exchange" / "dicomteach" / "outbound",
        )
        for p in folder.rglob("*")
        if p.is_file()
    ]
    assert sorted({p.name for p in released}) == ["cr-quiz.ipynb", "ct-nodule.ipynb"]
    for path in released:
        text = path.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"{path} holds {secret!r}"
        for number in numbers:
            assert not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", text), (path, number)
        for cell in json.loads(text)["cells"]:
            source = "".join(cell["source"])
            assert "reference" not in source.lower() and "tolerance" not in source
            assert "experts=" not in source
            if cell["metadata"].get("nbgrader", {}).get("grade"):
                assert re.fullmatch(
                    r'from dicomteach\.activities import grade\n\ngrade\("[\w-]+"\)', source
                ), source


def test_released_activities_match_their_keys_and_the_cells_points(course):
    for assignment in ASSIGNMENTS:
        notebook = course["root"] / "release" / assignment / f"{assignment}.ipynb"
        cells = json.loads(notebook.read_text())["cells"]
        graded = {
            re.search(r'grade\("([\w-]+)"\)', "".join(c["source"])).group(1): c["metadata"][
                "nbgrader"
            ]["points"]
            for c in cells
            if c["metadata"].get("nbgrader", {}).get("grade")
        }
        released = _run_released_cells(notebook)
        assert sorted(released) == sorted(graded)
        for name, activity in released.items():
            key = _key(assignment, name)
            assert activity.reference is None
            assert key.points == graded[name] == activity.points
            # the notebook names its study by path, the key by the sample: the same folder
            assert key.study.resolve() == activity.study.resolve()
            public, shown = key.to_dict(), activity.to_dict()
            del public["study"], shown["study"]
            assert public == shown, f"{assignment}/{name} differs from its key"


def test_learners_without_the_course_are_told_their_answer_is_saved(course, monkeypatch):
    from dicomteach.activities import grade

    monkeypatch.delenv(REFERENCES_ENV, raising=False)
    monkeypatch.chdir(course["home"] / "alice" / "ct-nodule")
    result = grade("nodule")
    assert repr(result) == "0"
    assert "graded after you submit" in result._repr_html_()


def _grade_class(course, *args: str):
    import subprocess

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dicomteach.cli",
            "grade-class",
            *args,
            "--course",
            str(course["root"]),
        ],
        capture_output=True,
        text=True,
    )


def test_grade_class_autogrades_and_writes_the_gradebook_with_per_structure_metrics(course):
    run = _grade_class(course, "ct-nodule", "--student", "bob", "--student", "mallory")
    assert run.returncode == 0, run.stderr
    assert "graded 2 submissions of ct-nodule" in run.stdout
    rows = list(csv.DictReader((course["root"] / "ct-nodule-grades.csv").open()))
    bob, mallory = (next(r for r in rows if r["student"] == s) for s in ("bob", "mallory"))
    assert bob["structure"] == "Nodule" and 0.3 < float(bob["dice"]) < 0.9
    assert float(bob["points"]) == float(bob["nbgrader_points"]) and bob["agrees"] == "True"
    assert mallory["points"] == "0.0" and mallory["status"] == "invalid answer"


def test_grade_class_lists_every_finding_and_label(course, tmp_path):
    out = tmp_path / "quiz.csv"
    run = _grade_class(course, "cr-quiz", "--no-autograde", "--csv", str(out))
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open()))
    alice = {r["structure"]: r for r in rows if r["student"] == "alice"}
    assert alice["mass"]["correct"] == "True" and float(alice["mass"]["distance_mm"]) == 0
    assert {"right hilum", "heart", "gastric bubble"} <= set(alice)
    assert all(r["agrees"] == "True" for r in rows), [r for r in rows if r["agrees"] != "True"]
    carol = [r for r in rows if r["student"] == "carol"]
    assert {r["status"] for r in carol} == {"invalid answer"}


def test_grade_class_says_in_one_line_what_is_not_a_course(tmp_path):
    import subprocess

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dicomteach.cli",
            "grade-class",
            "ct-nodule",
            "--course",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        == f"dicomteach: error: {tmp_path}: holds no nbgrader_config.py: not a course folder"
    )
