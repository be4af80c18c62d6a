"""Every widget is seen whole in JupyterLab at 1280×800, with its tools beside the image.

One notebook shows a Viewer, a Delineator, a Compare, a Hotspot (on a portrait
radiograph: the tallest picture) and a LabelDrop, on the module's 1280×800
page. Each widget, scrolled to the top of the notebook's visible area, must be
no taller than that area and no wider than its output area; on a wide output
the tool column sits to the right of the picture; on a narrow one, above it.
Screenshots: ``test-artifacts/layout-*.png``.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = "layout.ipynb"
CELLS = [
    "import numpy as np\n"
    "from dicomteach.io.volume import Volume, Window\n"
    "from dicomteach.widgets import Compare, Delineator, Hotspot, LabelDrop, Viewer\n"
    "AXIAL = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])\n"
    "CORONAL = np.array([[0, 1.0, 0], [0, 0, -1.0], [1.0, 0, 0]])\n"
    "k, r, c = np.mgrid[0:20, 0:192, 0:192]\n"
    "body = ((r - 96) / 80.0) ** 2 + ((c - 96) / 90.0) ** 2 < 1\n"
    "def ct(grow=0.0):\n"
    "    hu = np.where(body, 40 + r // 8, -1000) + 900 * ((r - 70) ** 2 + (c - 60) ** 2 < (6 + grow) ** 2)\n"
    "    return Volume((hu + 1024).astype(np.int16), (3.0, 0.8, 0.8), (0.0, 0.0, 0.0), AXIAL,\n"
    "                  modality='CT', units='HU', rescale_intercept=np.array([-1024.0]))\n"
    "rr, cc = np.mgrid[0:300, 0:240]\n"
    "film = Volume((500 + 2 * rr + cc)[None].astype(np.uint16), (1.0, 0.6, 0.6),\n"
    "              (0.0, 0.0, 0.0), CORONAL, modality='DX')",
    "Viewer(ct(), window=Window(40, 400))",
    "Delineator(ct(), ('Tumour', 'Node', 'Oedema'), answer=None)",
    "Compare(ct(), ct(grow=3.0), register=False, window=Window(40, 400))",
    "Hotspot(film, prompt='Click the tip of the central line', answer='layout-hotspot.json')",
    "LabelDrop(ct(), ['aorta', 'trachea', 'spine', 'oesophagus'], answer='layout-labels.json',\n"
    "          prompt='Drag each label onto its structure')",
]
WIDGETS = [
    ("viewer", ".dt-viewer:not(.dt-delineator):not(.dt-compare):not(.dt-question)"),
    ("delineator", ".dt-delineator"),
    ("compare", ".dt-compare"),
    ("hotspot", ".dt-q-hotspot"),
    ("labeldrop", ".dt-q-labels"),
]
READY = (
    "document.querySelectorAll('.dt-viewer canvas.dt-viewer-canvas[data-rendered=\"1\"]')"
    ".length === 6"
)
# The notebook's scrolled area (Lab 4: the windowed panel's outer box).
SCROLLER = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
BOXES = """([root, scroller]) => {
  const box = (e) => { const r = e.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  const output = root.closest('.jp-OutputArea-output');
  return {
    widget: box(root), scroller: box(scroller), visible: scroller.clientHeight,
    output: box(output), overflow: output.scrollWidth - output.clientWidth, main: box(root.querySelector('.dt-main')),
    side: box(root.querySelector('.dt-side')), viewport: box(root.querySelector('.dt-viewport')),
  };
}"""


@pytest.fixture(scope="module")
def layout_page(lab_notebook):
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    assert page.viewport_size == {"width": 1280, "height": 800}
    return page


@pytest.mark.parametrize(("name", "selector"), WIDGETS, ids=[n for n, _ in WIDGETS])
def test_each_widget_fits_the_notebook_at_1280_by_800(layout_page, artifacts, name, selector):
    page = layout_page
    root = page.locator(selector)
    scroller = page.locator(SCROLLER)
    _scroll_to_top(root)  # the widget's top at the top of the notebook's visible area
    page.wait_for_timeout(100)  # the windowed notebook lays out what scrolled in
    boxes = page.evaluate(BOXES, [root.element_handle(), scroller.element_handle()])
    page.screenshot(path=str(artifacts / f"layout-{name}.png"))
    widget, output = boxes["widget"], boxes["output"]
    assert widget["height"] <= boxes["visible"], (name, widget["height"], boxes["visible"])
    # Seen whole: nothing below the visible area once its top is at the top.
    assert widget["y"] + widget["height"] <= boxes["scroller"]["y"] + boxes["visible"] + 0.5
    assert widget["x"] >= output["x"] - 0.5
    assert widget["x"] + widget["width"] <= output["x"] + output["width"] + 0.5, (name, boxes)
    assert boxes["overflow"] <= 0, (name, boxes["overflow"])  # nothing pokes out sideways
    # Wide enough here: the tools to the right of the picture, both starting at its top.
    side, main = boxes["side"], boxes["main"]
    assert side["x"] >= main["x"] + main["width"], (name, side, main)
    assert abs(side["y"] - main["y"]) < 1
    # Not made to fit by shrinking the picture: 560 px high here (two 325 px panes for Compare).
    viewport = boxes["viewport"]
    assert viewport["height"] >= (320 if name == "compare" else 540), (name, viewport)


def _scroll_to_top(root) -> None:
    root.evaluate(
        """(root) => {
          const scroller = root.closest('.jp-WindowedPanel-outer');
          scroller.scrollTop += root.getBoundingClientRect().top
            - scroller.getBoundingClientRect().top - 4;
        }"""
    )


def test_on_a_narrow_output_the_tools_go_above_the_picture(layout_page, artifacts):
    page = layout_page
    page.set_viewport_size({"width": 900, "height": 800})
    try:
        scroller = page.locator(SCROLLER)
        for name, selector in WIDGETS:
            root = page.locator(selector)
            _scroll_to_top(root)
            page.wait_for_timeout(100)
            boxes = page.evaluate(BOXES, [root.element_handle(), scroller.element_handle()])
            side, main, output = boxes["side"], boxes["main"], boxes["output"]
            assert output["width"] < 500, output  # too narrow for both side by side
            assert side["y"] + side["height"] <= main["y"], (name, side, main)
            assert boxes["overflow"] <= 0 and boxes["widget"]["width"] <= output["width"] + 0.5
            if name == "delineator":
                page.screenshot(path=str(artifacts / "layout-narrow-delineator.png"))
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


# Every control of the widget, numbered, with the text a sighted user reads on it.
CONTROLS = """(root) => [...root.querySelectorAll('button, input, select, [role=button]')]
  .map((e, i) => { e.dataset.axIndex = String(i);
    return { tag: e.tagName.toLowerCase(), text: (e.innerText || '').trim(), hidden: !e.offsetParent }; })"""


@pytest.mark.parametrize(("name", "selector"), WIDGETS, ids=[n for n, _ in WIDGETS])
def test_every_control_is_named_by_what_it_shows(layout_page, name, selector):
    """Chromium's accessibility tree: each control has a name, and a control showing a
    word is named starting with that word (WCAG 2.5.3, label in name)."""
    page = layout_page
    root = page.locator(selector)
    _scroll_to_top(root)
    controls = root.evaluate(CONTROLS)
    cdp = page.context.new_cdp_session(page)
    try:
        document = cdp.send("DOM.getDocument", {"depth": 0})
        node_ids = cdp.send(
            "DOM.querySelectorAll",
            {"nodeId": document["root"]["nodeId"], "selector": f"{selector} [data-ax-index]"},
        )["nodeIds"]
        assert len(node_ids) == len(controls)
        problems = []
        for control, node_id in zip(controls, node_ids, strict=True):
            (ax, *_) = cdp.send(
                "Accessibility.getPartialAXTree", {"nodeId": node_id, "fetchRelatives": False}
            )["nodes"]
            if ax.get("ignored") or control["hidden"]:
                continue
            accessible = str(ax.get("name", {}).get("value", "")).strip()
            shown = " ".join(control["text"].split())
            if not accessible:
                problems.append(f"{control['tag']} {shown!r} has no accessible name")
            elif re.search(r"\w", shown) and not accessible.casefold().startswith(shown.casefold()):
                problems.append(f"{control['tag']} shows {shown!r} but is named {accessible!r}")
        assert problems == [], "\n".join(problems)
    finally:
        cdp.detach()
