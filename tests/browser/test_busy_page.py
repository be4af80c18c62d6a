"""A page too busy to load a widget's module in time still gets working widgets.

anywidget's front end gives each model two seconds, from the moment the model is
created, to load its module; past that it rejects the model's readiness and every
later message from the kernel to that model is dropped (its ``_handle_comm_msg``
awaits the rejected promise). A page that is busy elsewhere for two seconds (a 3D
view compiling its shaders on a CPU renderer, Lab laying out a long notebook) left
lesson 2's Compare at "Loading… 0/60" for good. Here the budget is cut to nothing
(an init script makes anywidget's two-second signal fire at once), so every model
misses it; each widget must still receive its slices, draw the kernel's pixels and
follow a change made in the kernel, in JupyterLab and in Voilà.
"""

from __future__ import annotations

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values, window_to_uint8
from dicomteach.io.volume import Window

from .conftest import canvas_rgba, new_page, open_and_run, screenshot_on_failure
from .test_compare import (
    AFTER,
    BEFORE,
    CELLS,
    NAMESPACE,
    READY,
    WINDOW,
    _grey,
    _side_by_side_is_the_reference,
    compare_values,
)
from .test_viewer_study import CELLS as STUDY_CELLS

pytestmark = pytest.mark.browser

# anywidget's runtime asks for AbortSignal.timeout(2000) per model; nothing else in the
# page uses that delay. Firing it at once is what a page blocked for two seconds does.
MISSED_BUDGET = """
(() => {
  const timeout = AbortSignal.timeout.bind(AbortSignal);
  window.__budgetsCut = 0;
  AbortSignal.timeout = (ms) => {
    if (ms !== 2000) return timeout(ms);
    window.__budgetsCut += 1;
    return timeout(0);
  };
})();
"""
VIEWER = ".dt-viewer:not(.dt-compare) canvas.dt-viewer-canvas"
CELLS_WITH_VIEWER = [
    *CELLS,
    "from dicomteach.widgets import Viewer\nviewer = Viewer(before, window=Window(40, 400))\nviewer",
]
ALL_READY = f"{READY} && document.querySelector('{VIEWER}[data-rendered=\"1\"]')"


def _values(before) -> np.ndarray:
    return before.pixels.astype(np.float64) - 1024.0


def test_lab_widgets_that_missed_the_budget_still_draw_and_follow_the_kernel(
    browser, lab_server, write_notebook, kernel, artifacts
):
    write_notebook(lab_server["root"] / "busy.ipynb", CELLS_WITH_VIEWER)
    with new_page(browser, height=1600) as page:
        page.add_init_script(MISSED_BUDGET)
        open_and_run(page, lab_server["url"], "busy.ipynb")
        with screenshot_on_failure(page, artifacts / "busy-lab-timeout.png"):
            page.wait_for_function(f"() => {ALL_READY}", timeout=90_000)
        assert page.evaluate("window.__budgetsCut") >= 2  # both models really missed the budget
        # The Compare's follow-up layer is the kernel's registered copy: read it back.
        before, values = compare_values(page, kernel)
        _side_by_side_is_the_reference(page, before, values)
        # The kernel moves the Viewer to another slice: the picture follows.
        kernel(page, "viewer.position = [5, 32, 32]")
        page.wait_for_selector(f'{VIEWER}[data-rendered="1"][data-slice="5"]', timeout=30_000)
        drawn = canvas_rgba(page.locator(VIEWER))
        assert np.array_equal(drawn, _grey(window_to_uint8(_values(before)[5], WINDOW)))
        page.screenshot(path=str(artifacts / "busy-lab.png"), full_page=True)
        for selector in (BEFORE, AFTER, VIEWER):
            assert page.locator(selector).count() == 1


def test_voila_widgets_that_missed_the_budget_still_draw(
    browser, start_voila, write_notebook, tmp_path, artifacts
):
    notebook = tmp_path / "busy.ipynb"
    write_notebook(notebook, CELLS_WITH_VIEWER)
    url = start_voila(notebook)
    with new_page(browser, height=1600) as page:
        page.add_init_script(MISSED_BUDGET)
        page.goto(url)
        with screenshot_on_failure(page, artifacts / "busy-voila-timeout.png"):
            page.wait_for_function(f"() => {ALL_READY}", timeout=90_000)
        assert page.evaluate("window.__budgetsCut") >= 2
        before = NAMESPACE["phantom"]()
        drawn = canvas_rgba(page.locator(BEFORE))
        index = int(page.locator(BEFORE).get_attribute("data-slice"))
        assert np.array_equal(drawn, _grey(window_to_uint8(_values(before)[index], WINDOW)))
        page.screenshot(path=str(artifacts / "busy-voila.png"), full_page=True)


def test_a_slice_chosen_while_the_kernel_is_busy_is_not_undone_by_its_late_state(
    browser, lab_server, write_notebook, kernel, artifacts
):
    """Run All: the view asks for the kernel's state (core/sync.js, stateComplete) while a
    later cell still runs; the learner goes to the last slice meanwhile. The state the
    kernel sends when it is free again is older than that choice and must not take the
    learner back: the view sends nothing until that state has arrived, and keeps its own
    changes against it (askState)."""
    cells = [
        CELLS[0],
        "from dicomteach.widgets import Viewer\nviewer = Viewer(phantom(), window=Window(40, 400))\n"
        "viewer",
        "import time\ntime.sleep(8)  # a slow cell: the kernel answers nothing meanwhile",
    ]
    write_notebook(lab_server["root"] / "late-state.ipynb", cells)
    with new_page(browser, height=1000) as page:
        open_and_run(page, lab_server["url"], "late-state.ipynb")
        root = page.locator(".dt-viewer").first
        root.locator(".dt-viewport").wait_for(timeout=60_000)
        root.focus()
        page.keyboard.press("End")
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
        )
        with screenshot_on_failure(page, artifacts / "busy-late-state.png"):
            page.wait_for_selector(f'{VIEWER}[data-rendered="1"]', timeout=60_000)
            # printed after every answer to the view's requests went out (one kernel, in order)
            assert kernel(page, "print(viewer.position[0])").strip() == "23"
            assert page.locator(VIEWER).get_attribute("data-slice") == "23"


LEGEND_FRAMES = """() => {
  window.__legend = [];
  const box = (selector) => document.querySelector(`.dt-viewer ${selector}`)?.checked ?? null;
  const frame = () => {
    window.__legend.push([box("input[data-legend='nodule']"), box("input[data-action='outline']")]);
    requestAnimationFrame(frame);
  };
  frame();
}"""


def test_a_series_chosen_while_the_kernel_is_busy_is_not_undone_by_its_late_state(
    browser, lab_server, write_notebook, kernel, artifacts
):
    """The same with what the Viewer sets in the model itself (viewer.js): the learner
    hides the SEG's structure and outlines it, goes to the last slice, then picks the
    second series, all before the kernel answered the view's ask. The boxes stay as
    ticked in every frame drawn (the answer showed them as they were), and each change
    goes out after that answer, in the learner's order, so the second series opens at
    its own middle slice: not at the first series' last one (past its end), as when the
    pick went out at once and the held slice after it."""
    cells = [
        *STUDY_CELLS,
        "import time\ntime.sleep(6)  # a slow cell: the kernel answers nothing meanwhile",
    ]
    write_notebook(lab_server["root"] / "late-series.ipynb", cells)
    with new_page(browser, height=1000) as page:
        open_and_run(page, lab_server["url"], "late-series.ipynb")
        root = page.locator(".dt-viewer")
        buttons = root.locator("button.dt-series-button")
        buttons.nth(1).wait_for(timeout=60_000)
        # the legend's boxes in every frame drawn: [structure shown, outline]
        page.evaluate(LEGEND_FRAMES)
        root.locator("input[data-legend='nodule']").uncheck()
        root.locator("input[data-action='outline']").check()
        root.focus()
        page.keyboard.press("End")
        page.wait_for_selector('.dt-viewer canvas.dt-viewer-canvas[data-frame="5"]')
        buttons.nth(1).click()
        assert (
            page.locator(".jp-Notebook-ExecutionIndicator").get_attribute("data-status") == "busy"
        )
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
        )
        canvas = root.locator("canvas.dt-viewer-canvas")
        with screenshot_on_failure(page, artifacts / "busy-late-series.png"):
            # printed after every answer to the view's requests went out (one kernel, in order)
            assert kernel.json(page, "[viewer.series_index, viewer.position[0]]") == [1, 2]
            assert kernel.json(page, "viewer.overlay_mode") == "outline"
            frames = page.evaluate("window.__legend")
            unticked = frames.index([False, False])
            assert [True, False] not in frames[unticked:], frames  # shown again: undone
            outlined = frames.index([False, True])
            assert [False, False] not in frames[outlined:], frames
            page.wait_for_selector(
                '.dt-viewer canvas.dt-viewer-canvas[data-rendered="1"][data-frame="2"]',
                timeout=20_000,
            )
        assert buttons.nth(1).get_attribute("aria-pressed") == "true"
        second = io.load(lab_server["root"] / "study" / "b")
        window = Window(*kernel.json(page, "[viewer.window_center, viewer.window_width]"))
        drawn = canvas_rgba(canvas)
        assert np.array_equal(drawn[..., 0], window_to_uint8(modality_values(second)[2], window))
        root.screenshot(path=str(artifacts / "busy-late-series.png"))
