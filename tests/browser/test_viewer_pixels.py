"""The same exact pixels in Voilà, for MONOCHROME1 and for per-frame rescale.

* Voilà serves a notebook showing a ``Viewer`` on the synthetic CT of
  test_viewer.py: the canvas equals ``window_to_uint8`` pixel for pixel, after ↓
  and after a preset click too — the widget works the same in JupyterLab 4 and Voilà.
* In JupyterLab, a real Philips CR (MONOCHROME1, pydicom-data) is drawn inverted
  exactly, and a CT series whose slices each have their own Rescale Slope and
  Intercept is drawn exactly on two frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values, window_to_uint8
from dicomteach.io.volume import Window
from dicomteach.io.writer import write_ct_series

from .conftest import canvas_rgba, screenshot_on_failure

pytestmark = pytest.mark.browser

CANVAS = "canvas.dt-viewer-canvas"
RENDERED = f'{CANVAS}[data-rendered="1"]'


def _ct_hu() -> np.ndarray:
    """The 5×64×64 air-to-bone gradient of test_viewer.py."""
    k, r, c = np.mgrid[0:5, 0:64, 0:64]
    return (-1024 + 32 * c + 7 * r + 111 * k).astype(float)


def _assert_draws(canvas, volume, frame: int, window: Window) -> None:
    canvas.page.wait_for_function(
        "([c, f]) => c.dataset.rendered === '1' && c.dataset.frame === f",
        arg=[canvas.element_handle(), str(frame)],
        timeout=10_000,
    )
    assert (
        float(canvas.get_attribute("data-center")),
        float(canvas.get_attribute("data-width")),
    ) == (
        float(window.center),
        float(window.width),
    )
    expected = window_to_uint8(modality_values(volume)[frame], window, invert=volume.inverted)
    image = canvas_rgba(canvas)
    assert image.shape[:2] == expected.shape
    assert (image[..., 3] == 255).all()
    for channel in range(3):
        mismatched = int((image[..., channel] != expected).sum())
        assert mismatched == 0, f"{mismatched} pixels differ in channel {channel}"


# --- Voilà ---------------------------------------------------------------------------


def test_voila_draws_the_reference_pixels(page, start_voila, write_notebook, tmp_path, artifacts):
    write_ct_series(tmp_path / "ct", _ct_hu())
    volume = io.load(tmp_path / "ct")
    notebook = tmp_path / "viewer.ipynb"
    write_notebook(
        notebook,
        [
            "from dicomteach import io\n"
            "from dicomteach.widgets import Viewer\n"
            "from dicomteach.io.volume import Window\n"
            f"viewer = Viewer(io.load({str(tmp_path / 'ct')!r}), window=Window(40, 400))\n"
            "viewer",
        ],
    )
    url = start_voila(notebook)
    page.goto(url)
    with screenshot_on_failure(page, artifacts / "viewer-voila-timeout.png"):
        page.wait_for_selector(RENDERED, timeout=60_000)
    canvas = page.locator(CANVAS)
    _assert_draws(canvas, volume, 2, Window(40, 400))
    z = volume.index_to_lps((2, 0, 0))[2]
    where = f"{'I' if z < 0 else 'S'} {abs(z):.1f} mm"
    assert page.locator(".dt-viewer-readout").inner_text() == f"W 400 L 40 HU · slice 3/5 · {where}"
    page.screenshot(path=str(artifacts / "viewer-voila.png"))

    page.focus(".dt-viewer")
    page.keyboard.press("ArrowDown")
    _assert_draws(canvas, volume, 3, Window(40, 400))

    page.locator('button[data-preset="Lung"]').click()
    page.wait_for_selector(f'{CANVAS}[data-width="1500"]', timeout=10_000)
    _assert_draws(canvas, volume, 3, Window(-600, 1500))


# --- JupyterLab: MONOCHROME1 and per-frame rescale ------------------------------------


def _per_frame_ct(folder) -> None:
    """The gradient CT with each slice stored under its own slope and intercept."""
    paths = write_ct_series(folder, _ct_hu())
    for k, path in enumerate(sorted(paths)):
        ds = pydicom.dcmread(path)
        ds.RescaleSlope = f"{0.5 + 0.25 * k:g}"  # 0.5, 0.75, 1, 1.25, 1.5
        ds.RescaleIntercept = f"{-1024 + 37.5 * k:g}"
        ds.save_as(path)


@pytest.fixture
def lab_pixels_page(page, lab_server, write_notebook, run_in_lab, artifacts):
    root = lab_server["root"]
    _per_frame_ct(root / "ct_per_frame")
    notebook = "viewer_pixels.ipynb"
    write_notebook(
        root / notebook,
        [
            "import dataclasses\n"
            "import pydicom.data\n"
            "from dicomteach import io\n"
            "from dicomteach.widgets import Viewer\n"
            "from dicomteach.io.volume import Window\n"
            "cr = io.load(pydicom.data.get_testdata_file('RG1_UNCR.dcm', download=False))\n"
            "# 1955×1841 sent as a quarter in each direction: the header windows stay.\n"
            "cr = dataclasses.replace(cr, pixels=cr.pixels[:, ::4, ::4].copy(),\n"
            "    spacing=(cr.spacing[0], 4 * cr.spacing[1], 4 * cr.spacing[2]))\n"
            "Viewer(cr)",
            "ct = io.load('ct_per_frame')\nct_viewer = Viewer(ct, window=Window(40, 400))\nct_viewer",
        ],
    )
    run_in_lab(notebook)
    with screenshot_on_failure(page, artifacts / "viewer-pixels-lab-timeout.png"):
        page.wait_for_function(
            f"() => document.querySelectorAll('{RENDERED}').length === 2", timeout=60_000
        )
    return page


def test_lab_draws_monochrome1_and_per_frame_rescale_exactly(
    lab_pixels_page, lab_server, artifacts
):
    page = lab_pixels_page
    from pydicom.data import get_testdata_file

    # A real Philips CR, MONOCHROME1: lowest values white, header window 15000/30000.
    cr = io.load(get_testdata_file("RG1_UNCR.dcm", download=False))
    assert cr.inverted and cr.pixels.shape == (1, 1955, 1841)
    cr = dataclasses.replace(cr, pixels=cr.pixels[:, ::4, ::4].copy())
    window = cr.windows[0]
    assert (window.center, window.width) == (15000.0, 30000.0)
    cr_canvas = page.locator(CANVAS).nth(0)
    _assert_draws(cr_canvas, cr, 0, window)
    expected = window_to_uint8(modality_values(cr)[0], window, invert=True)
    assert not np.array_equal(expected, window_to_uint8(modality_values(cr)[0], window))
    cr_canvas.screenshot(path=str(artifacts / "viewer-canvas-cr.png"))

    # Each slice its own slope and intercept: two frames, each with its own rescale.
    ct = io.load(lab_server["root"] / "ct_per_frame")
    assert ct.rescale_slope.tolist() == [0.5, 0.75, 1.0, 1.25, 1.5]
    assert ct.rescale_intercept.tolist() == [-1024 + 37.5 * k for k in range(5)]
    ct_canvas = page.locator(CANVAS).nth(1)
    _assert_draws(ct_canvas, ct, 2, Window(40, 400))
    page.locator(".dt-viewer").nth(1).focus()
    page.keyboard.press("ArrowDown")
    _assert_draws(ct_canvas, ct, 3, Window(40, 400))
    ct_canvas.screenshot(path=str(artifacts / "viewer-canvas-per-frame.png"))
