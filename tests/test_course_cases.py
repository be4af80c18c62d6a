"""The graded assignments in graders/ grade cases no lesson shows, and their keys are the model's.

A lesson practises on a sample case with the answer revealed (lesson 05 draws
the nodule's reference outline, lesson 03 the radiograph's nodule): a graded
assignment on the same case would grade what the learner was shown. Every
sample study named by an answer key (``graders/references/**.yaml``), by an
assignment's source notebook or by a lesson (``notebooks/*.ipynb``, each
``lesson_study(...)`` call, seed 0 unless given) is collected here, and no
case is both graded and taught. The radiograph is a projection of the chest
CT's patient (``dicomteach/samples/cr_chest.py``): ``cr-chest`` and
``ct-chest`` of one seed are one case.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from dicomteach.activities import Activity
from dicomteach.samples import cr_chest

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "graders" / "references"
SOURCES = ROOT / "graders" / "source"
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Studies that show the same patient: the radiograph is the chest CT's patient's.
SAME_PATIENT = {"cr-chest": "ct-chest"}


def _case(study: str, seed: int) -> tuple[str, int]:
    return SAME_PATIENT.get(study, study), seed


def _samples_in(value: object) -> Iterator[dict]:
    """Every sample location (``{sample: …, path: …}``) anywhere in a key's YAML."""
    if isinstance(value, Mapping):
        if "sample" in value:
            yield dict(value)
        for item in value.values():
            yield from _samples_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _samples_in(item)


def _key_studies(assignment: Path) -> dict[tuple[str, int], dict]:
    """(study, seed) → the other options, of every sample location in the assignment's keys."""
    found = {}
    for path in sorted(assignment.glob("*.yaml")):
        for location in _samples_in(yaml.safe_load(path.read_text())):
            options = {k: v for k, v in location.items() if k not in ("sample", "path", "seed")}
            found[location["sample"], int(location.get("seed", 0))] = options
    return found


def _lesson_study_calls(notebook: Path) -> dict[tuple[str, int], dict]:
    """(study, seed) → the other options, of every ``lesson_study(...)`` call in a notebook."""
    found = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            function = getattr(node, "func", None)
            name = getattr(function, "id", None) or getattr(function, "attr", None)
            if not isinstance(node, ast.Call) or name != "lesson_study":
                continue
            # a study named by a variable could be any case: the check needs it written out
            assert node.args and isinstance(node.args[0], ast.Constant), (
                f"{notebook.name}: lesson_study's study must be a literal: {ast.unparse(node)}"
            )
            options = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            seed = int(options.pop("seed", 0))
            found[node.args[0].value, seed] = options
    return found


def _graded() -> dict[tuple[str, int], set[str]]:
    """Each case an assignment grades (by its keys or its notebook), and those assignments."""
    out: dict[tuple[str, int], set[str]] = {}
    for folder in sorted(REFERENCES.iterdir()):
        notebook = SOURCES / folder.name / f"{folder.name}.ipynb"
        for study, seed in [*_key_studies(folder), *_lesson_study_calls(notebook)]:
            out.setdefault(_case(study, seed), set()).add(folder.name)
    return out


def test_every_assignment_and_lesson_names_its_cases():
    """The collection below sees each assignment's and each lesson's studies (a sanity check:
    a check that found nothing would pass for nothing)."""
    assert set().union(*_graded().values()) == {"cr-quiz", "ct-followup", "ct-nodule"}
    taught = {case for lesson in LESSONS for case in _lesson_study_calls(lesson)}
    assert {("ct-chest", 0), ("cr-chest", 0), ("ct-chest-findings", 0)} <= taught


def test_no_assignment_grades_a_case_a_lesson_reveals():
    graded = _graded()
    shared = [
        f"{lesson.name} shows {study} seed {seed}, the case {sorted(graded[_case(study, seed)])} grade"
        for lesson in LESSONS
        for study, seed in _lesson_study_calls(lesson)
        if _case(study, seed) in graded
    ]
    assert not shared, "; ".join(shared)


@pytest.mark.parametrize("assignment", sorted(p.name for p in REFERENCES.iterdir()))
def test_the_learners_notebook_opens_the_studies_its_keys_grade(assignment):
    """The released cell builds its study with lesson_study: the same study, seed and size
    as the key's, or the learner would answer on another case than the one graded."""
    notebook = SOURCES / assignment / f"{assignment}.ipynb"
    assert _lesson_study_calls(notebook) == _key_studies(REFERENCES / assignment)


def test_the_radiograph_quizs_points_are_where_the_patient_model_puts_them():
    """The mass and the anatomy of the cr-quiz keys: the model's projection of the nodule
    and of each landmark (``cr_chest.nodule_pixel``, ``cr_chest.landmark_pixels``) on the
    key's film, to the pixel; a key moved to another seed without its points fails here."""
    mass = Activity.load(REFERENCES / "cr-quiz" / "mass.yaml")
    anatomy = Activity.load(REFERENCES / "cr-quiz" / "anatomy.yaml")
    assert mass.study.options == anatomy.study.options
    seed = int(mass.study.options.get("seed", 0))
    model = {"mass": cr_chest.nodule_pixel(seed), **cr_chest.landmark_pixels(seed)}
    regions = [*mass.reference, *anatomy.reference]
    assert sorted(r.name for r in anatomy.reference) == sorted(anatomy.labels)
    for region in regions:
        row, column = region.coordinates[0]
        expected = model[region.name]
        assert abs(row - expected[0]) <= 0.5 and abs(column - expected[1]) <= 0.5, region.name
