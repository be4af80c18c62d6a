"""What a learner does with the Viewer beyond scrolling, checked on what Chromium drew.

One JupyterLab notebook shows an anisotropic CT with a lesion overlay and a
fused PET-like map, a colour image, a cine loop and a path that does not load.
Reformats, overlays and the fused map are compared pixel for pixel with the
Python reference (dicomteach.imaging); zoom, pan, cursor readout, ruler and
ellipse with what the kernel received.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values, window_to_uint8
from dicomteach.imaging.colormaps import colormap
from dicomteach.imaging.measure import ellipse_stats, ruler_length_mm
from dicomteach.imaging.planes import extract_slice, plane_layout
from dicomteach.io.volume import Window

from .conftest import canvas_rgba, drag, pixel_centre

pytestmark = pytest.mark.browser

NOTEBOOK = "viewer_tools.ipynb"
SETUP = (
    "import numpy as np\n"
    "from dicomteach import io\n"
    "from dicomteach.io.volume import Volume, Window\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.widgets import Viewer\n"
    "k, r, c = np.mgrid[0:24, 0:48, 0:40]\n"
    "hu = (-1000 + 40 * c + 9 * r + 35 * k).astype(float)\n"
    "write_ct_series('tools_ct', hu, spacing=(2.5, 0.7, 0.9))\n"
    "ct = io.load('tools_ct')\n"
    "lesion = (k - 12) ** 2 * 6 + (r - 20) ** 2 + (c - 22) ** 2 < 64\n"
    "# A coarse PET-like map in the same patient frame: a hot sphere on a warm background.\n"
    "kk, rr, cc = np.mgrid[0:12, 0:24, 0:20]\n"
    "suv = (1 + 7 * np.exp(-((kk - 6) ** 2 + (rr - 10) ** 2 + (cc - 11) ** 2) / 8)) * 1000\n"
    "pet = Volume(suv.astype(np.uint16), (5.0, 1.4, 1.8), ct.origin, ct.direction,\n"
    "             modality='PT', units='SUVbw', rescale_slope=np.array([0.001]),\n"
    "             rescale_intercept=np.array([0.0]), geometry_known=True)\n"
)
CELLS = [
    SETUP,
    "viewer = Viewer(ct, window=Window(500, 2000), overlay={'lesion': lesion},\n"
    "                overlay_opacity=0.5, fuse=pet, fuse_window=Window(4, 8))\nviewer",
    "rgb = np.zeros((1, 30, 50, 3), np.uint8)\n"
    "rgb[0, :, :, 0] = np.arange(50) * 5\n"
    "rgb[0, :, :, 1] = np.arange(30)[:, None] * 8\n"
    "rgb[0, 10:20, 20:30, 2] = 200\n"
    "photo = Volume(rgb, (1.0, 0.1, 0.1), (0.0, 0.0, 0.0),\n"
    "               np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]]), modality='OP',\n"
    "               photometric='RGB')\nViewer(photo)",
    "cine = Volume(np.arange(6 * 16 * 16, dtype=np.uint16).reshape(6, 16, 16) % 97,\n"
    "              (1.0, 0.2, 0.2), (0.0, 0.0, 0.0),\n"
    "              np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]]), modality='US',\n"
    "              frame_time_ms=50.0)\nViewer(cine)",
    "Viewer('no-such-folder')",
]
VIEWPORT = ".dt-viewport"
CANVAS = "canvas.dt-viewer-canvas"

READY = (
    "document.querySelectorAll('canvas.dt-viewer-canvas[data-rendered=\"1\"]').length === 3"
    " && document.querySelector('.dt-viewer-message:not([hidden])')"
)


@pytest.fixture(scope="module")
def tools_page(lab_notebook, lab_server):
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    return page, io.load(lab_server["root"] / "tools_ct")


def _ct(page):
    root = page.locator(".dt-viewer").nth(0)
    return root, root.locator(CANVAS)


def _expected_plane(volume, plane: str, index: int, window: Window) -> np.ndarray:
    layout = plane_layout(volume.direction, volume.spacing, volume.pixels.shape, plane)
    return window_to_uint8(extract_slice(modality_values(volume), layout, index), window)


def _wait(page, selector: str) -> None:
    page.wait_for_selector(selector, timeout=10_000)


def test_reformats_draw_the_reference_with_letters_and_true_aspect(tools_page, kernel, artifacts):
    page, volume = tools_page
    root, canvas = _ct(page)
    window = Window(500, 2000)
    assert np.array_equal(canvas_rgba(canvas)[..., 0], _expected_plane(volume, "axial", 12, window))
    letters = {
        s: root.locator(f".dt-letter-{s}").inner_text() for s in ("top", "bottom", "left", "right")
    }
    assert letters == {"top": "A", "bottom": "P", "left": "R", "right": "L"}

    for plane, key, expected_letters in (
        ("coronal", "c", {"top": "S", "bottom": "I", "left": "R", "right": "L"}),
        ("sagittal", "s", {"top": "S", "bottom": "I", "left": "A", "right": "P"}),
    ):
        if plane == "coronal":
            root.locator(f'button[data-plane="{plane}"]').click()
        else:
            root.focus()
            page.keyboard.press(key)
        _wait(page, f'{CANVAS}[data-plane="{plane}"][data-rendered="1"]')
        layout = plane_layout(volume.direction, volume.spacing, volume.pixels.shape, plane)
        index = int(canvas.get_attribute("data-slice"))
        drawn = canvas_rgba(canvas)
        assert drawn.shape[:2] == (layout.rows, layout.cols)
        assert np.array_equal(drawn[..., 0], _expected_plane(volume, plane, index, window))
        # Superior at the top: the top row holds the last (most superior) slices' values.
        got = {s: root.locator(f".dt-letter-{s}").inner_text() for s in expected_letters}
        assert got == expected_letters
        # Anisotropic voxels drawn with their true shape: screen aspect = mm aspect.
        box = canvas.bounding_box()
        mm = (layout.cols * layout.col_spacing) / (layout.rows * layout.row_spacing)
        assert abs(box["width"] / box["height"] - mm) < 0.02
        root.screenshot(path=str(artifacts / f"viewer-{plane}.png"))
        # Scrolling moves through this plane's slices.
        root.focus()
        page.keyboard.press("ArrowDown")
        _wait(page, f'{CANVAS}[data-slice="{index + 1}"]')
        assert np.array_equal(
            canvas_rgba(canvas)[..., 0], _expected_plane(volume, plane, index + 1, window)
        )
        assert kernel.wait_json(page, "viewer.plane", lambda v, p=plane: v == p) == plane
    root.focus()
    page.keyboard.press("a")
    _wait(page, f'{CANVAS}[data-plane="axial"]')


def test_zoom_pan_and_reset_move_the_picture_not_the_pixels(tools_page, kernel, artifacts):
    page, volume = tools_page
    root, canvas = _ct(page)
    before = canvas_rgba(canvas)
    box0 = canvas.bounding_box()
    vp = root.locator(VIEWPORT).bounding_box()
    x, y = vp["x"] + vp["width"] / 2, vp["y"] + vp["height"] / 2
    # Right-drag up: zoom in.
    drag(page, (x, y), (x, y - 80), steps=4, button="right")
    box1 = canvas.bounding_box()
    assert box1["width"] > 1.5 * box0["width"]
    # Shift-drag: pan by the drag.
    page.keyboard.down("Shift")
    drag(page, (x, y), (x + 50, y + 30), steps=3)
    page.keyboard.up("Shift")
    box2 = canvas.bounding_box()
    moved = (box2["x"] - box1["x"], box2["y"] - box1["y"])
    assert abs(moved[0] - 50) < 1.5 and abs(moved[1] - 30) < 1.5, (moved, box1, box2)
    assert np.array_equal(canvas_rgba(canvas), before)  # nothing re-drawn, nothing re-sent
    root.screenshot(path=str(artifacts / "viewer-zoomed.png"))
    assert kernel.wait_json(page, "viewer.zoom", lambda z: z > 1.5) > 1.5
    root.locator('button[data-action="reset"]').click()
    box3 = canvas.bounding_box()
    assert abs(box3["width"] - box0["width"]) < 0.5 and abs(box3["x"] - box0["x"]) < 0.5


def test_cursor_shows_hounsfield_units_and_patient_millimetres(tools_page):
    page, volume = tools_page
    root, canvas = _ct(page)
    frame = int(canvas.get_attribute("data-frame"))
    page.mouse.move(*pixel_centre(canvas, 30, 7))
    text = root.locator(".dt-viewer-cursor").inner_text()
    hu = modality_values(volume)[frame, 30, 7]
    lps = volume.index_to_lps((frame, 30, 7))
    assert text.startswith(f"{hu:g} HU"), text
    assert f"({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm" in text


def test_cursor_follows_the_slice_when_the_wheel_scrolls_under_a_still_mouse(tools_page):
    page, volume = tools_page
    root, canvas = _ct(page)
    page.mouse.move(*pixel_centre(canvas, 30, 7))
    before = int(canvas.get_attribute("data-frame"))
    page.mouse.wheel(0, 120)
    page.wait_for_function(
        f"() => document.querySelector('canvas.dt-viewer-canvas').dataset.frame !== '{before}'"
    )
    frame = int(canvas.get_attribute("data-frame"))
    text = root.locator(".dt-viewer-cursor").inner_text()
    hu = modality_values(volume)[frame, 30, 7]
    lps = volume.index_to_lps((frame, 30, 7))
    assert text.startswith(f"{hu:g} HU"), (before, frame, text)
    assert f"({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm" in text


def test_ruler_and_ellipse_measure_in_millimetres_like_the_reference(tools_page, kernel, artifacts):
    page, volume = tools_page
    root, canvas = _ct(page)
    frame = int(canvas.get_attribute("data-frame"))
    root.locator('button[data-tool="ruler"]').click()
    drag(page, pixel_centre(canvas, 5, 5), pixel_centre(canvas, 35, 30), steps=4)
    root.locator('button[data-tool="ellipse"]').click()
    drag(page, pixel_centre(canvas, 10, 8), pixel_centre(canvas, 30, 28), steps=4)
    _wait(page, ".dt-measure-ellipse")
    root.screenshot(path=str(artifacts / "viewer-measurements.png"))
    measurements = kernel.wait_json(page, "viewer.measurements", lambda m: len(m) == 2)
    ruler, ellipse = measurements
    assert ruler["kind"] == "ruler" and ruler["slice"] == frame
    # The end points are where the mouse went (pixel centres, within a tenth of a pixel).
    assert np.allclose(ruler["points"], [[5.5, 5.5], [35.5, 30.5]], atol=0.1)
    assert ruler["length_mm"] == pytest.approx(
        ruler_length_mm(*ruler["points"], 0.7, 0.9), rel=1e-12
    )
    assert ruler["length_mm"] == pytest.approx(np.hypot(30 * 0.7, 25 * 0.9), abs=0.1)
    assert np.allclose(ruler["patient_mm"][0], volume.index_to_lps((frame, 5, 5)), atol=0.1)
    label = root.locator(".dt-measure-ruler text").text_content()
    assert label == f"{ruler['length_mm']:.1f} mm"
    stats = ellipse_stats(modality_values(volume)[frame], *ellipse["points"], 0.7, 0.9)
    assert ellipse["n"] == stats.n > 100
    assert ellipse["mean"] == pytest.approx(stats.mean, rel=1e-9)
    assert ellipse["sd"] == pytest.approx(stats.sd, rel=1e-6)
    assert ellipse["area_mm2"] == pytest.approx(stats.area_mm2, rel=1e-12)
    # Delete removes the last one, in the browser and in the kernel.
    root.focus()
    page.keyboard.press("Delete")
    page.wait_for_function("() => !document.querySelector('.dt-measure-ellipse')")
    assert len(kernel.wait_json(page, "viewer.measurements", lambda m: len(m) == 1)) == 1
    root.locator('button[data-tool="wl"]').click()


def _expected_labels(labels: np.ndarray, color, opacity: float, mode: str) -> np.ndarray:
    out = np.zeros(labels.shape + (4,), np.uint8)
    inside = labels > 0
    padded = np.pad(labels, 1, constant_values=-1)
    edge = inside & (
        (padded[:-2, 1:-1] != labels)
        | (padded[2:, 1:-1] != labels)
        | (padded[1:-1, :-2] != labels)
        | (padded[1:-1, 2:] != labels)
    )
    out[inside, :3] = color
    out[inside, 3] = 0 if mode == "outline" else round(255 * opacity)
    out[edge, 3] = 255
    out[out[..., 3] == 0] = 0  # a canvas keeps no colour under alpha 0
    return out


def test_overlay_fill_and_outline_and_fused_map_match_the_reference(tools_page, kernel, artifacts):
    page, volume = tools_page
    root, _ = _ct(page)
    frame = int(root.locator(CANVAS).get_attribute("data-frame"))
    k, r, c = np.mgrid[0:24, 0:48, 0:40]
    lesion = ((k - 12) ** 2 * 6 + (r - 20) ** 2 + (c - 22) ** 2 < 64).astype(np.uint8)
    overlay = root.locator("canvas.dt-viewer-overlay")
    drawn = canvas_rgba(overlay)
    expected = _expected_labels(lesion[frame], (255, 64, 64), 0.5, "fill")
    assert lesion[frame].sum() > 20
    assert np.array_equal(drawn, expected)
    kernel(page, "viewer.overlay_mode = 'outline'")
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas.dt-viewer-overlay');"
        " const d = c.getContext('2d').getImageData(22, 20, 1, 1).data; return d[3] === 0; }"
    )
    assert np.array_equal(
        canvas_rgba(overlay), _expected_labels(lesion[frame], (255, 64, 64), 0.5, "outline")
    )

    fused = root.locator("canvas.dt-viewer-fused")
    values = np.array(kernel.json(page, f"viewer.fused_values[{frame}].tolist()"))
    v = window_to_uint8(values, Window(4, 8))
    expected = np.zeros(v.shape + (4,), np.uint8)
    expected[..., :3] = colormap("hot")[v]
    expected[..., 3] = np.where(v == 0, 0, 255)
    assert (v > 200).sum() > 10  # the hot sphere is on this slice
    assert np.array_equal(canvas_rgba(fused), expected)
    root.screenshot(path=str(artifacts / "viewer-overlay-fused.png"))


def test_colour_image_cine_and_error_states(tools_page, artifacts):
    page, _ = tools_page
    photo = page.locator(".dt-viewer").nth(1)
    rgba = canvas_rgba(photo.locator(CANVAS))
    assert rgba.shape == (30, 50, 4)
    assert np.array_equal(rgba[..., 0], np.tile(np.arange(50) * 5, (30, 1)))
    assert np.array_equal(rgba[..., 1], np.tile((np.arange(30) * 8)[:, None], (1, 50)))
    assert rgba[15, 25, 2] == 200 and rgba[5, 5, 2] == 0

    cine = page.locator(".dt-viewer").nth(2)
    canvas = cine.locator(CANVAS)
    start = int(canvas.get_attribute("data-frame"))
    cine.locator('button[data-action="play"]').click()
    page.wait_for_function(
        "([el, f]) => el.dataset.frame !== String(f)", arg=[canvas.element_handle(), start]
    )
    seen = {
        int(canvas.get_attribute("data-frame")) for _ in range(8) if not page.wait_for_timeout(60)
    }
    assert len(seen) >= 2
    cine.locator('button[data-action="play"]').click()
    assert cine.get_attribute("data-playing") == "0"

    broken = page.locator(".dt-viewer").nth(3)
    message = broken.locator(".dt-viewer-message").inner_text()
    assert message.startswith("Could not load the image: ") and "no-such-folder" in message
    # Only the message: no toolbar, letters or window text around nothing.
    assert not broken.locator(".dt-viewer-toolbar").is_visible()
    assert not broken.locator(".dt-letter-top").is_visible()
    broken.screenshot(path=str(artifacts / "viewer-error.png"))


def test_the_preset_on_screen_is_shown_pressed_and_a_single_image_has_no_slider(tools_page):
    page, _volume = tools_page
    root, canvas = _ct(page)
    root.locator(".dt-viewport").scroll_into_view_if_needed()

    def pressed():
        return [
            b.get_attribute("data-preset")
            for b in root.locator("button[data-preset][aria-pressed='true']").all()
        ]

    root.locator("button[data-preset='Lung']").click()
    page.wait_for_function(
        "() => document.querySelector(\"button[data-preset='Lung']\")"
        ".getAttribute('aria-pressed') === 'true'"
    )
    assert pressed() == ["Lung"]
    # a W/L drag leaves every preset: none is pressed
    box = root.locator(".dt-viewport").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    root.locator('button[data-tool="wl"]').click()
    drag(page, (x, y), (x + 40, y + 10), steps=3)
    page.wait_for_function(
        "() => !document.querySelector(\".dt-viewer button[data-preset][aria-pressed='true']\")"
    )
    assert pressed() == []
    photo = page.locator(".dt-viewer").nth(1)
    assert photo.locator(".dt-viewer-slider").is_hidden()
    assert root.locator(".dt-viewer-slider").is_visible()
    # no slice number on a single image, and nothing dangling in its place
    assert re.fullmatch(r"[SI] \d+\.\d mm", photo.locator(".dt-corner-br").inner_text())
    assert re.fullmatch(r"\d+/\d+ · [SI] \d+\.\d mm", root.locator(".dt-corner-br").inner_text())


def test_the_overlay_has_a_legend_that_hides_and_outlines_it(tools_page, kernel):
    page, _volume = tools_page
    root, _canvas = _ct(page)
    legend = root.locator(".dt-overlay-legend")
    legend.scroll_into_view_if_needed()
    assert legend.locator(".dt-legend-item").all_inner_texts() == ["lesion"]
    colour = legend.locator(".dt-swatch").evaluate("(e) => getComputedStyle(e).backgroundColor")
    expected = kernel.json(page, "viewer.label_info[0]['color']")
    assert colour == "rgb({}, {}, {})".format(*expected)
    overlay = root.locator("canvas.dt-viewer-overlay")
    assert canvas_rgba(overlay)[..., 3].any(), "the lesion is drawn on this slice"
    legend.locator("input[data-legend='lesion']").uncheck()
    page.wait_for_function(
        "() => { const c = document.querySelector('.dt-viewer canvas.dt-viewer-overlay');"
        " return c.hidden || !c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data.some((v, i) => i % 4 === 3 && v > 0); }"
    )
    assert kernel.wait_json(page, "viewer.label_info[0]['visible']", lambda v: v is False) is False
    legend.locator("input[data-legend='lesion']").check()
    legend.locator("input[data-action='outline']").check()
    assert kernel.wait_json(page, "viewer.overlay_mode", lambda m: m == "outline") == "outline"
    filled = kernel.json(page, "int(lesion[viewer.frame].sum())")
    drawn = int((canvas_rgba(overlay)[..., 3] > 0).sum())
    assert 0 < drawn < filled, (drawn, filled)  # an outline covers fewer pixels than the fill


def test_a_dragged_window_reads_as_a_console_writes_it(tools_page, kernel):
    page, _volume = tools_page
    root, _canvas = _ct(page)
    box = root.locator(".dt-viewport").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    root.locator('button[data-tool="wl"]').click()
    drag(page, (x, y), (x + 37, y - 13), steps=3)
    readout = root.locator(".dt-viewer-readout")
    # the kernel hears of the drag's last step a frame or two after the page shows it
    center, width = kernel.wait_json(
        page,
        "[viewer.window_center, viewer.window_width]",
        lambda w: readout.inner_text().startswith(f"W {round(w[1])} L {round(w[0])} HU"),
    )
    assert width != 2000 and center != round(center)  # the drag made a fractional window
    assert readout.inner_text().startswith(f"W {round(width)} L {round(center)} HU")
