"""The authoring app's widgets driven from Python (its buttons clicked, its fields typed in).

What the browser test does with the mouse, without a browser: a mistake says
what to fix in one line and loses nothing already authored, the preview is
the learner's activity and grades its answer against the key, an upload is
de-identified before anything else sees it, and the type list comes from the
activities package.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from dicomteach.activities import Activity, Hotspot
from dicomteach.course.author_app import AuthoringApp
from dicomteach.course.authoring import activity_kinds
from dicomteach.course.library import SAMPLE_STUDIES

ROOT = Path(__file__).resolve().parents[1]
CT = next(s for s in SAMPLE_STUDIES if s.location.sample == "ct-chest")
NODULE = (28, 150, 70)  # frame, row, column: the sample CT's nodule
FAR = (28, 60, 200)


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    shutil.copy(ROOT / "graders" / "nbgrader_config.py", folder)
    return folder


@pytest.fixture
def app(course, tmp_path):
    return AuthoringApp(course, session=tmp_path / "session", thumbnails=False)


def _message(app: AuthoringApp) -> tuple[str, str]:
    value = app.message.value
    kind = "error" if 'data-kind="error"' in value else "ok"
    text = html.unescape(value.split(">", 1)[1].rsplit("</p>", 1)[0])
    return kind, text


def _fill(app: AuthoringApp) -> None:
    app.assignment.value = "week-1"
    app.name.value = "nodule"
    app.prompt.value = "Click the lung nodule."
    app.points.value = 2


def _state(app: AuthoringApp) -> tuple:
    marks = app.editor.marks.marks if app.editor is not None else None
    return (
        app.assignment.value,
        app.name.value,
        app.prompt.value,
        app.points.value,
        app.kind.value,
        app.draft.study.key if app.draft.study else None,
        marks,
    )


def test_the_library_shows_every_sample_and_the_types_come_from_the_activities(app):
    titles = [card.children[1].description for card in app.cards.children]
    assert titles == [s.title for s in SAMPLE_STUDIES]
    assert list(app.kind.options) == activity_kinds() == sorted(Activity.types, key=_order)


def _order(kind: str) -> tuple:
    built_in = ["hotspot", "labels", "delineate", "multiple-choice", "worklist"]
    return (built_in.index(kind) if kind in built_in else len(built_in), kind)


def test_mistakes_say_what_to_fix_in_one_line_and_lose_nothing(app, course, tmp_path):
    _fill(app)
    app.save_button.click()
    assert _message(app) == (
        "error",
        "Choose a study first: click a picture of the library, or import one.",
    )
    app.choose(CT.key)
    assert "dt-author-picked" in app.card_of[CT.key]._dom_classes
    app.editor.marks.marks = [{"image": list(NODULE), "label": ""}]  # a click on the image
    authored = _state(app)

    empty = tmp_path / "no-dicom-here"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing to import")
    mistakes = [
        ("name", "my nodule", r"^The activity's name must be letters, digits"),
        ("points", 0.0, r"^Points must be more than 0, not 0"),
        ("points", -1.0, r"^Points must be more than 0, not -1"),
        ("prompt", "", r"^Write the prompt"),
    ]
    for field, wrong, message in mistakes:
        right = getattr(app, field).value
        getattr(app, field).value = wrong
        for button in (app.save_button, app.preview_button):
            button.click()
            kind, text = _message(app)
            assert kind == "error" and "\n" not in text
            assert re.search(message, text), text
        getattr(app, field).value = right
        assert _state(app) == authored
    app.import_path.value = str(empty)
    app.import_button.click()
    kind, text = _message(app)
    assert kind == "error"
    assert text.endswith(
        "no-dicom-here: holds no DICOM file to import (readme.txt: not DICOM: only 17 bytes and no DICOM element at the start)"
    )
    assert _state(app) == authored
    assert not (course / "source").exists() and not (course / "references").exists()

    app.save_button.click()
    assert _message(app) == (
        "ok",
        "Saved: added to course/source/week-1/week-1.ipynb, key in course/references/week-1/nodule.yaml.",
    )
    assert app.assignment.options == ("week-1",)
    app.save_button.click()  # twice: the name is taken
    assert _message(app)[1].startswith("week-1 already has an activity 'nodule'")
    assert _state(app) == authored


def test_the_preview_is_the_learners_activity_and_grades_its_answer_against_the_key(app):
    _fill(app)
    app.choose(CT.key)
    app.editor.marks.marks = [{"image": list(NODULE), "label": ""}]
    app.preview_button.click()
    assert _message(app)[0] == "ok"
    learner = app.preview_activity
    assert type(learner) is Hotspot and learner.reference is None and learner.max_clicks == 1
    assert learner.answer_path.parent == app.session / "preview"
    title, view, grade, feedback = app.preview.children
    assert view is learner.view()
    learner.question.marks = [{"image": list(NODULE), "label": ""}]  # the learner's click
    grade.click()
    assert "2 / 2 points" in feedback.value
    learner.question.marks = [{"image": list(FAR), "label": ""}]
    grade.click()
    assert "0 / 2 points" in feedback.value
    # a second preview starts with no answer, as a learner does
    app.preview_button.click()
    assert app.preview_activity.question.marks == []


def test_the_key_stays_when_the_type_or_the_study_changes(app):
    app.choose(CT.key)
    app.editor.marks.marks = [{"image": list(NODULE), "label": ""}]
    hotspot = app.editor
    app.kind.value = "multiple-choice"
    app.editor.options.value = "Normal\nNodule"
    app.choose(SAMPLE_STUDIES[0].key)
    app.kind.value = "hotspot"
    assert app.editor is not hotspot and app.editor.marks.marks == []
    app.choose(CT.key)
    assert app.editor is hotspot and hotspot.marks.marks[0]["image"] == list(map(float, NODULE))
    app.kind.value = "multiple-choice"
    assert app.editor.options.value == "Normal\nNodule"


def test_an_upload_is_de_identified_reported_and_chosen(app, course):
    from pydicom.data import get_testdata_file

    data = Path(get_testdata_file("CT_small.dcm", download=False)).read_bytes()
    assert b"CompressedSamples^CT1" in data
    # what the browser sends when a file is picked in the upload button
    app.upload.set_state(
        {
            "value": [
                {
                    "name": "ct.dcm",
                    "type": "application/dicom",
                    "size": len(data),
                    "content": memoryview(data),
                    "last_modified": 0,
                }
            ]
        }
    )
    kind, text = _message(app)
    assert kind == "ok" and text.startswith("1 file de-identified:"), text
    assert "Patient&#x27;s Name</td><td>replaced" in app.report.value
    study = app.draft.study
    assert study is not None and not study.is_sample
    assert app.cards.children[0] is app.card_of[study.key]
    assert app.cards.children[0].children[0].value[:4] == b"\x89PNG"
    written = [p for p in (course / "studies").rglob("*.dcm")]
    assert len(written) == 1 and b"CompressedSamples" not in written[0].read_bytes()
    assert not list((app.session).glob("upload-*"))
    assert app.upload.value == ()


def test_labels_are_placed_by_dragging_their_names_and_saved_as_the_key(app, course):
    _fill(app)
    app.name.value = "anatomy"
    app.choose(CT.key)
    app.kind.value = "labels"
    app.editor.place.click()
    assert _message(app) == ("error", "Write the labels first, one per line.")
    app.editor.names.value = "nodule\nspine"
    app.editor.place.click()
    drop = app.editor.drop
    assert drop.label_names == ["nodule", "spine"]
    drop.marks = [  # two chips dropped on the image
        {"image": list(NODULE), "label": "nodule"},
        {"image": [28, 200, 128], "label": "spine"},
    ]
    app.save_button.click()
    assert _message(app)[0] == "ok", _message(app)
    key = Activity.load(course / "references" / "week-1" / "anatomy.yaml")
    assert key.labels == ["nodule", "spine"]
    assert {r.name: (r.slice, r.coordinates[0]) for r in key.reference} == {
        "nodule": (29, (150.0, 70.0)),
        "spine": (29, (200.0, 128.0)),
    }


def test_a_delineation_key_is_drawn_or_taken_from_the_seg_beside_the_study(app, course):
    import numpy as np

    from dicomteach.roi import load_structures

    _fill(app)
    app.name.value = "outline"
    app.choose(CT.key)
    app.kind.value = "delineate"
    editor = app.editor
    seg = CT.resolve().parent / "seg-nodule.dcm"
    assert str(seg) in editor.source.options  # the sample's own SEG is offered
    editor.structures.value = "Nodule"
    editor.draw.click()
    drawn = np.zeros(editor.delineator.labels.shape, np.uint8)
    drawn[27:30, 145:155, 65:75] = 1
    editor.delineator.labels = drawn  # what brush strokes do
    app.save_button.click()
    assert _message(app)[0] == "ok", _message(app)
    written = course / "references" / "week-1" / "outline-reference.dcm"
    found = load_structures(written, image=app.draft.volume)
    assert np.array_equal(next(iter(found.masks.values())).astype(np.uint8), drawn)

    app.name.value = "from-seg"
    editor.source.value = str(seg)
    assert _message(app) == ("ok", "The key is seg-nodule.dcm: Lung nodule.")
    app.save_button.click()
    assert _message(app)[0] == "ok", _message(app)
    copied = course / "references" / "week-1" / "from-seg-reference.dcm"
    assert copied.read_bytes() == seg.read_bytes()
    assert not list((course / "source").rglob("*.dcm"))  # keys never beside the notebook


def test_the_command_needs_a_course_and_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    for course, problem in (
        (tmp_path / "missing", "missing: no such folder (--course)"),
        (tmp_path, "holds no nbgrader course (no nbgrader_config.py here or in graders/)"),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "dicomteach.cli", "author", "--course", str(course)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr


def test_a_seg_imported_with_its_study_is_offered_as_the_key_and_still_fits_it(
    app, course, tmp_path
):
    """De-identification gives the images and their SEG new UIDs with one key: the SEG,
    imported beside its CT, still references it and grades against it."""
    import numpy as np

    from dicomteach import io
    from dicomteach.io.writer import write_ct_series
    from dicomteach.roi import DelineationAnswer, save_delineation, write_seg

    export = tmp_path / "pacs-export"
    ball = np.zeros((6, 40, 40), bool)
    ball[2:5, 14:24, 12:22] = True
    write_ct_series(export / "ct", np.where(ball, 40.0, -800.0), spacing=(2.5, 0.8, 0.8))
    write_seg({"Tumour": ball}, io.load(export / "ct"), export / "seg" / "tumour.dcm")
    app.import_path.value = str(export)
    app.import_button.click()
    assert _message(app)[1].startswith("7 files de-identified"), _message(app)
    _fill(app)
    app.name.value = "tumour"
    app.kind.value = "delineate"
    (offered,) = app.editor.source.options[1:]
    assert Path(offered).is_relative_to(course / "studies")
    app.editor.source.value = offered
    assert _message(app)[1].endswith(": Tumour.")
    assert app.editor.structures.value == "Tumour"
    app.save_button.click()
    assert _message(app)[0] == "ok", _message(app)
    key = Activity.load(course / "references" / "week-1" / "tumour.yaml")
    answer = DelineationAnswer(ball.astype(np.uint8), key.volume.spacing, ("Tumour",))
    save_delineation(answer, tmp_path / "tumour.npz")
    assert key.grade(tmp_path / "tumour.npz").points == 2


def _two_ct_studies(course: Path, tmp_path: Path) -> list:
    """pydicom's CT_small imported as two studies of one patient, a week apart."""
    import pydicom
    from pydicom.data import get_testdata_file

    from dicomteach.course.library import import_study

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    studies = []
    for n, date in enumerate(("20240301", "20240308")):
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = (
            pydicom.uid.generate_uid() for _ in range(3)
        )
        ds.StudyDate = date
        folder = tmp_path / f"export-{n}"
        folder.mkdir()
        ds.save_as(folder / "ct.dcm")
        (study,) = import_study(course, folder).studies
        studies.append(study)
    return studies


def test_a_worklist_picks_several_studies_in_the_order_they_arrived_and_keeps_them(
    course, tmp_path
):
    first, second = _two_ct_studies(course, tmp_path)
    session = tmp_path / "session"
    app = AuthoringApp(course, session=session, thumbnails=False)
    assert app.study_heading.value == "<h3>1. Choose a study</h3>"
    app.choose(second.key)  # chosen before the type: the worklist's first case
    app.kind.value = "worklist"
    editor = app.editor
    assert "Choose the worklist's studies" in app.study_heading.value
    assert app.window.layout.display == app.tolerance.layout.display == "none"  # not asked
    assert [c.key for c in editor.cases] == [second.key]
    app.choose(first.key)
    assert _message(app) == ("ok", f"{first.title} is Case B.")
    fundus = next(s for s in SAMPLE_STUDIES if s.location.sample == "op-fundus")
    app.choose(fundus.key)  # a photograph: not a study the AI scores
    kind, text = _message(app)
    assert kind == "error" and text.startswith("Fundus photograph is OP: the worklist's AI scores")

    def badges() -> dict:
        return {
            k: c.children[3].value
            for k, c in app.card_of.items()
            if "dt-author-in-worklist" in c._dom_classes
        }

    assert badges() == {second.key: "Case A", first.key: "Case B"}
    # each row: its label, its picture, patient · date · modality, the truth's buttons
    rows = editor.rows.children
    assert [r.children[0].value for r in rows] == [
        '<b class="dt-author-case-label">Case A</b>',
        '<b class="dt-author-case-label">Case B</b>',
    ]
    assert rows[0].children[1].value[:4] == b"\x89PNG"
    from datetime import date

    from dicomteach.course.library import study_facts

    facts = [study_facts(s) for s in (second, first)]
    assert [f.line() in r.children[2].value for f, r in zip(facts, rows, strict=True)] == [True] * 2
    # the dates as de-identified: shifted, a week apart still
    later, earlier = (date.fromisoformat(f.date) for f in facts)
    assert (later - earlier).days == 7 and facts[0].modality == "CT"
    editor.move(first.key, -1)  # it arrived first after all
    assert badges() == {first.key: "Case A", second.key: "Case B"}
    editor.truths[first.key].value = "normal"
    editor.truths[second.key].value = "abnormal"
    editor.order.value = "arrival"
    _fill(app)
    app.name.value = "triage"
    app.save_button.click()
    assert _message(app)[0] == "ok", _message(app)
    key = Activity.load(course / "references" / "week-1" / "triage.yaml")
    assert key.order == "arrival" and key.reference == [False, True]
    assert [Path(c.path).name for c in key.cases] == [
        Path(first.location.path).name,
        Path(second.location.path).name,
    ]
    # a page reloaded: a new app on the same session has the worklist as it was
    again = AuthoringApp(course, session=session, thumbnails=False)
    again.kind.value = "worklist"
    assert [c.key for c in again.editor.cases] == [first.key, second.key]
    assert [again.editor.truths[k].value for k in (first.key, second.key)] == [
        "normal",
        "abnormal",
    ]
    assert again.editor.order.value == "arrival"
    again.choose(first.key)  # a click on a case's picture takes it out
    assert [c.key for c in again.editor.cases] == [second.key]
    assert "dt-author-in-worklist" not in again.card_of[first.key]._dom_classes
