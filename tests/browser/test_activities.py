"""Activities in a real JupyterLab (with nbgrader's extension installed), with a real mouse.

A practice activity (with its reference) shows "Check my answer" under its
Hotspot; a released one (without) says the answer is saved and graded after
submission. Clicks reach the answer file beside the notebook, the button
grades it in the kernel, and a ``grade("name")`` cell in a learner's kernel
scores nothing (docs/decisions.md, decision 28).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .conftest import pixel_centre

pytestmark = pytest.mark.browser

NOTEBOOK = "activities.ipynb"
SETUP = (
    "import os\n"
    "import numpy as np\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.activities import Hotspot, MultipleChoice, grade\n"
    "if not os.path.exists('act'):\n"
    "    k, r, c = np.mgrid[0:6, 0:40, 0:40]\n"
    "    write_ct_series('act', -900 + 900.0 * ((r - 25) ** 2 + (c - 10) ** 2 < 16),\n"
    "                    spacing=(2.5, 1.0, 1.0))\n"
)
CELLS = [
    SETUP,
    "practice = Hotspot('practice', 'act', prompt='Click the nodule', points=2, slice=3,\n"
    "                   reference={'nodule': {'point': [25, 10], 'slice': 3, 'radius_mm': 4}})\n"
    "practice",
    "released = Hotspot('released', 'act', prompt='Click the nodule', points=2, slice=3)\nreleased",
    "graded = grade('released')\ngraded",
    "quiz = MultipleChoice('finding', 'act', prompt='What is it?', points=1,\n"
    "                      options=['Nodule', 'Normal'], reference='Nodule')\nquiz",
]
READY = (
    "document.querySelectorAll('.dt-activity canvas.dt-viewer-canvas[data-rendered=\"1\"]')"
    ".length === 3"
)


@pytest.fixture(scope="module")
def activities(lab_notebook, lab_server, module_page):
    module_page.set_viewport_size({"width": 1280, "height": 1400})
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    return page, Path(lab_server["root"])


def _wait_for(path: Path, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["points"]:
                return data
        time.sleep(0.05)
    raise AssertionError(f"{path.name} was never written")


def test_a_practice_activity_grades_the_click_with_check_my_answer(activities, artifacts):
    page, root = activities
    practice = page.locator(".dt-activity").nth(0)
    button = practice.locator("button.dt-check-button")
    assert button.is_disabled()
    canvas = practice.locator("canvas.dt-viewer-canvas")
    canvas.scroll_into_view_if_needed()
    page.mouse.click(*pixel_centre(canvas, 25, 11))  # gives the widget the keys
    page.wait_for_selector(".dt-activity .dt-q-hotspot[data-active='1']")
    page.mouse.click(*pixel_centre(canvas, 25, 11))  # answers
    data = _wait_for(root / "practice.json")
    assert data["activity"] == "practice" and round(data["points"][0]["image"][2]) == 11
    button.click()
    feedback = practice.locator(".dt-check-feedback")
    feedback.locator("text=2 / 2 points").wait_for(timeout=15_000)
    assert "nodule: found" in feedback.inner_text()
    practice.screenshot(path=str(artifacts / "activity-practice-checked.png"))


def test_a_released_activity_says_it_is_graded_after_submission(activities, artifacts):
    page, root = activities
    released = page.locator(".dt-activity").nth(1)
    assert released.locator("button.dt-check-button").count() == 0
    note = released.locator(".dt-activity-note").inner_text()
    assert "released.json" in note and "graded after you submit" in note
    # the grade cell, run in a learner's kernel, grades nothing
    output = page.locator(".jp-OutputArea-output", has_text="is saved beside this notebook")
    assert "graded after you submit" in output.inner_text()
    released.screenshot(path=str(artifacts / "activity-released.png"))


def test_a_multiple_choice_beside_the_image_saves_the_pick_and_grades_it(activities, artifacts):
    page, root = activities
    quiz = page.locator(".dt-activity").nth(2)
    quiz.scroll_into_view_if_needed()
    assert quiz.locator("canvas.dt-viewer-canvas[data-rendered='1']").count() == 1
    quiz.locator(".dt-choice-options label", has_text="Nodule").click()
    path = root / "finding.json"
    deadline = time.monotonic() + 15
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(path.read_text())["choice"] == "Nodule"
    quiz.locator("button.dt-check-button").click()
    quiz.locator(".dt-check-feedback", has_text="1 / 1 points").wait_for(timeout=15_000)
    quiz.screenshot(path=str(artifacts / "activity-choice-checked.png"))
