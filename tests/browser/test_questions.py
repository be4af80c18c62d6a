"""Hotspot and LabelDrop in a real JupyterLab and in Voilà, with a real mouse.

What is checked is the answer file beside the notebook (what nbgrader collects
and the graders read): nothing for the click that only gives the widget the
keys, the array index and patient mm of a click at a known pixel centre, a
moved marker, two dragged chips, a chip dragged back off the
image, and the markers drawn again from the file after a kernel restart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from dicomteach import io
from dicomteach.io.writer import write_ct_series

from .conftest import drag, pixel_centre

pytestmark = pytest.mark.browser

SERIES_UID = "1.2.826.0.1.3680043.8.498.4242424242"
NOTEBOOK = "questions.ipynb"
SETUP = (
    "import os\n"
    "import numpy as np\n"
    "from dicomteach import io\n"
    "from dicomteach.io.volume import Window\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.widgets import Hotspot, LabelDrop\n"
    "if not os.path.exists('qct'):  # one series for every run: the answers stay valid\n"
    "    k, r, c = np.mgrid[0:8, 0:48, 0:40]\n"
    "    hu = -900 + 30 * c + 20 * r + 10 * k + 800.0 * ((r - 30) ** 2 + (c - 7) ** 2 < 10)\n"
    f"    write_ct_series('qct', hu, spacing=(2.5, 0.7, 0.9), series_uid='{SERIES_UID}')\n"
    "ct = io.load('qct')\n"
)
CELLS = [
    SETUP,
    "spot = Hotspot(ct, prompt='Click the nodule', answer='hotspot.json', activity='nodule',\n"
    "               window=Window(300, 1800))\nspot",
    "drop = LabelDrop(ct, ['aorta', 'trachea', 'spine'], prompt='Label the mediastinum',\n"
    "                 answer='labels.json', window=Window(300, 1800))\ndrop",
]
CANVAS = "canvas.dt-viewer-canvas"
READY = (
    "document.querySelectorAll("
    "'.dt-question:not([data-old]) canvas.dt-viewer-canvas[data-rendered=\"1\"]').length === 2"
)


@pytest.fixture(scope="module")
def questions(lab_notebook, lab_server, module_page):
    module_page.set_viewport_size({"width": 1280, "height": 1100})  # a whole widget on screen
    start = time.monotonic()
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    print(f"notebook ready in {time.monotonic() - start:.1f} s")
    root = Path(lab_server["root"])
    return page, root, io.load(root / "qct")


def _answer(path: Path, predicate, timeout: float = 15.0) -> dict:
    """The answer file once ``predicate(data)`` holds (the kernel writes it on every change)."""
    deadline = time.monotonic() + timeout
    data = None
    while time.monotonic() < deadline:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if predicate(data):
                return data
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never satisfied the check; last seen: {data}")


def _images(data: dict) -> list[list[float]]:
    return [p["image"] for p in data["points"]]


def _marker_centre(marker) -> tuple[float, float]:
    box = marker.locator(".dt-q-ring").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _check_point(point: dict, volume, expected) -> None:
    assert np.allclose(point["image"], expected, atol=0.1), (point, expected)
    assert np.allclose(point["patient_mm"], volume.index_to_lps(point["image"]), atol=1e-5)
    assert np.allclose(point["patient_mm"], volume.index_to_lps(expected), atol=0.1)


def _nothing_sent(page, kernel) -> list:
    """The marks the kernel holds once anything the click sent has reached it: the browser
    sends once per animation frame, and the kernel takes comm messages and this request
    in the order they were sent."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return kernel.json(page, "spot.marks")


def test_hotspot_first_click_focuses_then_clicks_move_and_keys_write_the_answer_file(
    questions, kernel, artifacts
):
    page, root, volume = questions
    widget = page.locator(".dt-q-hotspot")
    canvas = widget.locator(CANVAS)
    start = widget.locator(".dt-q-start")
    widget.locator(".dt-viewport").scroll_into_view_if_needed()
    frame = int(canvas.get_attribute("data-frame"))
    assert widget.locator(".dt-q-prompt").inner_text() == "Click the nodule"
    assert "No marker yet" in widget.locator(".dt-q-status").inner_text()
    path = root / "hotspot.json"
    assert not path.exists()

    # Not focused yet: the image says a click starts; that click gives the widget the keys
    # and places nothing.
    assert widget.get_attribute("data-active") == "0"
    assert start.inner_text() == "Click to start answering"
    widget.screenshot(path=str(artifacts / "questions-hotspot-start.png"))
    page.mouse.click(*pixel_centre(canvas, 30, 7))
    page.wait_for_selector(".dt-q-hotspot[data-active='1']")
    assert widget.evaluate("(w) => w.contains(document.activeElement)")
    assert start.inner_text() == "Click on the image to answer, or press Enter"
    assert widget.locator(".dt-q-marker").count() == 0
    assert _nothing_sent(page, kernel) == []
    assert not path.exists()
    widget.screenshot(path=str(artifacts / "questions-hotspot-focused.png"))

    # Now a click answers.
    page.mouse.click(*pixel_centre(canvas, 30, 7))
    data = _answer(path, lambda d: len(d["points"]) == 1)
    assert data["series_uid"] == SERIES_UID and data["activity"] == "nodule"
    assert data["version"] == 1
    _check_point(data["points"][0], volume, (frame, 30, 7))
    marker = widget.locator(".dt-q-marker")
    mx, my = _marker_centre(marker)
    px, py = pixel_centre(canvas, 30, 7)
    assert abs(mx - px) < 1.5 and abs(my - py) < 1.5
    page.wait_for_function(
        "() => /Saved in hotspot.json/.test("
        "document.querySelector('.dt-q-hotspot .dt-q-status').textContent)"
    )
    widget.screenshot(path=str(artifacts / "questions-hotspot.png"))

    # Drag the marker to adjust it.
    drag(page, pixel_centre(canvas, 30, 7), pixel_centre(canvas, 12, 25), steps=12)
    data = _answer(path, lambda d: abs(d["points"][0]["image"][1] - 12) < 0.5)
    _check_point(data["points"][0], volume, (frame, 12, 25))
    # A click elsewhere moves it (one marker allowed).
    page.mouse.click(*pixel_centre(canvas, 20, 20))
    data = _answer(path, lambda d: abs(d["points"][0]["image"][1] - 20) < 0.5)
    assert len(data["points"]) == 1
    _check_point(data["points"][0], volume, (frame, 20, 20))
    # Keyboard: the marker just placed is selected; an arrow moves it one pixel.
    page.keyboard.press("ArrowRight")
    data = _answer(path, lambda d: abs(d["points"][0]["image"][2] - 21) < 0.5)
    _check_point(data["points"][0], volume, (frame, 20, 21))
    assert int(canvas.get_attribute("data-frame")) == frame  # the arrow did not scroll
    # Python sees what the file holds.
    marks = kernel.wait_json(page, "spot.marks", lambda m: m and m[0]["image"][2] == 21.0)
    assert marks == [{"image": data["points"][0]["image"], "label": ""}]
    text = widget.locator(".dt-q-list").inner_text()
    assert "Your marker · slice" in text and "Remove" in text
    assert start.is_hidden()  # an answer to look at: nothing over it


def test_a_click_back_into_the_hotspot_only_gives_it_the_keys(questions, kernel, artifacts):
    """After working elsewhere in the notebook, the click that comes back leaves the
    answer as it is; the next one moves the marker. Keyboard users answer with Enter."""
    page, root, volume = questions
    widget = page.locator(".dt-q-hotspot")
    canvas = widget.locator(CANVAS)
    path = root / "hotspot.json"
    frame = int(canvas.get_attribute("data-frame"))
    before = _answer(path, lambda d: len(d["points"]) == 1)
    page.locator(".dt-q-labels .dt-q-prompt").click()  # the learner reads the next question
    page.wait_for_selector(".dt-q-hotspot[data-active='0']")
    start = widget.locator(".dt-q-start")
    assert start.inner_text() == "Click to change your answer"
    widget.locator(".dt-viewport").scroll_into_view_if_needed()
    marker = _marker_centre(widget.locator(".dt-q-marker"))
    page.mouse.click(*pixel_centre(canvas, 40, 30))
    page.wait_for_selector(".dt-q-hotspot[data-active='1']")
    assert _nothing_sent(page, kernel) == [{"image": before["points"][0]["image"], "label": ""}]
    assert json.loads(path.read_text(encoding="utf-8")) == before
    assert _marker_centre(widget.locator(".dt-q-marker")) == marker
    page.mouse.click(*pixel_centre(canvas, 40, 30))
    data = _answer(path, lambda d: abs(d["points"][0]["image"][1] - 40) < 0.5)
    _check_point(data["points"][0], volume, (frame, 40, 30))
    # With the keyboard: focus comes (as by Tab) without a click, and Enter answers, at the
    # image's centre (48 × 40) when the mouse is not on it.
    page.locator(".dt-q-labels .dt-q-prompt").click()
    page.wait_for_selector(".dt-q-hotspot[data-active='0']")
    widget.focus()
    page.wait_for_selector(".dt-q-hotspot[data-active='1']")
    page.keyboard.press("Enter")
    data = _answer(path, lambda d: abs(d["points"][0]["image"][1] - 24) < 0.5)
    _check_point(data["points"][0], volume, (frame, 24, 20))


def test_label_chips_dragged_onto_the_image_and_one_taken_back(questions, kernel, artifacts):
    page, root, volume = questions
    widget = page.locator(".dt-q-labels")
    canvas = widget.locator(CANVAS)
    widget.locator(".dt-q-body").scroll_into_view_if_needed()
    frame = int(canvas.get_attribute("data-frame"))
    path = root / "labels.json"
    assert "0 of 3 labels placed" in widget.locator(".dt-q-status").inner_text()

    def chip(name):
        box = widget.locator(f'.dt-q-chip[data-label="{name}"]').bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    drag(page, chip("aorta"), pixel_centre(canvas, 10, 10), steps=12)
    drag(page, chip("trachea"), pixel_centre(canvas, 35, 30), steps=12)
    data = _answer(path, lambda d: len(d["points"]) == 2)
    by_label = {p["label"]: p for p in data["points"]}
    assert set(by_label) == {"aorta", "trachea"}
    _check_point(by_label["aorta"], volume, (frame, 10, 10))
    _check_point(by_label["trachea"], volume, (frame, 35, 30))
    assert "2 of 3 labels placed" in widget.locator(".dt-q-status").inner_text()
    # A placed label's chip is marked and its marker carries the name.
    assert widget.locator('.dt-q-chip-row[data-label="aorta"]').get_attribute("data-count") == "1"
    assert sorted(widget.locator(".dt-q-marker text").all_text_contents()) == ["aorta", "trachea"]

    # Mid-drag of the third chip: a preview where it would land.
    page.mouse.move(*chip("spine"))
    page.mouse.down()
    page.mouse.move(*pixel_centre(canvas, 24, 20), steps=8)
    preview = widget.locator(".dt-q-preview")
    preview.wait_for()
    mx, my = _marker_centre(preview)
    px, py = pixel_centre(canvas, 24, 20)
    assert abs(mx - px) < 1.5 and abs(my - py) < 1.5
    widget.screenshot(path=str(artifacts / "questions-labels-dragging.png"))
    page.mouse.move(*chip("aorta"), steps=8)  # changed my mind: let go over the list
    page.mouse.up()
    time.sleep(0.3)
    assert len(json.loads(path.read_text())["points"]) == 2

    # The trachea dragged off the image: taken back.
    side = widget.locator(".dt-q-side").bounding_box()
    drag(
        page,
        pixel_centre(canvas, 35, 30),
        (side["x"] + 40, side["y"] + side["height"] / 2),
        steps=12,
    )
    data = _answer(path, lambda d: len(d["points"]) == 1)
    assert data["points"][0]["label"] == "aorta"
    assert "1 of 3 labels placed" in widget.locator(".dt-q-status").inner_text()
    assert kernel.wait_json(page, "[p.label for p in drop.points]", lambda v: v == ["aorta"]) == [
        "aorta"
    ]

    # Keyboard: choose a chip (Enter on it), then Enter places it at the mouse; arrows move it.
    widget.locator('.dt-q-chip[data-label="spine"]').focus()
    page.keyboard.press("Enter")
    page.mouse.move(*pixel_centre(canvas, 40, 5))
    page.keyboard.press("Enter")
    data = _answer(path, lambda d: len(d["points"]) == 2)
    _check_point(data["points"][1], volume, (frame, 40, 5))
    page.keyboard.press("ArrowUp")
    data = _answer(path, lambda d: abs(d["points"][1]["image"][1] - 39) < 0.5)
    assert [p["label"] for p in data["points"]] == ["aorta", "spine"]
    _check_point(data["points"][1], volume, (frame, 39, 5))
    assert int(canvas.get_attribute("data-frame")) == frame

    # A finger: the trachea chip dragged by touch events (pointerType "touch").
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    (x0, y0), (x1, y1) = chip("trachea"), pixel_centre(canvas, 30, 30)
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]}
    )
    for t in np.linspace(0, 1, 10)[1:]:
        point = {"x": x0 + t * (x1 - x0), "y": y0 + t * (y1 - y0)}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": False})
    cdp.detach()
    data = _answer(path, lambda d: len(d["points"]) == 3)
    assert [p["label"] for p in data["points"]] == ["aorta", "spine", "trachea"]
    _check_point(data["points"][2], volume, (frame, 30, 30))
    widget.screenshot(path=str(artifacts / "questions-labels.png"))


def test_after_a_kernel_restart_the_markers_come_back_from_the_files(questions, kernel, artifacts):
    page, root, volume = questions
    files = {name: (root / name).read_bytes() for name in ("hotspot.json", "labels.json")}
    saved = {name: json.loads(text) for name, text in files.items()}
    page.evaluate("() => document.querySelectorAll('.dt-question').forEach(e => e.dataset.old = 1)")
    start = time.monotonic()
    page.evaluate(
        """async () => {
          const panel = window.jupyterapp.shell.currentWidget;
          await panel.sessionContext.restartKernel();
          window.jupyterapp.commands.execute('notebook:run-all-cells');
        }"""
    )
    page.wait_for_function(f"() => {READY}", timeout=60_000)
    print(f"restart and re-run in {time.monotonic() - start:.1f} s")
    assert kernel(page, "print(spot.points[0].image)").strip() == str(
        tuple(saved["hotspot.json"]["points"][0]["image"])
    )
    spot = page.locator(".dt-q-hotspot:not([data-old])")
    canvas = spot.locator(CANVAS)
    spot.locator(".dt-viewport").scroll_into_view_if_needed()
    frame, row, col = saved["hotspot.json"]["points"][0]["image"]
    assert int(canvas.get_attribute("data-frame")) == round(frame)
    mx, my = _marker_centre(spot.locator(".dt-q-marker"))
    px, py = pixel_centre(canvas, row, col)
    assert abs(mx - px) < 1.5 and abs(my - py) < 1.5
    assert "Your answer was loaded from hotspot.json" in spot.locator(".dt-q-status").inner_text()

    labels = page.locator(".dt-q-labels:not([data-old])")
    labels.locator(".dt-viewport").scroll_into_view_if_needed()
    points = saved["labels.json"]["points"]
    assert [p["label"] for p in points] == ["aorta", "spine", "trachea"]
    for point in points:
        marker = labels.locator(f'.dt-q-marker[data-label="{point["label"]}"]')
        mx, my = _marker_centre(marker)
        px, py = pixel_centre(labels.locator(CANVAS), point["image"][1], point["image"][2])
        assert abs(mx - px) < 1.5 and abs(my - py) < 1.5
    assert "3 of 3 labels placed" in labels.locator(".dt-q-status").inner_text()
    # Loading does not rewrite: the files are byte for byte what the learner saved.
    assert {name: (root / name).read_bytes() for name in files} == files
    page.locator(".jp-NotebookPanel").screenshot(path=str(artifacts / "questions-restored.png"))


def test_hotspot_in_voila_writes_the_answer_file(
    start_voila, page, tmp_path, artifacts, write_notebook
):
    folder = tmp_path / "app"
    folder.mkdir()
    k, r, c = np.mgrid[0:8, 0:48, 0:40]
    write_ct_series(
        folder / "qct",
        -900 + 30 * c + 20 * r + 10.0 * k,
        spacing=(2.5, 0.7, 0.9),
        series_uid=SERIES_UID,
    )
    volume = io.load(folder / "qct")
    # An answer left from another series: moved aside, with a notice, not overwritten.
    stale = '{"version": 1, "series_uid": "1.2.3", "activity": "", "points": []}'
    (folder / "voila-hotspot.json").write_text(stale)
    write_notebook(
        folder / "app.ipynb",
        [
            "from dicomteach import io\nfrom dicomteach.widgets import Hotspot\n"
            "Hotspot(io.load('qct'), prompt='Click the nodule', answer='voila-hotspot.json')"
        ],
    )
    start = time.monotonic()
    url = start_voila(folder / "app.ipynb")
    page.goto(url)
    page.wait_for_selector(f'.dt-q-hotspot {CANVAS}[data-rendered="1"]', timeout=60_000)
    print(f"Voilà page ready in {time.monotonic() - start:.1f} s")
    widget = page.locator(".dt-q-hotspot")
    canvas = widget.locator(CANVAS)
    frame = int(canvas.get_attribute("data-frame"))
    notice = widget.locator(".dt-q-notice").inner_text()
    assert "another series (1.2.3)" in notice and "voila-hotspot.moved-" in notice
    (moved,) = folder.glob("voila-hotspot.moved-*.json")
    assert moved.read_text() == stale
    # The first click in the app starts (gives the widget the keys), the second answers.
    assert widget.locator(".dt-q-start").inner_text() == "Click to start answering"
    page.mouse.click(*pixel_centre(canvas, 8, 33))
    page.wait_for_selector(".dt-q-hotspot[data-active='1']")
    assert widget.locator(".dt-q-marker").count() == 0
    page.mouse.click(*pixel_centre(canvas, 8, 33))
    data = _answer(folder / "voila-hotspot.json", lambda d: len(d["points"]) == 1)
    _check_point(data["points"][0], volume, (frame, 8, 33))
    page.wait_for_function(
        "() => /Saved in voila-hotspot.json/.test("
        "document.querySelector('.dt-q-hotspot .dt-q-status').textContent)"
    )
    widget.screenshot(path=str(artifacts / "questions-voila.png"))
