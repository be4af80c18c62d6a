"""A second reading in a real JupyterLab, with a real mouse: the AI's marks appear only after
"Show me the AI".

The lessons' teaching CT (512², written into the run's sample cache by the
kernel) is read with a click, the first reading is kept, the nodule model's
own marks (run in the kernel) are drawn in cyan on the same image, the
reading is revised with a second click, and "Check my answer" grades both
readings.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import canvas_rgba, drag, pixel_centre

pytestmark = pytest.mark.browser

NOTEBOOK = "second-reader.ipynb"
CELLS = [
    "from dicomteach import io\n"
    "from dicomteach.activities import SecondReader\n"
    "from dicomteach.samples.cache import lesson_study\n"
    "teaching = lesson_study('ct-chest-findings')\n"
    "ct = io.load(teaching / 'ct')\n"
    "names = ['spiculated nodule RUL 16 mm', 'part-solid nodule LUL 14 mm',\n"
    "         'ground-glass nodule RLL 12 mm', 'solid nodule LLL 9 mm',\n"
    "         'calcified granuloma RML 7 mm']\n"
    "key = {n: {'file': teaching / 'seg-findings.dcm', 'structure': n} for n in names}\n"
    "probe = SecondReader('probe', ct, prompt='x', reference=key)\n"
    "first = probe.candidates()[0]  # the model's surest mark: its slice is shown\n"
    "reader = SecondReader('reader', ct, prompt='Click each nodule', points=5,\n"
    "                      reference=key, window='Lung', slice=first.slice_index + 1)\n"
    "reader",
    "from dicomteach.activities import SecondReaderOutline\n"
    "outline = SecondReaderOutline('part-solid', ct, prompt='Outline the part-solid nodule',\n"
    "    points=10, structures=['Nodule'], reference=teaching / 'seg-findings.dcm',\n"
    "    reference_structure=names[1], window='Lung', slice=80)\n"
    "outline",
]
READY = (
    "document.querySelectorAll('.dt-activity canvas.dt-viewer-canvas[data-rendered=\"1\"]')"
    ".length === 2"
)

AI = np.array([0, 229, 255])
"""The AI's marks (questions.css, ``.dt-q-other-box``)."""


@pytest.fixture(scope="module")
def reading(lab_notebook, lab_server, module_page, kernel):
    module_page.set_viewport_size({"width": 1280, "height": 1100})
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    mark = kernel.json(page, "[first.slice_index] + [round(v, 2) for v in first.centre_index[1:]]")
    return page, Path(lab_server["root"]), mark


def _cyan(viewport) -> np.ndarray:
    """Where the screenshot of ``viewport`` has the AI's colour: (rows, columns) of those pixels."""
    shot = np.asarray(Image.open(io.BytesIO(viewport.screenshot())).convert("RGB")).astype(int)
    return np.argwhere(np.abs(shot - AI).sum(axis=2) < 60)


def _saved(path: Path, predicate, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    data: dict = {}
    while time.monotonic() < deadline:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if predicate(data):
                return data
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never held what was expected: {data}")


def test_the_ai_marks_are_drawn_after_show_me_the_ai_and_not_before(reading, artifacts):
    page, root, (k, row, col) = reading
    activity = page.locator(".dt-activity").nth(0)
    viewport = activity.locator(".dt-viewport")
    canvas = activity.locator("canvas.dt-viewer-canvas")
    viewport.scroll_into_view_if_needed()
    assert canvas.get_attribute("data-slice") == str(k)
    assert len(_cyan(viewport)) == 0 and activity.locator(".dt-q-other-mark").count() == 0
    viewport.screenshot(path=str(artifacts / "second-reader-before.png"))

    # the first reading: a click on the model's surest mark (the first click gives the keys)
    page.mouse.click(*pixel_centre(canvas, row, col))
    page.wait_for_selector(".dt-activity .dt-q-hotspot[data-active='1']")
    page.mouse.click(*pixel_centre(canvas, row, col))
    _saved(root / "reader.json", lambda d: len(d["points"]) == 1)
    assert len(_cyan(viewport)) == 0

    activity.locator("button.dt-second-reader-show").click()
    activity.locator(".dt-q-other-mark").first.wait_for(timeout=30_000)
    page.wait_for_timeout(300)  # the next frame
    cyan = _cyan(viewport)
    viewport.screenshot(path=str(artifacts / "second-reader-after.png"))
    assert len(cyan) > 60, "the AI's square is drawn"
    # round the mark the learner clicked on: the square's pixels surround it
    box = viewport.bounding_box()
    x, y = pixel_centre(canvas, row, col)
    centre = np.array([y - box["y"], x - box["x"]])
    near = cyan[np.abs(cyan - centre).max(axis=1) < 80] - centre
    sides = [near[:, 1] < -5, near[:, 1] > 5, near[:, 0] < -5, near[:, 0] > 5]
    assert [int(side.sum()) > 10 for side in sides] == [True] * 4, "left, right, above, below"
    assert "AI" in activity.locator(".dt-q-other-mark text").first.text_content()
    saved = _saved(root / "reader.json", lambda d: "first_points" in d)
    assert len(saved["first_points"]) == 1

    # revise: a second click, far from the first (the button took the keys: a click gives
    # them back first); the first reading stays as it was
    page.mouse.click(*pixel_centre(canvas, 20, 20))
    page.wait_for_selector(".dt-activity .dt-q-hotspot[data-active='1']")
    page.mouse.click(*pixel_centre(canvas, 20, 20))
    saved = _saved(root / "reader.json", lambda d: len(d["points"]) == 2)
    assert len(saved["first_points"]) == 1

    activity.locator("button.dt-check-button").click()
    feedback = activity.locator(".dt-check-feedback")
    feedback.locator("text=Your reading after the AI").wait_for(timeout=30_000)
    assert feedback.locator("img[alt='readings.png']").count() == 1
    activity.screenshot(path=str(artifacts / "second-reader-checked.png"))


def test_the_ais_outline_is_drawn_in_cyan_after_show_me_the_ai(reading, kernel, artifacts):
    page, root, _ = reading
    activity = page.locator(".dt-activity").nth(1)
    other = activity.locator("canvas.dt-viewer-other")
    canvas = activity.locator("canvas.dt-viewer-canvas")
    activity.locator(".dt-viewport").scroll_into_view_if_needed()
    assert other.is_hidden()
    # a short brush stroke across the nodule (the part-solid nodule's slice, 80 from 1)
    row, col = kernel.json(
        page,
        "[float(v) for v in __import__('numpy').argwhere(outline._reference_mask()[79]).mean(0)]",
    )
    activity.locator("button[data-tool='brush']").click()
    drag(page, pixel_centre(canvas, row, col - 4), pixel_centre(canvas, row, col + 4), steps=6)
    _wait_file(root / "part-solid.npz")
    activity.locator("button.dt-second-reader-show").click()
    activity.locator(".dt-second-reader-status", has_text="cyan").wait_for(timeout=30_000)
    other.wait_for(state="visible", timeout=30_000)
    rgba = canvas_rgba(other)
    cyan = (np.abs(rgba[..., :3].astype(int) - AI).sum(axis=2) < 60) & (rgba[..., 3] > 0)
    activity.screenshot(path=str(artifacts / "second-reader-outline-after.png"))
    rows, cols = np.nonzero(cyan)
    assert len(rows) > 30, "the AI's outline is drawn"
    # round the nodule: its outline's pixels lie on every side of the nodule's centre
    assert rows.min() < row < rows.max() and cols.min() < col < cols.max()
    assert kernel.json(page, "outline.question.first_labels is not None")


def _wait_file(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path.name} was never written"
