"""Authoring without code (dicomteach.course.authoring and the app's model), no browser.

A copy of the course in graders/ receives activities of every type, authored
as the app authors them (a Draft filled from what the instructor clicked,
drew and typed). Each saved key is read back with ``Activity.load`` and grades
a good answer full and a poor one low; the assignment goes through the real
``nbgrader generate_assignment``, and nothing released holds a reference. An
imported study is de-identified first and the report names what was removed.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from dicomteach.activities import REFERENCES_ENV, Activity, Hotspot
from dicomteach.course.assignment import activity_names
from dicomteach.course.authoring import AuthoringError, Course, Draft, Target, activity_kinds
from dicomteach.course.library import SAMPLE_STUDIES, course_studies, import_study
from dicomteach.errors import DicomTeachError
from dicomteach.roi import DelineationAnswer, load_structures, save_delineation

ROOT = Path(__file__).resolve().parents[1]
MADE_BY_NBGRADER = ("release", "submitted", "autograded", "feedback", "exchange", "gradebook.db*")
CT = next(s for s in SAMPLE_STUDIES if s.location.sample == "ct-chest")
ASSIGNMENT = "authored"


class SpotTheSign(Hotspot):
    """A type the app has no editor for (as a new activity type would be): authored as YAML."""

    kind = "spot-the-sign"


@pytest.fixture(scope="module", autouse=True)
def _unregister_test_type():
    yield
    Activity.types.pop(SpotTheSign.kind, None)


@pytest.fixture(scope="module")
def ct():
    """The sample chest CT and its nodule (the sample's own SEG), for keys drawn "by hand"."""
    from dicomteach import io

    volume = io.load(CT.resolve())
    seg = CT.resolve().parent / "seg-nodule.dcm"
    nodule = next(iter(load_structures(seg, image=volume).masks.values())).astype(bool)
    centre = np.argwhere(nodule).mean(axis=0).round().astype(int)
    return {"volume": volume, "seg": seg, "nodule": nodule, "centre": tuple(int(v) for v in centre)}


def _course(base: Path) -> Course:
    shutil.copytree(
        ROOT / "graders", base / "course", ignore=shutil.ignore_patterns(*MADE_BY_NBGRADER)
    )
    return Course(base / "course")


def _draft(course: Course, kind: str, name: str, prompt: str, points: float = 2) -> Draft:
    draft = Draft(course)
    draft.study, draft.kind, draft.assignment = CT, kind, ASSIGNMENT
    draft.name, draft.prompt, draft.points = name, prompt, points
    return draft


@pytest.fixture(scope="module")
def authored(tmp_path_factory, ct):
    """One assignment holding an activity of every type, saved as the app saves them."""
    base = tmp_path_factory.mktemp("authoring")
    course = _course(base)
    k, r, c = ct["centre"]
    saved = {}

    spot = _draft(course, "hotspot", "nodule", "Click the lung nodule.")
    spot.targets = [Target("nodule", k + 1, r, c, radius_mm=6)]
    saved["nodule"] = spot.save()

    labels = _draft(course, "labels", "anatomy", "Drag each name onto its structure.", 4)
    labels.labels = ["nodule", "spine"]
    labels.targets = [Target("nodule", k + 1, r, c, 6), Target("spine", k + 1, 200, 128, 10)]
    saved["anatomy"] = labels.save()

    outline = _draft(course, "delineate", "outline", "Outline the nodule.", 10)
    outline.structures, outline.mask = ["Nodule"], ct["nodule"].astype(np.uint8)
    outline.window = "Lung"
    saved["outline"] = outline.save()

    imported = _draft(course, "delineate", "imported", "Outline the nodule again.", 10)
    imported.structures, imported.reference_file = ["Nodule"], ct["seg"]
    saved["imported"] = imported.save()

    choice = _draft(course, "multiple-choice", "finding", "What is the finding?", 1)
    choice.options = ["Normal", "Lung nodule", "Pneumothorax"]
    choice.right_option = "Lung nodule"
    saved["finding"] = choice.save()

    sign = _draft(course, SpotTheSign.kind, "sign", "Click the sign.", 1)
    sign.extra = (
        f"clicks: 1\nreference:\n  sign: {{point: [{r}, {c}], slice: {k + 1}, radius_mm: 6}}\n"
    )
    saved["sign"] = sign.save()
    return {"course": course, "saved": saved, "base": base}


def _key(authored, name: str, answer: Path) -> Activity:
    return Activity.load(authored["saved"][name].key, answer=answer)


class TestEachTypeSavedLoadsAndGrades:
    def test_hotspot_click_on_the_target_full_far_away_zero(self, authored, ct, tmp_path):
        key = _key(authored, "nodule", tmp_path / "nodule.json")
        assert type(key) is Hotspot and key.points == 2 and key.max_clicks == 1
        k, r, c = ct["centre"]
        key.question.marks = [{"image": [k, r, c], "label": ""}]
        assert key.grade().points == 2
        key.question.marks = [{"image": [k, 40, 200], "label": ""}]
        assert key.grade().points == 0

    def test_labels_each_in_its_place_full_swapped_zero(self, authored, ct, tmp_path):
        key = _key(authored, "anatomy", tmp_path / "anatomy.json")
        k, r, c = ct["centre"]
        key.question.marks = [
            {"image": [k, r, c], "label": "nodule"},
            {"image": [k, 200, 128], "label": "spine"},
        ]
        assert key.grade().points == 4
        key.question.marks = [
            {"image": [k, 200, 128], "label": "nodule"},
            {"image": [k, r, c], "label": "spine"},
        ]
        assert key.grade().points == 0

    @pytest.mark.parametrize("name", ["outline", "imported"])
    def test_delineation_the_reference_full_drawn_aside_low(self, authored, ct, tmp_path, name):
        key = _key(authored, name, tmp_path / f"{name}.npz")
        volume = ct["volume"]
        good = DelineationAnswer(ct["nodule"].astype(np.uint8), volume.spacing, ("Nodule",))
        save_delineation(good, key.answer_path)
        assert key.grade().points == 10
        aside = np.roll(ct["nodule"], 8, axis=2).astype(np.uint8)
        save_delineation(DelineationAnswer(aside, volume.spacing, ("Nodule",)), key.answer_path)
        assert key.grade().points < 3

    def test_a_drawn_key_is_a_seg_and_an_imported_one_a_copy_both_under_references(
        self, authored, ct
    ):
        course = authored["course"]
        keys = course.references / ASSIGNMENT
        drawn = authored["saved"]["outline"].files[0]
        assert drawn == keys / "outline-reference.dcm"
        found = load_structures(drawn, image=ct["volume"])
        assert np.array_equal(next(iter(found.masks.values())).astype(bool), ct["nodule"])
        assert list(found.names.values()) == ["Nodule"]
        assert (keys / "imported-reference.dcm").read_bytes() == ct["seg"].read_bytes()
        assert Activity.load(keys / "outline.yaml").window == "Lung"

    def test_multiple_choice_right_full_wrong_zero(self, authored, tmp_path):
        key = _key(authored, "finding", tmp_path / "finding.json")
        key.question.pick("Lung nodule")
        assert key.grade().points == 1
        key.question.pick("Pneumothorax")
        assert key.grade().points == 0

    def test_a_type_without_an_editor_is_listed_and_authored_from_yaml(
        self, authored, ct, tmp_path
    ):
        assert SpotTheSign.kind in activity_kinds()
        key = _key(authored, "sign", tmp_path / "sign.json")
        assert type(key) is SpotTheSign
        k, r, c = ct["centre"]
        key.question.marks = [{"image": [k, r, c], "label": ""}]
        assert key.grade().points == 1


class TestTheAssignment:
    def test_the_notebook_holds_each_activity_without_its_key_and_a_grade_cell(self, authored):
        course = authored["course"]
        notebook = json.loads(course.notebook(ASSIGNMENT).read_text())
        names = ["nodule", "anatomy", "outline", "imported", "finding", "sign"]
        assert activity_names(notebook) == names
        cells = {c["id"]: c for c in notebook["cells"]}
        grade = cells["grade-outline"]
        assert grade["source"] == 'from dicomteach.activities import grade\n\ngrade("outline")'
        assert grade["metadata"]["nbgrader"] == {
            "grade": True,
            "grade_id": "grade-outline",
            "locked": True,
            "points": 10.0,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
        # the cell a learner runs builds the same activity the key describes, minus the key
        namespace: dict = {}
        exec(cells["show-nodule"]["source"], namespace)
        learner = namespace["nodule"]
        assert isinstance(learner, Hotspot) and learner.reference is None
        key = Activity.load(authored["saved"]["nodule"].key)
        assert learner.to_dict() == key.to_dict()
        for cell in notebook["cells"]:
            assert "reference" not in cell["source"] and "radius" not in cell["source"]

    def test_adding_to_an_existing_assignment_appends_and_keeps_its_cells(self, authored, ct):
        course = authored["course"]
        before = json.loads(course.notebook("cr-quiz").read_text())["cells"]
        draft = _draft(course, "hotspot", "second", "Click the nodule again.")
        draft.assignment = "cr-quiz"
        draft.targets = [Target("nodule", ct["centre"][0] + 1, *ct["centre"][1:], 6)]
        draft.save()
        after = json.loads(course.notebook("cr-quiz").read_text())["cells"]
        assert after[: len(before)] == before
        assert [c["id"] for c in after[len(before) :]] == [
            "about-second",
            "show-second",
            "grade-second",
        ]
        assert after[len(before)]["source"] == "## Question 4 (2 points)"

    def test_the_same_name_is_refused_unless_replaced_in_place(self, authored, ct):
        course = authored["course"]
        draft = _draft(course, "hotspot", "nodule", "Click the nodule, 3 points now.", 3)
        draft.targets = [Target("nodule", ct["centre"][0] + 1, *ct["centre"][1:], 6)]
        notebook = course.notebook(ASSIGNMENT)
        before = notebook.read_bytes()
        with pytest.raises(
            AuthoringError, match=r"authored already has an activity 'nodule'.*Replace"
        ):
            draft.save()
        assert notebook.read_bytes() == before
        saved = draft.save(replace=True)
        assert saved.replaced
        cells = json.loads(notebook.read_text())["cells"]
        assert activity_names({"cells": cells}).count("nodule") == 1
        assert [c["id"] for c in cells[1:4]] == ["about-nodule", "show-nodule", "grade-nodule"]
        assert cells[3]["metadata"]["nbgrader"]["points"] == 3
        assert Activity.load(saved.key).points == 3


@pytest.fixture(scope="module")
def released(authored):
    """``nbgrader generate_assignment`` of the authored assignment, with nbgrader's own API."""
    pytest.importorskip("nbgrader")
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    course = authored["course"].root
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        mp.setenv(REFERENCES_ENV, "")  # the course's configuration sets it; undone after
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        result = NbGraderAPI(config=config).generate_assignment(ASSIGNMENT)
    assert result["success"], result.get("error")
    return course / "release" / ASSIGNMENT


@pytest.mark.slow
def test_nbgrader_releases_the_assignment_and_nothing_of_its_keys(authored, released, ct):
    files = sorted(p.relative_to(released) for p in released.rglob("*") if p.is_file())
    assert files == [Path(f"{ASSIGNMENT}.ipynb")]
    text = (released / f"{ASSIGNMENT}.ipynb").read_text()
    seg = authored["course"].references / ASSIGNMENT / "outline-reference.dcm"
    import pydicom

    secrets = {
        "references",
        "outline-reference",
        "imported-reference",
        pydicom.dcmread(seg).SOPInstanceUID,
        pydicom.dcmread(ct["seg"]).SOPInstanceUID,
        "radius_mm",
        "tolerance",
    }
    for secret in secrets:
        assert secret not in text, secret
    k, r, c = ct["centre"]
    released_cells = json.loads(text)["cells"]
    for cell in released_cells:
        assert f"[{r}, {c}]" not in cell["source"] and "reference" not in cell["source"]
    assert sum(1 for c in released_cells if c["metadata"]["nbgrader"].get("grade")) == 6


# ---------------------------------------------------------------------- import


@pytest.fixture
def patient_file(tmp_path):
    """pydicom's CT_small with the patient's name and an institution: what must not survive."""
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    assert str(ds.PatientName) == "CompressedSamples^CT1"
    folder = tmp_path / "from-pacs"
    folder.mkdir()
    ds.InstitutionName = "St Elsewhere General"
    ds.save_as(folder / "slice.dcm")
    (folder / "notes.txt").write_text("not a DICOM file")
    return folder


def test_an_import_is_de_identified_and_the_report_names_what_was_removed(tmp_path, patient_file):
    course = Course(tmp_path / "course")
    report = import_study(course.root, patient_file)
    assert report.files == 1 and report.skipped == 1
    actions = {(name, action) for name, action, _ in report.changes}
    assert ("Patient's Name", "replaced") in actions
    assert ("Institution Name", "replaced") in actions or ("Institution Name", "removed") in actions
    assert ("Study Date", "shifted") in actions
    assert "Patient's Name</td><td>replaced</td><td>1</td>" in html.unescape(report.to_html())
    assert report.summary().startswith("1 file de-identified (1 not DICOM, skipped)")
    written = [p for p in report.folder.rglob("*") if p.is_file()]
    assert len(written) == 1 and written[0].is_relative_to(course.studies)
    data = written[0].read_bytes()
    assert b"CompressedSamples" not in data and b"St Elsewhere" not in data
    assert [s.location.path for s in report.studies] == [str(written[0].parent)]
    assert course_studies(course.root) == report.studies


def test_a_study_imported_twice_is_one_study_and_a_later_study_keeps_the_pseudonym(
    tmp_path, patient_file
):
    import pydicom

    course = Course(tmp_path / "course")
    first = import_study(course.root, patient_file)
    again = import_study(course.root, patient_file)
    assert again.folder == first.folder
    assert [s.location.path for s in again.studies] == [s.location.path for s in first.studies]
    assert len(course_studies(course.root)) == 1, "no second copy in the library"
    assert len([p for p in course.studies.rglob("*.dcm")]) == 1
    # the same patient, months later: a new study under the same pseudonym
    (original,) = patient_file.glob("*.dcm")
    later = pydicom.dcmread(original)
    later.StudyInstanceUID = pydicom.uid.generate_uid()
    later.SeriesInstanceUID = pydicom.uid.generate_uid()
    later.SOPInstanceUID = pydicom.uid.generate_uid()
    later.StudyDate = "20240601"
    folder = tmp_path / "follow-up"
    folder.mkdir()
    later.save_as(folder / "later.dcm")
    follow_up = import_study(course.root, folder)
    assert follow_up.folder != first.folder
    assert follow_up.folder.parent == first.folder.parent, "one patient, one pseudonym"
    (a,), (b,) = first.folder.rglob("*.dcm"), follow_up.folder.rglob("*.dcm")
    assert pydicom.dcmread(a).PatientID == pydicom.dcmread(b).PatientID
    assert [s.location.path for s in course_studies(course.root)][0] == str(b.parent)
    # the key stays with the instructor
    key = course.root / ".deid-key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert ".deid-key" in (course.root / ".gitignore").read_text().splitlines()


def test_a_damaged_course_key_stops_the_import_and_says_what_to_do(tmp_path, patient_file):
    course = Course(tmp_path / "course")
    course.root.mkdir(parents=True, exist_ok=True)
    (course.root / ".deid-key").write_text("not hex at all\n")
    with pytest.raises(
        DicomTeachError, match=r"\.deid-key: is not a de-identification key.*backup"
    ):
        import_study(course.root, patient_file)
    assert not course.studies.exists() or not list(course.studies.rglob("*.dcm"))


def test_an_imported_study_travels_with_its_assignment_and_the_key_finds_it(tmp_path, patient_file):
    course = Course(tmp_path / "course")
    (study,) = import_study(course.root, patient_file).studies
    draft = Draft(course)
    draft.study, draft.kind, draft.assignment, draft.name = study, "hotspot", "own", "spot"
    draft.prompt, draft.points = "Click the centre.", 1
    draft.targets = [Target("spot", 1, 64, 64, 5)]
    saved = draft.save()
    copied = course.source / "own" / Path(study.location.path).name
    assert saved.files == [copied] and len(list(copied.iterdir())) == 1
    key = Activity.load(saved.key, answer=tmp_path / "spot.json")
    assert key.study.resolve().resolve() == copied.resolve()
    key.question.marks = [{"image": [0, 64, 64], "label": ""}]
    assert key.grade().points == 1
    assert not any(p.suffix == ".yaml" for p in (course.source / "own").rglob("*"))


def test_a_folder_without_dicom_is_refused_in_one_line(tmp_path):
    empty = tmp_path / "holiday-photos"
    empty.mkdir()
    (empty / "beach.jpg").write_bytes(b"\xff\xd8\xff\xe0 not dicom")
    with pytest.raises(DicomTeachError, match=r"holiday-photos: holds no DICOM file to import"):
        import_study(tmp_path / "course", empty)
    assert not [
        p for p in (tmp_path / "course" / "studies").iterdir() if not p.name.startswith(".")
    ]


# ---------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"study": None}, r"^Choose a study first"),
        ({"name": "my nodule"}, r"^The activity's name must be letters, digits.*'my nodule'"),
        ({"assignment": "../week"}, r"^The assignment's name must be letters"),
        ({"points": 0}, r"^Points must be more than 0, not 0"),
        ({"points": -2.5}, r"^Points must be more than 0, not -2.5"),
        ({"prompt": "  "}, r"^Write the prompt"),
        ({"targets": []}, r"^Click the finding on the image"),
    ],
)
def test_what_to_fix_is_one_line_and_nothing_is_written(tmp_path, ct, change, message):
    course = Course(tmp_path / "course")
    draft = _draft(course, "hotspot", "nodule", "Click the nodule.")
    draft.targets = [Target("nodule", 30, 150, 70, 6)]
    for key, value in change.items():
        setattr(draft, key, value)
    with pytest.raises(AuthoringError, match=message) as caught:
        draft.save()
    assert "\n" not in str(caught.value)
    assert not course.root.exists()


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "clicks: 1\ntolerance_mm: 3\nreference: {}",
            r"^'tolerance_mm' does not belong in the YAML",
        ),
        ("clicks: [1\n", r"^The YAML box is not valid YAML at line 2"),
        ("clicks: 1\n", r"^Write the answer key under 'reference:'"),
        ("clicks: 1\nreference: 12\n", r"^'reference' must be a file of structures or a mapping"),
    ],
)
def test_a_key_written_as_yaml_is_checked_before_anything_is_written(tmp_path, yaml, message):
    course = Course(tmp_path / "course")
    draft = _draft(course, SpotTheSign.kind, "sign", "Click the sign.")
    draft.extra = yaml
    with pytest.raises(AuthoringError, match=message):
        draft.save()
    assert not course.root.exists()


# ---------------------------------------------------------------------- a worklist: several studies


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    """Two held-out films of one patient of ``ai/films.py``, without and with findings, as an
    instructor's PACS export (a folder each)."""
    pytest.importorskip("onnxruntime")
    from dicomteach.ai.films import film_specs, render_films, write_film

    export = tmp_path_factory.mktemp("pacs-export")
    made = {}
    for film in render_films(film_specs("held-out", 1)[0], rows=1400, columns=1300):
        truth = "abnormal" if film.holds_lesion else "normal"
        (export / truth).mkdir()
        made[truth] = write_film(film, export / truth / "film.dcm").parent
    return made


def _worklist(course: Course, films: dict[str, Path]) -> Draft:
    """Three cases in arrival order: the normal film, the sample CT with its nodule, the
    abnormal film; the films imported (de-identified) as the app imports them."""
    # the films carry no text in their pixels: looked at, as the app asks
    (normal,) = import_study(course.root, films["normal"], accept_burned_in=True).studies
    (abnormal,) = import_study(course.root, films["abnormal"], accept_burned_in=True).studies
    draft = Draft(course)
    draft.kind, draft.assignment, draft.name = "worklist", "triage-week", "triage"
    draft.prompt, draft.points = "Read the worklist: which studies hold a lesion?", 3
    draft.cases = [normal, CT, abnormal]
    draft.case_truths = ["normal", "abnormal", "abnormal"]
    return draft


class TestWorklist:
    def test_saved_with_its_cases_in_arrival_order_and_graded_by_name(
        self, tmp_path, films, monkeypatch
    ):
        from dicomteach.activities import Worklist, grade
        from dicomteach.activities.worklist import Event, WorklistAnswer, save_worklist_answer

        course = Course(tmp_path / "course")
        draft = _worklist(course, films)
        draft.order = "arrival"
        saved = draft.save()
        # the key: the cases as they arrived, each said abnormal or normal, under references/
        key = Activity.load(saved.key)
        assert isinstance(key, Worklist) and key.order == "arrival" and key.points == 3
        assert key.reference == [False, True, True]
        assert [c.resolve().resolve() for c in key.cases][1] == CT.resolve().resolve()
        # the imported films travel with the assignment; the key finds them there
        copied = [course.source / "triage-week" / Path(s.location.path).name for s in draft.cases]
        assert saved.files == [copied[0], copied[2]]
        assert [key.cases[n].resolve().resolve() for n in (0, 2)] == [
            p.resolve() for p in (copied[0], copied[2])
        ]
        # the learner's cell: the same worklist, with no key
        cells = json.loads(saved.notebook.read_text())["cells"]
        (show,) = [c["source"] for c in cells if c["id"] == "show-triage"]
        assert "reference" not in show and "abnormal" not in show and "normal" not in show
        learner = tmp_path / "learner" / "triage-week"
        shutil.copytree(course.source / "triage-week", learner)
        monkeypatch.chdir(learner)
        namespace: dict = {}
        exec(show, namespace)  # noqa: S102 - the cell nbgrader runs
        public = namespace["triage"]
        assert public.reference is None and public.labels == key.labels
        assert [c.resolve().resolve() for c in public.cases] == [
            learner / copied[0].name,
            CT.resolve().resolve(),
            learner / copied[2].name,
        ]
        # graded by name, as the autograder cell does: B and C right, A never read
        save_worklist_answer(
            learner / "triage.json",
            WorklistAnswer(
                "triage",
                "arrival",
                ["Case A", "Case B", "Case C"],
                [
                    Event(0.0, "Case C", "open"),
                    Event(6.0, "Case C", "abnormal"),
                    Event(7.0, "Case B", "open"),
                    Event(15.0, "Case B", "abnormal"),
                ],
            ),
        )
        monkeypatch.setenv(REFERENCES_ENV, str(course.references))
        result = grade("triage")
        assert result.points == 2.0
        assert result.feedback.details["misses"] == []
        assert result.feedback.details["first_true_positive"]["case"] == "Case C"

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"cases": "first"}, r"^Choose 2 to 26 studies for the worklist \(it has 1\)"),
            (
                {"case_truths": ["normal", None, "abnormal"]},
                r"^Say whether Case B \(Chest CT, lung nodule\) is abnormal or normal\.$",
            ),
            ({"cases": "twice"}, r"^Case C \(.*\) is the same study as Case A: take one"),
            ({"cases": "fundus"}, r"^Case B \(Fundus photograph\) is OP: the worklist's AI"),
        ],
    )
    def test_what_to_fix_is_one_line_and_nothing_is_written(self, tmp_path, films, change, message):
        course = Course(tmp_path / "course")
        draft = _worklist(course, films)
        cases = {
            "first": draft.cases[:1],
            "twice": [draft.cases[0], draft.cases[1], draft.cases[0]],
            "fundus": [
                draft.cases[0],
                next(s for s in SAMPLE_STUDIES if s.title == "Fundus photograph"),
            ],
        }
        for key, value in change.items():
            setattr(draft, key, cases[value] if key == "cases" else value)
        with pytest.raises(AuthoringError, match=message) as caught:
            draft.save()
        assert "\n" not in str(caught.value)
        assert not course.source.exists() and not course.references.exists()
