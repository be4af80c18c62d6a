"""samples.cache.lesson_study: written once, reused, never half-written, never stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dicomteach.samples import cache
from dicomteach.samples.cache import lesson_study


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DICOMTEACH_CACHE", str(tmp_path))
    return tmp_path


def test_a_study_is_written_once_and_then_reused(root):
    first = lesson_study("op-fundus")
    stamp = (first / "IM000001.dcm").stat().st_mtime_ns
    assert lesson_study("op-fundus") == first
    assert (first / "IM000001.dcm").stat().st_mtime_ns == stamp
    assert first.parent == root / "samples"


def test_other_arguments_or_a_changed_generator_make_a_new_entry(root, monkeypatch):
    small = lesson_study("nm-spect")
    assert lesson_study("nm-spect", seed=1) != small
    monkeypatch.setattr(cache, "_generator_digest", lambda: "edited generator")
    assert lesson_study("nm-spect") != small


def test_two_kernels_at_once_end_with_one_complete_copy(root):
    code = "from dicomteach.samples.cache import lesson_study; print(lesson_study('us-cine'))"
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    paths = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(paths) == 1
    entries = list((root / "samples").iterdir())
    assert [e.name for e in entries] == [paths.pop().rsplit("/", 1)[1]]  # no staging left
    assert any(entries[0].rglob("*.dcm"))


def test_an_unknown_study_is_refused(root):
    with pytest.raises(ValueError, match="Argument 'study' must be one of .*'ct-chest'"):
        lesson_study("ct-head")


def test_the_hub_writes_the_ai_cases_lessons_open_and_the_studies_they_ask_for():
    """Learners never write the hub's cache: what the lessons open is found in their code."""
    from dicomteach.hub.install import course_ai_cases, course_samples

    project = Path(__file__).resolve().parents[1]
    cases = course_ai_cases(project)
    assert ("lesson_pair", (4,), {}) in cases
    assert {args for name, args, _ in cases if name == "film_folder"} >= {(0,), (1,), (2,), (16,)}
    assert ("ct-chest-findings", {}) in course_samples(project)


def test_every_study_a_lesson_writes_is_found_by_the_hub_setup():
    """A lesson that writes a study or an AI case with a computed argument, or through a
    function setup does not know, would write the hub's sample cache as the learner,
    who may not: every such call in the lessons and assignments has literal arguments."""
    import ast
    import json

    from dicomteach.hub.install import AI_CASES

    project = Path(__file__).resolve().parents[1]
    found = {"lesson_study"} | set(AI_CASES)
    writers = {"case_folder", "held_out_folder", "write_case", "write_pair", "pair_folder"}
    notebooks = sorted((project / "notebooks").glob("*.ipynb"))
    notebooks += sorted((project / "graders" / "source").glob("*/*.ipynb"))
    calls = []
    for notebook in notebooks:
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                where = f"{notebook.name}: {ast.unparse(node)}"
                assert name not in writers, f"{where} writes the cache where setup cannot see it"
                if name in found:
                    calls.append(where)
                    for arg in [*node.args, *(k.value for k in node.keywords)]:
                        ast.literal_eval(arg)  # ValueError: setup would not find this call
    assert any("known_error_case(" in call for call in calls), calls
    assert any("film_folder(" in call for call in calls), calls


def test_hub_setup_writes_a_lessons_ai_case_into_the_class_cache_open_to_learners(
    tmp_path, monkeypatch
):
    """What `dicomteach hub setup` does with the cases a lesson opens: each is written
    once into the class's cache, every learner can read it, and the setup's own cache
    setting is left as it was."""
    import os
    import stat

    from dicomteach.ai.film_cases import film_folder
    from dicomteach.hub.install import prepare_ai_cases

    mine = tmp_path / "mine"
    monkeypatch.setenv("DICOMTEACH_CACHE", str(mine))
    cls = tmp_path / "class"
    (folder,) = prepare_ai_cases(cls, [("film_folder", (0,), {})])
    assert folder.parent.parent == cls and any(folder.rglob("*.dcm"))
    assert os.environ["DICOMTEACH_CACHE"] == str(mine) and not mine.exists()
    for path in [folder, *folder.rglob("*")]:
        others = stat.S_IMODE(path.stat().st_mode) & 0o005
        assert others == (0o005 if path.is_dir() else 0o004), path
    monkeypatch.setenv("DICOMTEACH_CACHE", str(cls))
    assert film_folder(0) == folder  # a learner's kernel finds it, writes nothing
