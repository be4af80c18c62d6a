"""Tables and streaming in the browser: real files with a Modality LUT and a VOI LUT
table drawn exactly, and a series streamed in many small messages arriving whole."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from dicomteach import io
from dicomteach.imaging import modality_values, voi_lut_to_uint8, window_to_uint8
from dicomteach.imaging.planes import extract_slice, plane_layout
from dicomteach.io.volume import Window

from .conftest import canvas_rgba, drag

pytestmark = pytest.mark.browser

CANVAS = "canvas.dt-viewer-canvas"
CELLS = [
    "import numpy as np\n"
    "from pydicom.data import get_testdata_file\n"
    "from dicomteach import io\n"
    "from dicomteach.io.volume import Window\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.widgets import Viewer\n"
    "mlut = Viewer(get_testdata_file('mlut_18.dcm', download=False))\nmlut",
    "vlut = Viewer(get_testdata_file('vlut_04.dcm', download=False))\nvlut",
    "k, r, c = np.mgrid[0:40, 0:64, 0:64]\n"
    "write_ct_series('long', (-1000 + 15 * c + 11 * r + 37 * k).astype(float))\n"
    "streamed = Viewer(io.load('long'), window=Window(400, 3000))\n"
    "streamed.chunk_bytes = 3 * 64 * 64 * 2  # three slices per message\n"
    "sent = []\n"
    "_send = streamed.send\n"
    "streamed.send = lambda content, buffers=None: (sent.append(dict(content)), _send(content, buffers))[1]\n"
    "streamed",
]
READY = (
    "document.querySelectorAll('canvas.dt-viewer-canvas[data-rendered=\"1\"]').length === 3"
    " && document.querySelectorAll('canvas.dt-viewer-canvas')[2].dataset.loaded === '40'"
)


def _grey(locator) -> np.ndarray:
    rgba = canvas_rgba(locator)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 3] == 255).all()
    return rgba[..., 0]


@pytest.fixture(scope="module")
def luts_page(lab_notebook):
    return lab_notebook("viewer_luts.ipynb", CELLS, READY)


def test_modality_lut_table_is_applied_in_the_browser(luts_page, kernel):
    page = luts_page
    volume = io.load(get_testdata_file("mlut_18.dcm", download=False))
    assert volume.modality_lut is not None
    window = Window(*kernel.json(page, "[mlut.window_center, mlut.window_width]"))
    values = modality_values(volume)[0]
    # The table really changes the picture: not the stored values windowed.
    assert not np.array_equal(
        window_to_uint8(values, window), window_to_uint8(volume.pixels[0], window)
    )
    drawn = _grey(page.locator(".dt-viewer").nth(0).locator(CANVAS))
    assert np.array_equal(drawn, window_to_uint8(values, window))


def test_voi_lut_table_preset_draws_the_table(luts_page, artifacts):
    page = luts_page
    volume = io.load(get_testdata_file("vlut_04.dcm", download=False))
    root = page.locator(".dt-viewer").nth(1)
    root.locator('button[data-preset="VOI LUT 1"]').click()
    page.wait_for_function(
        "() => document.querySelectorAll('.dt-viewer-readout')[1].textContent"
        ".startsWith('VOI LUT 1')"
    )
    expected = voi_lut_to_uint8(modality_values(volume)[0], volume.voi_luts[0])
    drawn = _grey(root.locator(CANVAS))
    assert np.array_equal(drawn, expected)
    root.locator(CANVAS).screenshot(path=str(artifacts / "viewer-voi-lut.png"))


def test_a_series_streamed_in_small_messages_arrives_whole_and_in_order(
    luts_page, kernel, lab_server
):
    page = luts_page
    sent = kernel.json(page, "sent")
    chunks = [m for m in sent if m["type"] == "chunk"]
    # 40 slices: the one on screen (20) alone first, then three per message, each once.
    assert (chunks[0]["start"], chunks[0]["count"]) == (20, 1)
    covered = [f for m in chunks for f in range(m["start"], m["start"] + m["count"])]
    assert sorted(covered) == list(range(40))
    assert all(m["count"] <= 3 for m in chunks) and len(chunks) == 15
    volume = io.load(lab_server["root"] / "long")
    window = Window(400, 3000)
    root = page.locator(".dt-viewer").nth(2)
    canvas = root.locator(CANVAS)
    root.focus()
    for key, frame in (("Home", 0), ("End", 39)):
        page.keyboard.press(key)
        page.wait_for_selector(f'{CANVAS}[data-frame="{frame}"]', timeout=10_000)
        assert np.array_equal(
            _grey(root.locator(CANVAS)),
            window_to_uint8(modality_values(volume)[frame], window),
        )
    # A reformat needs every slice: the sagittal plane is exact too.
    root.locator('button[data-plane="sagittal"]').click()
    page.wait_for_selector(f'{CANVAS}[data-plane="sagittal"]', timeout=10_000)
    layout = plane_layout(volume.direction, volume.spacing, volume.pixels.shape, "sagittal")
    index = int(canvas.get_attribute("data-slice"))
    expected = window_to_uint8(extract_slice(modality_values(volume), layout, index), window)
    assert np.array_equal(_grey(canvas), expected)


def test_window_zoom_plane_and_overlay_changes_never_resend_pixels(luts_page, kernel, artifacts):
    """docs/decisions.md, decision 1: after the series is in, the browser asks for nothing more."""
    page = luts_page
    before = len(kernel.json(page, "sent"))
    root = page.locator(".dt-viewer").nth(2)
    canvas = root.locator(CANVAS)
    root.locator('button[data-plane="axial"]').click()
    page.wait_for_selector(f'{CANVAS}[data-plane="axial"]', timeout=10_000)
    root.focus()
    for key in ("2", "ArrowUp", "+", "c", "a", "r"):
        page.keyboard.press(key)
    box = canvas.bounding_box()
    drag(page, (box["x"] + 20, box["y"] + 20), (box["x"] + 60, box["y"] + 50), steps=5)
    drag(
        page,
        (box["x"] + 40, box["y"] + 40),
        (box["x"] + 40, box["y"] + 10),
        steps=4,
        button="right",
    )
    # An overlay is a new layer: that, and only that, is sent.
    kernel(
        page, "streamed.set_overlay(np.zeros(streamed.volume.pixels.shape, bool), mode='outline')"
    )
    page.wait_for_function(
        "() => document.querySelectorAll('canvas.dt-viewer-overlay')[2].width > 0", timeout=10_000
    )
    kernel(page, "streamed.overlay_mode = 'fill'; streamed.window_center = 100.0")
    page.wait_for_selector(f'{CANVAS}[data-center="100"]', timeout=10_000)
    after = kernel.json(page, "sent")[before:]
    assert {m["layer"] for m in after} <= {"labels"}, after
    assert sum(m["count"] for m in after) == 40  # the label map, once
