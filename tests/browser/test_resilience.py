"""Every widget survives what JupyterLab does to outputs (docs/contributing.md, "Browser tests").

A windowed notebook renders a cell's output while it is out of view, hidden
(``display: none``) or at width 0, and detaches and re-attaches it; the same
widget can be shown twice (``display(w)`` again, "Create New View for Output").
Here each widget is shown twice in one notebook: a reference view, shown
normally, and a test view rendered in one of those states, then revealed:

- ``twice``: the test view is shown normally too;
- ``display-none``: its output area is ``display: none`` while it renders;
- ``zero-width``: its output area is 0 px wide while it renders;
- ``detached``: its cell is out of the document while it renders, then put back
  (and once drawn, taken out and put back again);
- ``out-of-view``: it renders far below the visible part of the notebook (Lab's
  default ``content-visibility: auto`` skips it), shown by the kernel into an
  ``Output`` there while the notebook is scrolled to its top, then is scrolled to.

For each case and widget: the test view receives its image while not seen; a
change made in the kernel meanwhile shows once it is revealed; the test view
then draws exactly what the reference view draws (the same pixels in every
canvas, the picture, overlays and texts at the same places, and a picture that
is not blank); the wheel and the keys on the test view change the slice in both
views, and so does the kernel. The 3D view draws and turns. No uncaught error,
no console error.
Screenshots: ``test-artifacts/resilience-<case>-<widget>.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import canvas_rgba, drag, new_page, screenshot_on_failure
from .test_view3d import _drawn, _foreground

pytestmark = pytest.mark.browser

CASES = ["twice", "display-none", "zero-width", "detached", "out-of-view"]

SETUP = """
import numpy as np
from IPython.display import HTML, display
from ipywidgets import Output
from dicomteach.io.volume import Volume, Window
from dicomteach.widgets import CheckAnswer, Compare, Delineator, Hotspot, LabelDrop, View3D, Viewer

AXIAL = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])
k, r, c = np.mgrid[0:20, 0:96, 0:96]
body = ((r - 48) / 40.0) ** 2 + ((c - 48) / 45.0) ** 2 < 1
nodule = (r - 35) ** 2 + (c - 30) ** 2 < 16


def ct(grow=0.0):
    # every slice differs (10 HU a slice), so a slice change changes the picture
    hu = np.where(body, 40 + r // 4 + 10 * k, -1000)
    hu = hu + 900 * ((r - 35) ** 2 + (c - 30) ** 2 < (4 + grow) ** 2)
    return Volume((hu + 1024).astype(np.int16), (3.0, 1.6, 1.6), (0.0, 0.0, 0.0), AXIAL,
                  modality="CT", units="HU", rescale_intercept=np.array([-1024.0]))


RULER = {"kind": "ruler", "plane": "axial", "slice": 12, "points": [[20.0, 20.0], [70.0, 60.0]],
         "length_mm": 102.4}
"""
# Each widget with what is drawn over its image where the layout matters: a ruler and an
# overlay, the swipe divider, painted labels, a marker, a placed label.
MAKE = {
    "viewer": "w_viewer = Viewer(ct(), window=Window(40, 400))\n"
    "w_viewer.set_overlay({'nodule': nodule})\n"
    "w_viewer.measurements = [RULER]",
    "compare": "w_compare = Compare(ct(), ct(grow=3.0), register=False, window=Window(40, 400),\n"
    "                    mode='swipe')",
    "delineator": "w_delineator = Delineator(ct(), ('Tumour', 'Node'), answer=None)\n"
    "w_delineator.labels = nodule.astype(np.uint8)",
    "hotspot": "w_hotspot = Hotspot(ct(), prompt='Click the nodule', answer='CASE-hotspot.json')\n"
    "w_hotspot.marks = [{'image': [12, 35, 30], 'label': ''}]",
    "labeldrop": "w_labeldrop = LabelDrop(ct(), ['aorta', 'spine'], answer='CASE-labels.json')\n"
    "w_labeldrop.marks = [{'image': [12, 70, 48], 'label': 'spine'}]",
    "check": "w_check = CheckAnswer(Hotspot(ct(), prompt='Click the nodule', answer='CASE-check.json'),\n"
    "                      grade=lambda: 'Graded')",
    "view3d": "w_view3d = View3D(ct())",
}
# What the kernel changes while a test view is not seen, besides the slice.
CHANGED_UNSEEN = {
    # a new window, and a new overlay: a layer streamed to a view not seen
    "viewer": "w_viewer.window = Window(60, 300)\n"
    "w_viewer.set_overlay({'nodule': nodule, 'rim': body & ~nodule & (c > 70)})",
    "compare": "w_compare.mode = 'side-by-side'",  # the follow-up's pane, hidden so far
    "delineator": "w_delineator.labels = np.where(nodule, 2, 0).astype(np.uint8)",
    "hotspot": "w_hotspot.marks = [{'image': [12, 40, 60], 'label': ''}]",
    "labeldrop": "w_labeldrop.marks = w_labeldrop.marks + [{'image': [12, 20, 48], 'label': 'aorta'}]",
    "check": "w_check.question.marks = [{'image': [12, 35, 30], 'label': ''}]",
}
OVERLAID_SLICE = 12
"""The slice the ruler, markers and labels above are on (the initial slice is 10)."""
WIDGETS = list(MAKE)
IMAGE_WIDGETS = [name for name in WIDGETS if name != "view3d"]
# The image widget whose slice the kernel sets.
TARGET = {name: f"w_{name}" for name in IMAGE_WIDGETS} | {"check": "w_check.question"}
SPACER = "display(HTML('<div style=\"height: 3000px\">Far above the widgets below.</div>'))"

# The node of cell i, in the document or not.
CELL = "const cellNode = (i) => window.dtNotebook.widgets[i].node;"
# Numbers every cell (data-dt-cell), then hides or detaches the test views' cells.
PREPARE = """async ([mode, cells, count]) => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.context.ready;
  const notebook = panel.content;
  while (notebook.widgets.length < count) await new Promise((r) => setTimeout(r, 50));
  window.dtNotebook = notebook;
  notebook.widgets.forEach((cell, i) => { cell.node.dataset.dtCell = String(i); });
  const style = document.createElement('style');
  style.textContent = `
    .dt-test-display-none .jp-Cell-outputWrapper { display: none !important; }
    .dt-test-zero-width .jp-OutputArea-output {
      flex: 0 0 0 !important; width: 0 !important; min-width: 0 !important;
      overflow: hidden !important;
    }`;
  document.head.append(style);
  window.dtReveal = {};
  for (const i of cells) {
    const node = notebook.widgets[i].node;
    if (mode === 'detached') {
      const mark = document.createComment('taken out by test_resilience.py');
      node.replaceWith(mark);
      window.dtReveal[i] = () => mark.replaceWith(node);
    } else {
      node.classList.add(`dt-test-${mode}`);
      window.dtReveal[i] = () => node.classList.remove(`dt-test-${mode}`);
    }
  }
}"""
REVEAL = "(i) => { window.dtReveal[i](); delete window.dtReveal[i]; }"
DETACH_AND_BACK = """async (i) => {
  const node = window.dtNotebook.widgets[i].node;
  const mark = document.createComment('taken out by test_resilience.py');
  node.replaceWith(mark);
  await new Promise((resolve) => setTimeout(resolve, 300));
  mark.replaceWith(node);
}"""
# Every image view (viewport not hidden by its widget) in these cells has its image on
# this slice; `placed`: and laid out, a picture box of real size.
DRAWN = f"""([cells, frame, placed]) => {{ {CELL}
  return cells.every((i) => {{
    const viewports = [...cellNode(i).querySelectorAll('.dt-viewport')]
      .filter((v) => !v.closest('[hidden]'));
    return viewports.length > 0 && viewports.every((v) => {{
      const canvas = v.querySelector('canvas.dt-viewer-canvas');
      const box = v.querySelector('.dt-layers').getBoundingClientRect();
      return canvas.dataset.rendered === '1' && (!placed || (box.width > 10 && box.height > 10))
        && (frame === null || canvas.dataset.frame === String(frame));
    }});
  }});
}}"""
# What the image widget of a cell shows, for comparing two views: each viewport's size,
# where its picture is, a checksum of every canvas shown, where each overlay (SVG,
# markers, divider) is, and the texts; positions relative to the viewport, in 1/4 px.
PICTURE = f"""(i) => {{ {CELL}
  const root = cellNode(i).querySelector('.dt-viewer');
  const round = (v) => Math.round(v * 4) / 4;
  const shown = (e) => e.getClientRects().length > 0;
  const place = (e, o) => {{
    const r = e.getBoundingClientRect();
    return [r.left - o.left, r.top - o.top, r.width, r.height].map(round);
  }};
  const checksum = (canvas) => {{
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 2166136261;
    for (let k = 0; k < d.length; k++) h = Math.imul(h ^ d[k], 16777619);
    return h >>> 0;
  }};
  const viewports = [...root.querySelectorAll('.dt-viewport')].filter((v) => !v.closest('[hidden]'));
  return {{
    readout: root.querySelector('.dt-viewer-readout').textContent,
    viewports: viewports.map((v) => {{
      const o = v.getBoundingClientRect();
      return {{
        size: [o.width, o.height].map(round),
        picture: place(v.querySelector('.dt-layers'), o),
        canvases: [...v.querySelectorAll('.dt-layers canvas')].filter(shown).map((c) =>
          [c.className, c.width, c.height, checksum(c), place(c, o), c.style.clipPath]),
        overlays: [...v.querySelectorAll('svg *, .dt-compare-divider')].filter(shown).map((e) =>
          [e.tagName, e.getAttribute('class'), place(e, o)]),
        texts: [...v.querySelectorAll('.dt-letter, .dt-corner')].map((e) => e.textContent),
      }};
    }}),
  }};
}}"""
SCROLL_TO_TOP = """() => {
  const scroller = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
  scroller.scrollTop = 0;
  return scroller.scrollTop === 0;
}"""
# Cell i is wholly above or below the notebook's visible area.
OUT_OF_VIEW = """(i) => {
  const cell = document.querySelector(`.jp-Cell[data-dt-cell="${i}"]`).getBoundingClientRect();
  const seen = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
    .getBoundingClientRect();
  return cell.top > seen.bottom || cell.bottom < seen.top;
}"""
# Lab's "Create New View for Output" of cell i, in a panel docked below the notebook;
# the notebook stays the current widget (the kernel fixture runs code in it).
NEW_OUTPUT_VIEW = """async (i) => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.activeCellIndex = i;
  await window.jupyterapp.commands.execute('notebook:create-output-view');
  window.jupyterapp.shell.activateById(panel.id);
}"""
CLOSE_OUTPUT_VIEWS = """() => {
  for (const w of [...window.jupyterapp.shell.widgets('main')]) {
    if (w.node.querySelector('.jp-LinkedOutputView')) w.close();
  }
}"""
# The slice and a checksum of the image of each view (viewport not hidden) under root.
IMAGES = """(root) => [...root.querySelectorAll('.dt-viewport')]
  .filter((v) => !v.closest('[hidden]') && v.querySelector('.dt-layers').getBoundingClientRect().width > 10)
  .map((v) => {
    const canvas = v.querySelector('canvas.dt-viewer-canvas');
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 2166136261;
    for (let k = 0; k < d.length; k++) h = Math.imul(h ^ d[k], 16777619);
    return [canvas.dataset.rendered, canvas.dataset.frame, h >>> 0];
  })"""
CATCH_ERRORS = """
window.dtErrors = [];
window.addEventListener('error', (e) => window.dtErrors.push(`error event: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => window.dtErrors.push(`rejection: ${e.reason}`));
"""


@dataclass
class Case:
    name: str
    page: object
    reference: dict[str, int]
    test: dict[str, int]
    artifacts: Path
    errors: list[str] = field(default_factory=list)

    def artifact(self, widget: str, suffix: str = "") -> Path:
        return (
            self.artifacts / f"resilience-{self.name}-{widget}{'-' + suffix if suffix else ''}.png"
        )

    def cell(self, index: int, selector: str):
        return self.page.locator(f'.jp-Cell[data-dt-cell="{index}"] {selector}').first

    def look_at(self, index: int) -> None:
        """Scroll cell ``index``'s output into view (Lab lays out what is near the view)."""
        self.cell(index, ".jp-Cell-outputWrapper").scroll_into_view_if_needed()


def _notebook(case: str) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """The cells, and the index of each widget's reference cell and test cell."""
    cells = [SETUP]
    reference, test = {}, {}
    # The 3D view is shown twice only where that is the point (each view is a WebGL
    # context: SwiftShader draws them slowly).
    referenced = WIDGETS if case == "twice" else IMAGE_WIDGETS
    for name in referenced:
        reference[name] = len(cells)
        make = MAKE[name].replace("CASE", case)
        if case == "out-of-view":  # in an Output too, as wide as the test view's
            cells.append(
                f"{make}\nref_{name} = Output()\nwith ref_{name}:\n    display(w_{name})\nref_{name}"
            )
        else:
            cells.append(f"{make}\nw_{name}")
    if case == "out-of-view":
        cells.append(SPACER)
    for name in WIDGETS:
        test[name] = len(cells)
        if case == "out-of-view":  # filled by the kernel later (_show_out_of_view)
            cells.append(f"out_{name} = Output()\nout_{name}")
        else:
            make = "" if name in referenced else MAKE[name] + "\n"
            cells.append(f"{make}w_{name}")
    return cells, reference, test


def _show_out_of_view(case: Case, kernel) -> None:
    """With the notebook at its top, the kernel shows each widget far below it."""
    page = case.page
    page.wait_for_function(SCROLL_TO_TOP)
    code = [MAKE["view3d"]] + [f"with out_{name}:\n    display(w_{name})" for name in WIDGETS]
    for name, cell in case.test.items():
        assert page.evaluate(OUT_OF_VIEW, cell), f"{name}'s test view is in view"
    kernel(page, "\n".join(code))
    page.wait_for_function(DRAWN, arg=[[case.test[w] for w in IMAGE_WIDGETS], None, False])
    for name, cell in case.test.items():
        assert page.evaluate(OUT_OF_VIEW, cell), f"{name}'s test view came into view"


@pytest.fixture(scope="module")
def module_page(gl_browser):
    """The module's page in the WebGL browser (the 3D view), catching every error event."""
    with new_page(gl_browser, height=800) as page:
        page.add_init_script(CATCH_ERRORS)
        yield page


@pytest.fixture(scope="module", params=CASES)
def case(request, lab_notebook, module_page, kernel, artifacts):
    name = request.param
    cells, reference, test = _notebook(name)
    found = Case(name, module_page, reference, test, artifacts)

    def on_page_error(error) -> None:
        found.errors.append(f"page error: {error}")

    def on_console(msg) -> None:
        if msg.type == "error":
            found.errors.append(f"console error: {msg.text}")

    module_page.on("pageerror", on_page_error)
    module_page.on("console", on_console)
    hidden = list(test.values()) if name in ("display-none", "zero-width", "detached") else []
    lab_notebook(
        f"resilience-{name}.ipynb",
        cells,
        f"({DRAWN})([{[reference[w] for w in IMAGE_WIDGETS]}, null, false])",
        before_run=lambda page: page.evaluate(PREPARE, [name, hidden, len(cells)]),
    )
    kernel(module_page, "pass")  # queued after Run All: every cell has run
    if name == "out-of-view":
        _show_out_of_view(found, kernel)
    else:
        # Every test view got its image, seen or not.
        module_page.wait_for_function(DRAWN, arg=[[test[w] for w in IMAGE_WIDGETS], None, False])
    yield found
    module_page.remove_listener("pageerror", on_page_error)
    module_page.remove_listener("console", on_console)


def _wait_drawn(case: Case, cells: list[int], frame: int | None, widget: str) -> None:
    """Each cell's views, looked at in turn, drawn on this slice and laid out."""
    for cell in cells:
        case.look_at(cell)
        with screenshot_on_failure(case.page, case.artifact(widget, "timeout")):
            case.page.wait_for_function(DRAWN, arg=[[cell], frame, True], timeout=30_000)


def _picture(case: Case, cell: int):
    case.look_at(cell)
    case.page.wait_for_function(DRAWN, arg=[[cell], None, True], timeout=30_000)
    return case.page.evaluate(PICTURE, cell)


def _assert_same_picture(case: Case, widget: str, step: str) -> None:
    """The test view shows what the reference view shows: the same pixels in every canvas,
    the picture, overlays and texts at the same places."""
    page = case.page
    page.mouse.move(1, 1)  # no cursor readout or hover marker in either view
    # A view redraws on the animation frame after a change: a few looks, not a time.
    for _ in range(10):
        reference = _picture(case, case.reference[widget])
        test = _picture(case, case.test[widget])
        if test == reference:
            return
        page.wait_for_timeout(100)
    page.screenshot(path=str(case.artifact(widget, f"{step}-differs")))
    assert test == reference, step


def _reveal(case: Case, widget: str, kernel) -> int | None:
    """Reveal the test view; a hidden one after a change made in the kernel meanwhile."""
    page, cell = case.page, case.test[widget]
    frame = None
    if widget in TARGET:
        # The slice with the ruler, the markers, the labels, and a change of what is drawn.
        frame = OVERLAID_SLICE
        kernel(page, f"{TARGET[widget]}.frame = {frame}\n{CHANGED_UNSEEN[widget]}")
    if case.name in ("display-none", "zero-width", "detached"):
        page.evaluate(REVEAL, cell)
    case.look_at(cell)
    return frame


def _slice_changes_reach_both_views(case: Case, widget: str, frame: int, kernel) -> None:
    page = case.page
    both = [case.reference[widget], case.test[widget]]
    case.look_at(case.test[widget])
    root = case.cell(case.test[widget], ".dt-viewer")
    viewport = root.locator(".dt-viewport").first
    viewport.scroll_into_view_if_needed()
    box = viewport.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 100)  # the wheel: the next slice
    _wait_drawn(case, both, frame + 1, widget)
    _assert_same_picture(case, widget, "wheel")
    case.look_at(case.test[widget])
    root.focus()
    page.keyboard.press("ArrowUp")  # ↑: the previous slice
    page.keyboard.press("ArrowUp")
    _wait_drawn(case, both, frame - 1, widget)
    _assert_same_picture(case, widget, "keys")
    kernel(page, f"{TARGET[widget]}.frame = 5")
    _wait_drawn(case, both, 5, widget)
    _assert_same_picture(case, widget, "kernel")


def _assert_no_errors(case: Case) -> None:
    seen = case.errors + case.page.evaluate("() => window.dtErrors.splice(0)")
    case.errors.clear()
    assert seen == []


@pytest.mark.parametrize("widget", IMAGE_WIDGETS)
def test_image_widget_draws_and_follows_once_revealed(case, widget, kernel):
    page = case.page
    both = [case.reference[widget], case.test[widget]]
    frame = _reveal(case, widget, kernel)
    _wait_drawn(case, both, frame, widget)
    case.look_at(case.test[widget])
    root = case.cell(case.test[widget], ".dt-viewer")
    canvas = root.locator("canvas.dt-viewer-canvas").first
    frame = int(canvas.get_attribute("data-frame"))
    root.screenshot(path=str(case.artifact(widget)))
    assert canvas_rgba(canvas)[..., :3].std() > 20, "the test view's image is blank"
    _assert_same_picture(case, widget, "revealed")
    if widget == "check":  # answered meanwhile: the button can be pressed
        button = case.cell(case.test[widget], ".dt-check-button:not([disabled])")
        box = button.bounding_box()
        assert box and box["width"] > 20 and box["height"] > 10, box
    if case.name == "detached":
        # Once drawn, taken out of the document and put back (Lab scrolling it away).
        page.evaluate(DETACH_AND_BACK, case.test[widget])
        _wait_drawn(case, both, frame, widget)
        _assert_same_picture(case, widget, "re-attached")
    _slice_changes_reach_both_views(case, widget, frame, kernel)
    _assert_no_errors(case)


def test_3d_view_draws_and_turns_once_revealed(case, kernel):
    page = case.page
    _reveal(case, "view3d", kernel)
    canvas = case.cell(case.test["view3d"], ".jp-OutputArea-output canvas")
    image = _drawn(canvas)
    Image.fromarray(image.astype(np.uint8)).save(case.artifact("view3d"))
    assert _foreground(image).mean() > 0.05, "the 3D view is blank"
    if case.name == "detached":
        page.evaluate(DETACH_AND_BACK, case.test["view3d"])
        canvas.scroll_into_view_if_needed()
        assert _foreground(_drawn(canvas)).mean() > 0.05, "blank once put back"
    first = None
    if case.name == "twice":
        # The first view still draws its own picture of the volume.
        case.look_at(case.reference["view3d"])
        first = case.cell(case.reference["view3d"], ".jp-OutputArea-output canvas")
        before = _drawn(first)
        Image.fromarray(before.astype(np.uint8)).save(case.artifact("view3d", "first"))
        assert _foreground(before).mean() > 0.05, "the first view of the 3D widget is empty"
        case.look_at(case.test["view3d"])
    # Left-drag turns the volume: the picture changes.
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drag(page, (x, y), (x + 120, y + 40), steps=8)
    turned = _drawn(canvas)
    assert turned.shape == image.shape and (turned != image).any(axis=2).mean() > 0.01
    if first is not None:
        # A camera set in Python turns every view: a view from the patient's left.
        kernel(page, "w_view3d.scene.render_azimuth = 90.0")
        followed = _drawn(canvas)
        assert (followed != turned).any(axis=2).mean() > 0.01, "the test view did not turn"
        case.look_at(case.reference["view3d"])
        followed_first = _drawn(first)
        Image.fromarray(followed_first.astype(np.uint8)).save(case.artifact("view3d", "first-left"))
        assert (followed_first != before).any(axis=2).mean() > 0.01, "the first view did not turn"
    _assert_no_errors(case)


@pytest.mark.parametrize("case", ["twice"], indirect=True)
@pytest.mark.parametrize("widget", WIDGETS)
def test_a_new_view_for_output_draws_and_closing_it_leaves_the_cell_working(case, widget, kernel):
    """Lab's "Create New View for Output": a third view of the same widget, docked below
    the notebook; it draws the same image, follows and leads; once closed, the cell's
    view still draws and follows."""
    page = case.page
    cell = case.reference[widget]
    if widget == "view3d":
        _new_3d_view_for_output(case, cell)
        return
    page.evaluate(NEW_OUTPUT_VIEW, cell)
    view = page.locator(".jp-LinkedOutputView").first
    try:
        with screenshot_on_failure(page, case.artifact(widget, "output-view-timeout")):
            page.wait_for_function(
                f"() => {{ const v = document.querySelector('.jp-LinkedOutputView');"
                f" return v && ({IMAGES})(v).some((image) => image[0] === '1'); }}",
                timeout=30_000,
            )
        view.screenshot(path=str(case.artifact(widget, "output-view")))
        case.look_at(cell)
        in_cell = page.evaluate(f"(i) => ({IMAGES})(window.dtNotebook.widgets[i].node)", cell)
        assert view.evaluate(IMAGES) == in_cell
        frame = int(in_cell[0][1])
        viewport = view.locator(".dt-viewport").first
        viewport.scroll_into_view_if_needed()
        box = viewport.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 100))
        page.mouse.wheel(0, 100)
        _wait_drawn(case, [cell], frame + 1, widget)
    finally:
        page.evaluate(CLOSE_OUTPUT_VIEWS)
    assert page.locator(".jp-LinkedOutputView").count() == 0
    case.look_at(cell)
    case.cell(cell, ".dt-viewer").focus()
    page.keyboard.press("ArrowUp")
    _wait_drawn(case, [cell, case.test[widget]], frame, widget)
    kernel(page, f"{TARGET[widget]}.frame = 7")
    _wait_drawn(case, [cell, case.test[widget]], 7, widget)
    _assert_same_picture(case, widget, "after-output-view")
    _assert_no_errors(case)


def _new_3d_view_for_output(case: Case, cell: int) -> None:
    """The 3D widget in a new view for output: it draws there, the cell's view still
    draws, and once the new view is closed the cell's view still draws and turns."""
    page = case.page
    case.look_at(cell)
    in_cell = case.cell(cell, ".jp-OutputArea-output canvas")
    before = _drawn(in_cell)
    page.evaluate(NEW_OUTPUT_VIEW, cell)
    try:
        view = page.locator(".jp-LinkedOutputView canvas").first
        image = _drawn(view)
        Image.fromarray(image.astype(np.uint8)).save(case.artifact("view3d", "output-view"))
        assert _foreground(image).mean() > 0.05, "the new view for output is blank"
        case.look_at(cell)
        assert _foreground(_drawn(in_cell)).mean() > 0.05, "the cell's 3D view is empty"
    finally:
        page.evaluate(CLOSE_OUTPUT_VIEWS)
    assert page.locator(".jp-LinkedOutputView").count() == 0
    case.look_at(cell)
    after = _drawn(in_cell)
    Image.fromarray(after.astype(np.uint8)).save(case.artifact("view3d", "after-output-view"))
    assert _foreground(after).mean() > 0.05, "closing the new view emptied the cell's view"
    box = in_cell.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drag(page, (x, y), (x + 120, y + 40), steps=8)
    assert (_drawn(in_cell) != before).any(axis=2).mean() > 0.01, "the cell's view does not turn"
    _assert_no_errors(case)
