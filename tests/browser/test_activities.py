"""Activities in a real JupyterLab (with nbgrader's extension installed), with a real mouse.

A practice activity (with its reference) shows "Check my answer" under its
Hotspot; a released one (without) says the answer is saved and graded after
submission. Clicks reach the answer file beside the notebook, the button
grades it in the kernel, and a ``grade("name")`` cell in a learner's kernel
scores nothing (docs/decisions.md, decision 28). A follow-up reading
(CompareFindings) is answered with a ruler dragged across the nodule on each
date and a click on what changed.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import drag, pixel_centre

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
    "if not os.path.exists('act-after'):\n"
    "    k, r, c = np.mgrid[0:6, 0:40, 0:40]\n"
    "    for name, radius in (('act-before', 4), ('act-after', 7)):\n"
    "        disc = (r - 20) ** 2 + (c - 20) ** 2 <= radius**2\n"
    "        write_ct_series(name, -900 + 900.0 * disc, spacing=(2.5, 1.0, 1.0))\n"
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
    "from dicomteach.activities import CompareFindings\n"
    "key = {'nodule': {'change': 'grown',\n"
    "    'baseline': {'point': [20, 20], 'slice': 3, 'radius_mm': 6, 'diameter_mm': 9},\n"
    "    'followup': {'point': [20, 20], 'slice': 3, 'radius_mm': 9, 'diameter_mm': 15}}}\n"
    "change = CompareFindings('change', 'act-before', followup='act-after', findings=['nodule'],\n"
    "                         prompt='Measure the nodule on both dates: what changed?',\n"
    "                         points=3, slice=3, register=False, reference=key)\nchange",
]
READY = (
    "document.querySelectorAll('.dt-activity canvas.dt-viewer-canvas[data-rendered=\"1\"]')"
    ".length === 5"
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


RULER = np.array([255, 213, 79])
"""The ruler's stroke (viewer.css, ``.dt-measure line``)."""


def _ruler_pixels(viewport, start, end) -> int:
    """How many of 20 points along the segment start–end (page coordinates), away from its
    middle (where the other date's line crosses it), have the ruler's colour within a pixel,
    in a screenshot of ``viewport``."""
    shot = np.asarray(Image.open(io.BytesIO(viewport.screenshot())).convert("RGB")).astype(int)
    box = viewport.bounding_box()
    found = 0
    for t in [*np.linspace(0.1, 0.35, 10), *np.linspace(0.65, 0.9, 10)]:
        x = round(start[0] + t * (end[0] - start[0]) - box["x"])
        y = round(start[1] + t * (end[1] - start[1]) - box["y"])
        near = shot[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3)
        found += bool((np.abs(near - RULER).sum(axis=1) < 60).any())
    return found


def test_a_follow_up_reading_is_measured_with_the_mouse_on_both_dates(activities, artifacts):
    page, root = activities
    reading = page.locator(".dt-activity").nth(3)
    reading.scroll_into_view_if_needed()
    sides = {}
    for side in ("before", "after"):
        viewport = reading.locator(f".dt-compare-viewport[data-side='{side}']")
        sides[side] = (viewport, viewport.locator("canvas.dt-viewer-canvas"))
    assert sides["before"][1].get_attribute("data-slice") == "2"  # slice=3, from 1
    # the ruler is ready: drag across the nodule from edge to edge on each date, in
    # array (row, column): across the 9 mm baseline disc, down the 15 mm follow-up one
    strokes = {"before": ((20, 15.5), (20, 24.5)), "after": ((12.5, 20), (27.5, 20))}
    ends = {
        side: tuple(pixel_centre(sides[side][1], *p) for p in stroke)
        for side, stroke in strokes.items()
    }
    for side, (viewport, _) in sides.items():
        assert _ruler_pixels(viewport, *ends[side]) == 0, side
    for side in strokes:
        drag(page, *ends[side], steps=6)
    reading.locator(".dt-findings-change button", has_text="Grown").click()
    path = root / "change.json"
    deadline = time.monotonic() + 15
    saved: dict = {}
    while time.monotonic() < deadline:
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if len(saved["lines"]) == 2 and saved["changes"] == {"nodule": "grown"}:
                break
        time.sleep(0.05)
    assert saved["changes"] == {"nodule": "grown"}, saved
    assert [line["date"] for line in saved["lines"]] == ["baseline", "followup"]
    for line, stroke in zip(saved["lines"], strokes.values(), strict=True):
        assert [end[0] for end in line["image"]] == [2, 2]
        assert np.allclose([end[1:] for end in line["image"]], stroke, atol=0.2), line
    # what the browser drew: each date's line over its own picture
    for side, (viewport, _) in sides.items():
        assert _ruler_pixels(viewport, *ends[side]) >= 18, side
        length = 9.0 if side == "before" else 15.0
        label = "Baseline" if side == "before" else "Follow-up"
        text = viewport.locator(f".dt-measure-ruler[data-side='{side}'] text").text_content()
        assert text.startswith(f"{label}: ") and abs(float(text.split()[1]) - length) < 0.3
    reading.locator("button.dt-check-button").click()
    feedback = reading.locator(".dt-check-feedback")
    feedback.locator("text=3 / 3 points").wait_for(timeout=15_000)
    assert "✓ nodule has grown." in feedback.inner_text()
    assert feedback.locator("img[alt='followup.png']").count() == 1
    reading.screenshot(path=str(artifacts / "activity-compare-findings.png"))
