"""A triage worklist in a real JupyterLab: thumbnails drawn, rows in the AI's order, a case
opened in the viewer, a verdict clicked, the log saved, the feedback's picture shown.

Four held-out films (two patients of ``ai/films.py``, each without and with
findings; the middle of the plate, to be quick: a lesion may lie outside it, so
this test does not judge the model, only what the learner sees and saves) are
made and scored by the triage model in the kernel.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

NOTEBOOK = "worklist.ipynb"
CELLS = [
    "from dicomteach.ai.films import film_specs, render_films, write_film\n"
    "from dicomteach.activities import Worklist\n"
    "films = [f for s in film_specs('held-out', 2) for f in render_films(s, rows=1400, columns=1300)]\n"
    "paths = [str(write_film(f, f'{f.name}.dcm')) for f in films]\n"
    "worklist = Worklist('triage', prompt='Which films hold a nodule or a mass?', points=4,\n"
    "    cases=paths, reference=['abnormal' if f.holds_lesion else 'normal' for f in films])\n"
    "worklist",
]
READY = "document.querySelectorAll('.dt-worklist img.dt-worklist-thumbnail').length === 4"


@pytest.fixture(scope="module")
def shown(lab_notebook, lab_server, module_page, kernel):
    module_page.set_viewport_size({"width": 1280, "height": 1100})
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    order = kernel.json(page, "[worklist.labels[n] for n in worklist.shown()]")
    scores = kernel.json(page, "[worklist.scores()[n][0] for n in worklist.shown()]")
    return page, Path(lab_server["root"]), order, scores


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


def test_the_worklist_is_drawn_in_the_ais_order_and_read_case_by_case(shown, artifacts):
    page, root, order, scores = shown
    activity = page.locator(".dt-worklist")
    activity.scroll_into_view_if_needed()
    activity.screenshot(path=str(artifacts / "worklist.png"))
    # each thumbnail drawn: a chest film, grey, dark lungs beside a bright middle
    for n in range(4):
        thumb = activity.locator("img.dt-worklist-thumbnail").nth(n)
        shot = np.asarray(Image.open(io.BytesIO(thumb.screenshot())).convert("RGB")).astype(int)
        assert shot.shape[0] >= 60
        assert np.abs(shot[..., 0] - shot[..., 2]).max() < 8, "grey"
        assert shot.std() > 20, "an image, not a blank"
    # the rows as the AI ordered them, with its scores
    labels = [t.strip() for t in activity.locator(".dt-worklist-label").all_text_contents()]
    assert labels == order and scores == sorted(scores, reverse=True)
    said = activity.locator(".dt-worklist-score").all_text_contents()
    assert said[0].startswith(f"{100 * scores[0]:.0f} %")
    # open the first case: the viewer draws it; then the verdict
    activity.locator("button.dt-worklist-open").first.click()
    page.wait_for_selector(".dt-worklist canvas.dt-viewer-canvas[data-rendered='1']")
    assert activity.locator(".dt-worklist-heading").text_content().strip() == order[0]
    _saved(root / "triage.json", lambda d: [e["event"] for e in d["events"]] == ["open"])
    activity.locator(".dt-worklist-verdict").first.locator("button", has_text="Abnormal").click()
    data = _saved(root / "triage.json", lambda d: len(d["events"]) == 2)
    assert data["events"][1]["case"] == order[0] and data["events"][1]["event"] == "abnormal"
    assert data["events"][1]["t"] > 0
    page.locator(".dt-activity button.dt-check-button").click()
    feedback = page.locator(".dt-activity .dt-check-feedback")
    feedback.locator("text=Misses").wait_for(timeout=30_000)
    assert feedback.locator("img[alt='worklist.png']").count() == 1
    page.locator(".dt-activity").screenshot(path=str(artifacts / "worklist-checked.png"))
