"""The formgrader in the instructor's JupyterLab, after a real autograde of the CT nodule.

The course in ``graders/`` is copied into the folder a real JupyterLab serves
and runs in (the formgrader reads ``nbgrader_config.py`` from Lab's working
folder, and the course must lie inside Lab's root); ``ct-nodule`` is
generated and two learners' submissions are autograded by nbgrader (alice's
outline is the first observer's, bob's is drawn 4 pixels to one side). nbgrader's
server and Lab extensions come with its wheel (``etc/jupyter`` and
``share/jupyter/labextensions`` of the environment): nothing is enabled here.
The instructor opens the formgrader from Lab's Nbgrader menu command (an
iframe in a Lab tab), finds the submissions, opens bob's, and sees the
feedback picture of his outline against the reference, pixel for pixel.
Behind JupyterHub ≥ 4.1 the iframe is refused (``frame-ancestors 'none'``,
nbgrader #1870, #1947): the formgrader then opens in a browser tab of its
own, which the last test takes.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import new_page, screenshot_on_failure
from .lab import Lab

pytest.importorskip("nbgrader")

pytestmark = [
    pytest.mark.browser,
    # nbgrader 0.9.6's own gradebook code, on SQLAlchemy 2: harmless, not ours
    pytest.mark.filterwarnings("ignore:Object of type .* not in session"),
]

GRADERS = Path(__file__).resolve().parents[2] / "graders"
MADE_BY_GRADING = ("release", "submitted", "autograded", "feedback", "exchange", "gradebook.db*")
MADE_BY_GRADING += (".prepared",)
LEARNERS = {"alice": ("Alice", "Martin", 0), "bob": ("Bob", "Okafor", 4)}
"""Each learner's names, and their outline: the first observer's, shifted this many pixels aside."""

READ_IMG = """(img) => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const d = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  }
  return [canvas.height, canvas.width, btoa(s)];
}"""


def _submit(course: Path, api, db_url: str) -> None:
    """Each learner's copy of the released notebook with their outline, as nbgrader collects it,
    autograded by nbgrader."""
    from nbgrader.api import Gradebook

    from dicomteach.activities import Activity
    from dicomteach.roi import DelineationAnswer, load_structures, save_delineation

    key = Activity.load(course / "references" / "ct-nodule" / "nodule.yaml")
    volume = key.volume
    # the key lists three observers' outlines (docs/decisions.md, decision 29): alice's is
    # the first observer's, inside their spread
    files = key.reference.resolve()
    found = load_structures(files[0] if isinstance(files, list) else files, image=volume)
    nodule = next(iter(found.masks.values())).astype(np.uint8)
    with Gradebook(db_url) as book:  # as `nbgrader db student add` does
        for learner, (first, last, _) in LEARNERS.items():
            book.update_or_create_student(learner, first_name=first, last_name=last)
    for learner, (_, _, shift) in LEARNERS.items():
        folder = course / "submitted" / learner / "ct-nodule"
        shutil.copytree(course / "release" / "ct-nodule", folder)
        (folder / "timestamp.txt").write_text("2026-01-05 09:00:00.000000 UTC")
        outline = DelineationAnswer(
            np.roll(nodule, shift, axis=2),
            volume.spacing,
            ("Nodule",),
            series_uid=volume.series_uid,
        )
        save_delineation(outline, folder / "nodule.npz")
        result = api.autograde("ct-nodule", learner)
        assert result["success"], result.get("log")


@pytest.fixture(scope="module")
def formgrader(sync_playwright_module, tmp_path_factory):
    """JupyterLab serving the course after a real autograde; yields the Lab and the course."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    lab = Lab(tmp_path_factory.mktemp("formgrader"))
    course = lab.root
    shutil.copytree(GRADERS, course, ignore=shutil.ignore_patterns(*MADE_BY_GRADING))
    with pytest.MonkeyPatch.context() as mp:  # the course's configuration sets variables
        mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        mp.setenv("DICOMTEACH_REFERENCES", "")
        mp.delenv("DICOMTEACH_EXCHANGE", raising=False)
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        api = NbGraderAPI(config=config)
        for step in (api.generate_assignment, api.release_assignment):
            result = step("ct-nodule")
            assert result["success"], result.get("log")
        _submit(course, api, config.CourseDirectory.db_url)
    try:
        lab.start()
        yield {"url": lab.url, "course": course}
    finally:
        lab.stop()


def _rows(frame) -> list[list[str]]:
    return [row.inner_text().split("\t") for row in frame.query_selector_all("table tbody tr")]


def _png_in_autograded(course: Path, learner: str) -> np.ndarray:
    """The worst-slices picture in the learner's autograded notebook, as RGB."""
    from PIL import Image

    notebook = (course / "autograded" / learner / "ct-nodule" / "ct-nodule.ipynb").read_text()
    data = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", notebook).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


@pytest.fixture(scope="module")
def instructor(browser, formgrader):
    """The instructor's Lab page, shared by the module's tests in order."""
    with new_page(browser, height=900) as page:
        yield page


def test_the_nbgrader_menu_opens_the_formgrader_in_lab_with_the_submissions(
    instructor, formgrader, artifacts
):
    page = instructor
    page.goto(f"{formgrader['url']}/lab?reset")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.commands.hasCommand("
        "'nbgrader:open-formgrader')",
        timeout=60_000,
    )
    # what Nbgrader > Formgrader does
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-formgrader')")
    with screenshot_on_failure(page, artifacts / "formgrader-timeout.png"):
        page.wait_for_selector(".lm-TabBar-tab:has-text('Formgrader')", timeout=30_000)
        page.wait_for_selector("iframe[src*='/formgrader']", timeout=30_000)
        frame = page.frame_locator("iframe[src*='/formgrader']")
        frame.locator("table tbody tr:has-text('ct-nodule')").wait_for(timeout=60_000)
    inside = next(f for f in page.frames if "/formgrader/" in f.url)
    assert inside.url.endswith("/formgrader/manage_assignments")
    ct = next(row for row in _rows(inside) if row[0] == "ct-nodule")
    assert ct[2] == "released" and ct[8] == "2"  # status, "# Submissions"
    inside.click("a[href$='/manage_submissions/ct-nodule']")
    inside.wait_for_selector("table tbody tr:has-text('bob')", timeout=30_000)
    listed = {row[1]: row for row in _rows(inside)}
    assert listed["alice"][0] == "Martin, Alice" and listed["alice"][4] == "10 / 10"
    assert listed["bob"][0] == "Okafor, Bob" and listed["bob"][3] == "graded"
    assert 0 < float(listed["bob"][4].split("/")[0]) < 5
    page.screenshot(path=str(artifacts / "formgrader-submissions.png"))


def test_a_learners_submission_shows_their_outline_against_the_reference(
    instructor, formgrader, artifacts
):
    page = instructor
    inside = next(f for f in page.frames if "/formgrader/" in f.url)
    inside.click("a[href$='/manage_students/bob/ct-nodule']")  # bob's name
    link = inside.wait_for_selector("a[href*='/formgrader/submissions/']", timeout=30_000)
    link.click()
    with screenshot_on_failure(page, artifacts / "formgrader-submission-timeout.png"):
        image = inside.wait_for_selector("img[alt='worst-slices.png']", timeout=60_000)
        image.scroll_into_view_if_needed()
        inside.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image)
    assert "/formgrader/submissions/" in inside.url
    box = image.bounding_box()
    assert box["width"] > 300 and box["height"] > 150  # laid out, not a broken-image icon
    rows, cols, data = image.evaluate(READ_IMG)
    drawn = np.frombuffer(base64.b64decode(data), np.uint8).reshape(rows, cols, 4)
    assert (drawn[..., 3] == 255).all()
    # the picture autograde drew for bob, every pixel of it
    assert np.array_equal(drawn[..., :3], _png_in_autograded(formgrader["course"], "bob"))
    r, g, b = (drawn[..., k].astype(int) for k in range(3))
    reference_green = (g > 160) & (r < 120) & (b < 120)
    learner_yellow = (r > 200) & (g > 160) & (b < 90)
    assert reference_green.sum() > 200 and learner_yellow.sum() > 200
    image.screenshot(path=str(artifacts / "formgrader-feedback-image.png"))
    page.screenshot(path=str(artifacts / "formgrader-submission.png"))
    # graded against the observers' consensus, full marks set by the least of them
    text = inside.inner_text("body")
    assert re.search(
        r"Dice 0\.\d\d \(full marks from 0\.\d\d: the least any of the 3 experts", text
    )


def test_the_formgrader_opens_in_a_tab_of_its_own_as_behind_a_hub(browser, formgrader):
    """Lab lets its own pages frame the formgrader; JupyterHub ≥ 4.1 sends 'none' instead
    (nbgrader #1870, #1947), and the formgrader's own address still works."""
    with new_page(browser) as page:
        answer = page.goto(f"{formgrader['url']}/formgrader/manage_submissions/ct-nodule")
        assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
        page.wait_for_selector("table tbody tr:has-text('bob')", timeout=30_000)
        assert sorted(row[1] for row in _rows(page.main_frame)) == ["alice", "bob"]
