"""A study with several series: thumbnails to switch, the SEG over its own series."""

from __future__ import annotations

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values, window_to_uint8
from dicomteach.io.volume import Window

from .conftest import canvas_rgba

pytestmark = pytest.mark.browser

CANVAS = "canvas.dt-viewer-canvas"
CELLS = [
    "import numpy as np\n"
    "from dicomteach.io.volume import Window\n"
    "from dicomteach.io.writer import StudyInfo, write_ct_series\n"
    "from dicomteach.roi.seg import write_seg\n"
    "from dicomteach.widgets import Viewer\n"
    "k, r, c = np.mgrid[0:6, 0:40, 0:48]\n"
    "study = StudyInfo()\n"
    "first = write_ct_series('study/a', (-1000 + 40 * c).astype(float), study=study,\n"
    "                        series_number=2, series_description='Thorax')\n"
    "write_ct_series('study/b', (300 - 20 * r).astype(float)[:4], study=study,\n"
    "                series_number=3, series_description='Thorax bone', spacing=(5.0, 0.7, 0.7))\n"
    "write_seg({'nodule': (k - 3) ** 2 + (r - 20) ** 2 + (c - 24) ** 2 < 36}, sorted(first),\n"
    "          'study/seg.dcm')\n"
    "viewer = Viewer('study', window=Window(0, 2000))\nviewer",
]
READY = "document.querySelector('canvas.dt-viewer-canvas[data-rendered=\"1\"]')"


@pytest.fixture(scope="module")
def study_page(lab_notebook):
    return lab_notebook("viewer_study.ipynb", CELLS, READY)


def test_series_thumbnails_switch_the_series_and_its_seg_follows(
    study_page, lab_server, kernel, artifacts
):
    page = study_page
    root = page.locator(".dt-viewer")
    buttons = root.locator("button.dt-series-button")
    assert buttons.count() == 2
    assert root.get_by_role("group", name="Series (2)").is_visible()  # how many, at a glance
    assert "Thorax" in buttons.nth(0).inner_text() and "4 images" in buttons.nth(1).inner_text()
    # Thumbnails are pictures, not empty boxes.
    thumb = buttons.nth(0).locator("img")
    assert thumb.evaluate("(img) => img.complete && img.naturalWidth") > 0
    assert buttons.nth(0).get_attribute("aria-pressed") == "true"

    first = io.load(lab_server["root"] / "study" / "a")
    drawn = canvas_rgba(root.locator(CANVAS))
    assert np.array_equal(
        drawn[..., 0], window_to_uint8(modality_values(first)[3], Window(0, 2000))
    )
    # The study's SEG is drawn over the series it refers to.
    overlay = canvas_rgba(root.locator("canvas.dt-viewer-overlay"))
    assert overlay[20, 24, 3] > 0 and overlay[2, 2, 3] == 0
    root.screenshot(path=str(artifacts / "viewer-study.png"))

    buttons.nth(1).click()
    page.wait_for_selector(f'{CANVAS}[data-rendered="1"][data-frame="2"]', timeout=20_000)
    second = io.load(lab_server["root"] / "study" / "b")
    canvas = page.locator(f".dt-viewer {CANVAS}")
    drawn = canvas_rgba(canvas)
    window = Window(*kernel.json(page, "[viewer.window_center, viewer.window_width]"))
    assert np.array_equal(drawn[..., 0], window_to_uint8(modality_values(second)[2], window))
    assert (
        page.locator(".dt-viewer button.dt-series-button").nth(1).get_attribute("aria-pressed")
        == "true"
    )
    assert not page.locator(".dt-viewer canvas.dt-viewer-overlay").is_visible()
    assert kernel.json(page, "viewer.volume.description") == "Thorax bone"
    # Keys still work on the rebuilt controls.
    page.locator(".dt-viewer").focus()
    page.keyboard.press("ArrowUp")
    page.wait_for_selector(f'{CANVAS}[data-frame="1"]', timeout=10_000)
