"""The browser draws exactly what dicomteach.imaging computes (docs/decisions.md, decision 1).

A real JupyterLab runs a notebook that shows a ``Viewer``; headless Chromium
reads the canvas back and every pixel is compared with
``window_to_uint8(modality_values(volume)[frame], window)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values, window_to_uint8
from dicomteach.io.volume import Window

from .conftest import canvas_rgba, drag, screenshot_on_failure

pytestmark = pytest.mark.browser

NOTEBOOK = "viewer.ipynb"
CELLS = [
    # A deterministic 5×64×64 CT gradient from air to bone, stored with slope 1, intercept -1024.
    "import numpy as np\n"
    "from dicomteach import io\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "k, r, c = np.mgrid[0:5, 0:64, 0:64]\n"
    "hu = (-1024 + 32 * c + 7 * r + 111 * k).astype(float)\n"
    "write_ct_series('ct', hu)\n"
    "vol = io.load('ct')",
    "from dicomteach.widgets import Viewer\n"
    "from dicomteach.io.volume import Window\n"
    "viewer = Viewer(vol, window=Window(40, 400))\n"
    "viewer",
]
CANVAS = "canvas.dt-viewer-canvas"


def _assert_draws(page, volume, frame: int, window: Window) -> None:
    expected = window_to_uint8(modality_values(volume)[frame], window, invert=volume.inverted)
    image = canvas_rgba(page.locator(CANVAS))
    assert image.shape[:2] == expected.shape
    assert (image[..., 3] == 255).all()
    for channel in range(3):
        mismatched = int((image[..., channel] != expected).sum())
        assert mismatched == 0, f"{mismatched} pixels differ in channel {channel}"


def _drawn_state(page) -> tuple[int, float, float]:
    canvas = page.locator(CANVAS)
    frame = int(canvas.get_attribute("data-frame"))
    # JS String(number) is the shortest round-trip form: float() recovers the exact double.
    return (
        frame,
        float(canvas.get_attribute("data-center")),
        float(canvas.get_attribute("data-width")),
    )


def _wait_attribute(page, name: str, value: str) -> None:
    page.wait_for_selector(f'{CANVAS}[data-rendered="1"][data-{name}="{value}"]', timeout=10_000)


@pytest.fixture
def viewer_page(page, lab_server, write_notebook, run_in_lab, artifacts):
    write_notebook(lab_server["root"] / NOTEBOOK, CELLS)
    run_in_lab(NOTEBOOK)
    with screenshot_on_failure(page, artifacts / "viewer-lab-timeout.png"):
        page.wait_for_selector(f'{CANVAS}[data-rendered="1"]', timeout=60_000)
    volume = io.load(lab_server["root"] / "ct")
    return page, volume


def test_viewer_draws_the_reference_pixels_while_scrolling_and_windowing(
    viewer_page, kernel, artifacts
):
    page, volume = viewer_page
    assert volume.pixels.shape == (5, 64, 64)
    assert np.allclose(volume.rescale_slope, 1) and np.allclose(volume.rescale_intercept, -1024)

    frame, center, width = _drawn_state(page)
    assert (frame, center, width) == (2, 40.0, 400.0)
    _assert_draws(page, volume, 2, Window(40, 400))
    page.screenshot(path=str(artifacts / "viewer-lab.png"))
    page.locator(CANVAS).screenshot(path=str(artifacts / "viewer-canvas.png"))
    readout = page.locator(".dt-viewer-readout").inner_text()
    z = volume.index_to_lps((2, 0, 0))[2]
    assert readout == f"W 400 L 40 HU · slice 3/5 · {'I' if z < 0 else 'S'} {abs(z):.1f} mm"

    # ↓ is the next slice, and the notebook does not take the key for itself.
    page.focus(".dt-viewer")
    page.keyboard.press("ArrowDown")
    _wait_attribute(page, "frame", "3")
    _assert_draws(page, volume, 3, Window(40, 400))

    # Wheel up: the previous slice.
    box = page.locator(CANVAS).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -100)
    _wait_attribute(page, "frame", "2")
    _assert_draws(page, volume, 2, Window(40, 400))

    # A preset button.
    page.locator('button[data-preset="Lung"]').click()
    _wait_attribute(page, "width", "1500")
    _, center, width = _drawn_state(page)
    assert (center, width) == (-600.0, 1500.0)
    _assert_draws(page, volume, 2, Window(-600, 1500))
    page.locator(CANVAS).screenshot(path=str(artifacts / "viewer-canvas-lung.png"))

    # Left-drag: right widens the window, down raises the center; drawn exactly.
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drag(page, (x, y), (x + 60, y + 40), steps=5)
    page.wait_for_function(
        f"() => document.querySelector('{CANVAS}').dataset.width !== '1500'", timeout=10_000
    )
    frame, center, width = _drawn_state(page)
    assert width > 1500 and center > -600
    _assert_draws(page, volume, frame, Window(center, width))

    # The kernel sees the window the learner set (sent once per animation frame).
    code = "print(repr(viewer.window_center), repr(viewer.window_width), viewer.frame)"
    expected = f"{center!r} {width!r} {frame}"
    seen = ""
    for _ in range(40):
        seen = kernel(page, code).strip()
        if seen == expected:
            break
        page.wait_for_timeout(100)
    assert seen == expected

    # Reset: the initial window and the middle slice.
    page.locator('button[data-action="reset"]').click()
    _wait_attribute(page, "width", "400")
    assert _drawn_state(page) == (2, 40.0, 400.0)
    _assert_draws(page, volume, 2, Window(40, 400))
