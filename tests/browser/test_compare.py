"""Compare in a real JupyterLab (and once in Voilà), checked on what Chromium drew.

A synthetic baseline CT (24×64×64) and its follow-up, moved by a known shift
and with a bigger nodule, are registered and resampled in the kernel. Every
mode's picture is compared pixel for pixel with the Python reference: the
canvases for side by side, checkerboard, difference and flicker, a real
screenshot for the swipe divider dragged by the mouse. Rulers drawn on each
side measure the nodule before and after.
"""

from __future__ import annotations

import base64
import io as bytes_io
import math
import re

import numpy as np
import pytest
from PIL import Image

from dicomteach.imaging import extract_slice, plane_layout, window_to_uint8
from dicomteach.imaging.measure import ellipse_stats
from dicomteach.io.volume import Window
from dicomteach.widgets.compare import checkerboard_mask, difference_display

from .conftest import (
    canvas_rgba,
    canvas_rgba_and_data,
    drag,
    pixel_centre,
    screenshot_on_failure,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "compare.ipynb"
# Built the same way in the kernel and here (seeded noise): the baseline is known exactly.
PHANTOM = """
import numpy as np
from dicomteach.io.volume import Volume, Window

AXIAL = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])
SHIFT = (4.5, -3.0, 3.0)  # the follow-up's anatomy sits here, in mm, from the baseline's
NODULE = (-16.0, 4.0, 1.5)  # LPS mm: slice 12, row 34.2, column 20.8 of the baseline


def phantom(shift=(0.0, 0.0, 0.0), radius=6.0, seed=0):
    k, r, c = np.mgrid[0:24, 0:64, 0:64].astype(float)
    x = -47.25 + 1.5 * c - shift[0]
    y = -47.25 + 1.5 * r - shift[1]
    z = -34.5 + 3.0 * k - shift[2]
    hu = np.full(x.shape, -1000.0)
    hu[(x / 44) ** 2 + (y / 34) ** 2 + (z / 60) ** 2 <= 1] = 40
    for side in (-1, 1):
        hu[((x - 20 * side) / 15) ** 2 + ((y + 2) / 22) ** 2 + (z / 40) ** 2 <= 1] = -850
    hu[x**2 + (y - 24) ** 2 <= 36] = 700
    n = NODULE
    hu[(x - n[0]) ** 2 + (y - n[1]) ** 2 + (z - n[2]) ** 2 <= radius**2] = 50
    hu += np.random.default_rng(seed).normal(0.0, 10.0, hu.shape)
    vol = Volume(np.round(hu + 1024).astype(np.int16), (3.0, 1.5, 1.5), (-47.25, -47.25, -34.5),
                 AXIAL.copy(), modality="CT", units="HU", rescale_intercept=np.array([-1024.0]))
    return vol
"""
NAMESPACE: dict = {}
exec(PHANTOM, NAMESPACE)  # our own source, shared with the notebook
NODULE = NAMESPACE["NODULE"]
WINDOW = Window(40, 400)
CELLS = [
    PHANTOM,
    "from dicomteach.widgets import Compare\n"
    "before = phantom()\n"
    "after = phantom(SHIFT, radius=9.0, seed=1)\n"
    "compare = Compare(before, after, window=Window(40, 400))\n"
    "compare",
]
VOILA_CELLS = CELLS
CANVAS = "canvas.dt-viewer-canvas"
BEFORE = ".dt-compare-viewport[data-side='before'] canvas.dt-viewer-canvas"
AFTER = ".dt-compare-viewport[data-side='after'] canvas.dt-viewer-canvas"
READY = (
    f"document.querySelector(\"{BEFORE}[data-rendered='1']\")"
    f" && document.querySelector(\"{AFTER}[data-rendered='1']\")"
)


def _grey(values: np.ndarray) -> np.ndarray:
    """The RGBA a grey canvas holds for 8-bit values."""
    out = np.empty(values.shape + (4,), np.uint8)
    out[..., :3] = values[..., None]
    out[..., 3] = 255
    return out


def _rgb(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)


def _assert_same(drawn: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert drawn.shape == expected.shape, what
    wrong = int(np.any(drawn != expected, axis=-1).sum())
    assert wrong == 0, f"{what}: {wrong} pixels differ"


@pytest.fixture(scope="module")
def compare_page(lab_notebook, kernel):
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    return (page, *compare_values(page, kernel))


def compare_values(page, kernel):
    """The baseline phantom and, by side, the values a Compare named ``compare`` in the
    page's kernel shows: the follow-up as the kernel registered it (stored values,
    slope, intercept)."""
    data = kernel.json(
        page,
        "[__import__('base64').b64encode(compare._arrays['after'].tobytes()).decode(),"
        " compare.layers['after']['rescale_slope'][0],"
        " compare.layers['after']['rescale_intercept'][0]]",
    )
    stored = np.frombuffer(base64.b64decode(data[0]), "<u2").reshape(24, 64, 64)
    before = NAMESPACE["phantom"]()
    values = {
        "before": before.pixels.astype(np.float64) - 1024.0,
        "after": stored * data[1] + data[2],
    }
    return before, values


def _slice(volume, values, plane: str, index: int) -> np.ndarray:
    layout = plane_layout(volume.direction, volume.spacing, volume.pixels.shape, plane)
    return extract_slice(values, layout, index)


def _side_by_side_is_the_reference(page, before, values, plane="axial") -> int:
    index = int(page.locator(BEFORE).get_attribute("data-slice"))
    assert page.locator(AFTER).get_attribute("data-slice") == str(index)
    for side, selector in (("before", BEFORE), ("after", AFTER)):
        expected = window_to_uint8(_slice(before, values[side], plane, index), WINDOW)
        _assert_same(
            canvas_rgba(page.locator(selector)), _grey(expected), f"{side} {plane} {index}"
        )
    return index


def test_registration_and_side_by_side_pixels(compare_page, kernel, artifacts):
    page, before, values = compare_page
    root = page.locator(".dt-compare")
    # The known shift is found, and said to the learner.
    found = kernel.json(page, "compare.registration.apply([0.0, 0.0, 0.0]).tolist()")
    assert np.allclose(found, NAMESPACE["SHIFT"], atol=0.75), found
    caption = root.locator(".dt-compare-caption").inner_text()
    assert re.fullmatch(
        r"Follow-up aligned to Baseline: moved \d+\.\d mm, rotated \d\.\d°", caption
    )
    assert abs(float(caption.split("moved ")[1].split(" ")[0]) - math.hypot(4.5, 3, 3)) < 0.75
    assert _side_by_side_is_the_reference(page, before, values) == 12
    assert root.locator(".dt-compare-viewport[data-side='after'] .dt-corner-tl").inner_text() == (
        "Follow-up"
    )
    root.screenshot(path=str(artifacts / "compare-side-by-side.png"))


def test_scrolling_one_side_scrolls_both_and_reformats_follow(compare_page, kernel, artifacts):
    page, before, values = compare_page
    root = page.locator(".dt-compare")
    after = page.locator(AFTER)
    box = after.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 100)
    page.wait_for_selector(f"{BEFORE}[data-slice='13']", timeout=10_000)
    assert _side_by_side_is_the_reference(page, before, values) == 13
    assert kernel.wait_json(page, "compare.position[0]", lambda v: v == 13) == 13
    # The cursor line gives both values and their difference under the mouse.
    page.mouse.move(*pixel_centre(after, 30, 10))
    text = root.locator(".dt-viewer-cursor").inner_text()
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text.replace("−", "-"))[:3]]
    assert text.startswith("Baseline ") and " · Follow-up " in text and " · Δ " in text
    b, a = values["before"][13, 30, 10], values["after"][13, 30, 10]
    assert numbers[0] == b and abs(numbers[1] - a) <= 0.05 and abs(numbers[2] - (a - b)) <= 0.1
    # A coronal reformat on both sides at once.
    root.focus()
    page.keyboard.press("c")
    page.wait_for_selector(f"{AFTER}[data-plane='coronal'][data-rendered='1']", timeout=10_000)
    _side_by_side_is_the_reference(page, before, values, "coronal")
    root.screenshot(path=str(artifacts / "compare-coronal.png"))
    page.keyboard.press("a")
    page.wait_for_selector(f"{BEFORE}[data-plane='axial']", timeout=10_000)
    page.keyboard.press("ArrowUp")
    page.wait_for_selector(f"{AFTER}[data-slice='12']", timeout=10_000)


def _screen_pixels(page, viewport, canvas) -> tuple[np.ndarray, dict, dict]:
    png = viewport.screenshot()
    shot = np.asarray(Image.open(bytes_io.BytesIO(png)).convert("RGB"))
    return shot, viewport.bounding_box(), canvas.bounding_box()


def test_swipe_divider_dragged_by_the_mouse(compare_page, kernel, artifacts):
    page, before, values = compare_page
    root = page.locator(".dt-compare")
    root.locator("button[data-mode='swipe']").click()
    page.wait_for_selector(f"{BEFORE}[data-mode='swipe'][data-rendered='1']", timeout=10_000)
    assert not page.locator(AFTER).is_visible()
    root.scroll_into_view_if_needed()  # one pane: larger than the two side by side
    viewport = root.locator(".dt-compare-viewport[data-side='before']")
    canvas = page.locator(BEFORE)
    divider = viewport.locator(".dt-compare-divider").bounding_box()
    vp = viewport.bounding_box()
    cbox = canvas.bounding_box()
    start = (divider["x"] + divider["width"] / 2, vp["y"] + vp["height"] * 0.75)
    target_x = cbox["x"] + cbox["width"] * 0.3
    drag(page, start, (target_x, start[1]), steps=5)
    swipe = kernel.wait_json(page, "compare.swipe", lambda v: abs(v - 0.5) > 0.05)
    assert abs(vp["x"] + swipe * vp["width"] - target_x) < 1.5
    page.mouse.move(vp["x"] + 5, vp["y"] + 5)
    shot, vp, cbox = _screen_pixels(page, viewport, canvas)
    root.screenshot(path=str(artifacts / "compare-swipe.png"))
    expected = {side: window_to_uint8(values[side][12], WINDOW) for side in ("before", "after")}
    divider_x = vp["x"] + swipe * vp["width"]
    checked = {"before": 0, "after": 0}
    for row in range(40, 56):  # below the handle and the letters, above the corner texts
        for col in range(64):
            x = cbox["x"] + (col + 0.5) * cbox["width"] / 64
            y = cbox["y"] + (row + 0.5) * cbox["height"] / 64
            if abs(x - divider_x) < 12:
                continue
            side = "before" if x < divider_x else "after"
            got = shot[int(y - vp["y"]), int(x - vp["x"])]
            if expected["before"][row, col] == expected["after"][row, col]:
                continue
            assert got.tolist() == [expected[side][row, col]] * 3, (row, col, side)
            checked[side] += 1
    assert checked["before"] > 50 and checked["after"] > 200, checked
    # The keyboard moves it too.
    root.focus()
    page.keyboard.press("ArrowRight")
    assert kernel.wait_json(page, "compare.swipe", lambda v: abs(v - swipe - 0.02) < 1e-9) == (
        pytest.approx(swipe + 0.02)
    )


def test_checkerboard_and_difference(compare_page, kernel, artifacts):
    page, before, values = compare_page
    root = page.locator(".dt-compare")
    canvas = page.locator(BEFORE)
    root.focus()
    page.keyboard.press("k")
    page.wait_for_selector(f"{BEFORE}[data-mode='checkerboard'][data-rendered='1']")
    root.scroll_into_view_if_needed()
    size = float(canvas.get_attribute("data-checker-mm"))
    assert size == kernel.json(page, "compare.checker_mm") == 10.0
    b = window_to_uint8(values["before"][12], WINDOW)
    a = window_to_uint8(values["after"][12], WINDOW)
    mask = checkerboard_mask(64, 64, 1.5, 1.5, size)
    _assert_same(canvas_rgba(canvas), _grey(np.where(mask, a, b)), "checkerboard")
    root.screenshot(path=str(artifacts / "compare-checkerboard.png"))

    root.locator("button[data-mode='difference']").click()
    page.wait_for_selector(f"{BEFORE}[data-mode='difference'][data-rendered='1']")
    window = Window(0.0, 200.0, function="LINEAR_EXACT")
    d_window = kernel.json(page, "[compare.difference_center, compare.difference_width]")
    assert d_window == [0.0, 200.0]
    drawn = canvas_rgba(canvas)
    reference = difference_display(values["before"][12], values["after"][12], window)
    _assert_same(drawn, _rgb(reference), "difference")
    # ~0 away from the nodule, red where it grew (lung became nodule: +900 HU).
    k, r, c = np.mgrid[12:13, 0:64, 0:64][:, 0]
    x, y = -47.25 + 1.5 * c, -47.25 + 1.5 * r
    distance = np.hypot(x - NODULE[0], y - NODULE[1])
    far = (distance > 14) & (values["before"][12] > -900)
    rim = (distance > 7.5) & (distance < 8.0)
    assert np.median(drawn[..., :3][far].max(axis=-1)) < 60
    assert (drawn[rim][:, 0] == 255).mean() > 0.8 and (drawn[rim][:, 2] == 0).all()
    root.screenshot(path=str(artifacts / "compare-difference.png"))
    # Left-drag windows the difference, not the images.
    box = canvas.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    drag(page, centre, (centre[0] + 60, centre[1]), steps=5)
    width = kernel.wait_json(page, "compare.difference_width", lambda v: v > 200)
    assert width > 200 and kernel.json(page, "compare.window_width") == 400
    # |Δ| in grey, black at 0.
    root.focus()
    page.keyboard.press("g")
    state = kernel.wait_json(
        page,
        "[compare.difference_style, compare.difference_center, compare.difference_width]",
        lambda v: v[0] == "absolute",
    )
    assert state[1] == pytest.approx(state[2] / 2)
    page.wait_for_selector(f"{BEFORE}[data-difference-style='absolute']")
    grey = difference_display(
        values["before"][12],
        values["after"][12],
        Window(state[1], state[2], function="LINEAR_EXACT"),
        absolute=True,
    )
    _assert_same(canvas_rgba(canvas), _rgb(grey), "absolute difference")


def test_flicker_alternates_and_flips_by_key(compare_page, kernel, artifacts):
    page, before, values = compare_page
    root = page.locator(".dt-compare")
    canvas = page.locator(BEFORE)
    kernel(page, "compare.flicker_rate = 8.0")
    root.locator("button[data-mode='flicker']").click()
    page.wait_for_selector(".dt-compare[data-flickering='1']")
    expected = {
        "image": _grey(window_to_uint8(values["before"][12], WINDOW)),
        "after": _grey(window_to_uint8(values["after"][12], WINDOW)),
    }
    seen = set()
    for _ in range(12):
        drawn, data = canvas_rgba_and_data(canvas)
        layer = data.get("layer", "")
        _assert_same(drawn, expected[layer], f"flicker {layer}")
        seen.add(layer)
        page.wait_for_timeout(70)
    assert seen == {"image", "after"}
    root.screenshot(path=str(artifacts / "compare-flicker.png"))
    root.focus()
    page.keyboard.press(" ")
    page.wait_for_selector(".dt-compare[data-flickering='0']")
    assert kernel.wait_json(page, "compare.flicker_playing", lambda v: v is False) is False
    layer = canvas.get_attribute("data-layer")
    page.keyboard.press("f")
    other = "after" if layer == "image" else "image"
    page.wait_for_selector(f"{BEFORE}[data-layer='{other}']")
    _assert_same(canvas_rgba(canvas), expected[other], "flipped")
    assert root.locator(".dt-compare-viewport[data-side='before'] .dt-corner-tl").inner_text() == (
        "Follow-up" if other == "after" else "Baseline"
    )


def _edges(row_values: np.ndarray, centre_col: float) -> tuple[float, float]:
    """Display x of the nodule's edges on a row: where HU crosses −400 either side."""
    c = int(round(centre_col))
    inside = row_values > -400
    left = c
    while inside[left - 1]:
        left -= 1
    right = c
    while inside[right + 1]:
        right += 1
    return left, right + 1.0  # pixel left edge .. right edge (display x)


def test_a_ruler_on_each_side_measures_the_nodule(compare_page, kernel, artifacts):
    page, before, values = compare_page
    root = page.locator(".dt-compare")
    kernel(page, "compare.mode = 'side-by-side'")  # from Python this time
    page.wait_for_selector(f"{AFTER}[data-rendered='1']")
    assert root.get_attribute("data-mode") == "side-by-side"
    root.scroll_into_view_if_needed()
    root.locator("button[data-tool='ruler']").click()
    row = 34  # through the nodule's centre (row 34.2)
    col = (NODULE[0] + 47.25) / 1.5
    lengths = {}
    for side, selector in (("before", BEFORE), ("after", AFTER)):
        canvas = page.locator(selector)
        left, right = _edges(values[side][12, row], col)
        lengths[side] = (right - left) * 1.5
        box = canvas.bounding_box()
        scale = box["width"] / 64
        y = box["y"] + (row + 0.5) * scale
        drag(page, (box["x"] + left * scale, y), (box["x"] + right * scale, y), steps=5)
    measurements = kernel.wait_json(page, "compare.measurements", lambda m: len(m) == 2)
    assert [m["side"] for m in measurements] == ["before", "after"]
    for m in measurements:
        assert m["length_mm"] == pytest.approx(lengths[m["side"]], abs=0.3)
    # Nodule diameters: 12 mm before, 18 mm after (the pixel grid adds up to a pixel).
    assert abs(lengths["before"] - 12) <= 1.5 and abs(lengths["after"] - 18) <= 1.5
    assert kernel.json(page, "compare.lengths_mm('after')")[0] == measurements[1]["length_mm"]
    growth = root.locator(".dt-compare-growth").inner_text()
    b, a = measurements[0]["length_mm"], measurements[1]["length_mm"]
    assert growth == (
        f"Ruler: Baseline {b:.1f} mm → Follow-up {a:.1f} mm "
        f"(+{math.floor(100 * (a - b) / b + 0.5)} %)"
    )
    # Both rulers show on both sides; the other side's is dashed, its length written once.
    before_vp = root.locator(".dt-compare-viewport[data-side='before']")
    after_vp = root.locator(".dt-compare-viewport[data-side='after']")
    for vp, own, other in ((before_vp, "before", "after"), (after_vp, "after", "before")):
        assert vp.locator(".dt-measure-ruler").count() == 2
        assert vp.locator(f".dt-measure-ruler.dt-compare-other[data-side='{other}']").count() == 1
        assert vp.locator(f".dt-measure-ruler[data-side='{other}'] text").count() == 0
        label = "Baseline" if own == "before" else "Follow-up"
        length = b if own == "before" else a
        assert vp.locator(f".dt-measure-ruler[data-side='{own}'] text").text_content() == (
            f"{label}: {length:.1f} mm"
        )
    # An ellipse reports its mean on each image.
    root.locator("button[data-tool='ellipse']").click()
    canvas = page.locator(BEFORE)
    p0, p1 = (28.0, 14.0), (41.0, 28.0)  # (row, col) display coordinates of the box
    box = canvas.bounding_box()
    scale = box["width"] / 64
    drag(
        page,
        (box["x"] + p0[1] * scale, box["y"] + p0[0] * scale),
        (box["x"] + p1[1] * scale, box["y"] + p1[0] * scale),
        steps=5,
    )
    measurements = kernel.wait_json(page, "compare.measurements", lambda m: len(m) == 3)
    ellipse = measurements[2]
    assert ellipse["side"] == "before"
    for side in ("before", "after"):
        stats = ellipse_stats(values[side][12], *ellipse["points"], 1.5, 1.5)
        assert ellipse["stats"][side]["n"] == stats.n > 50
        assert ellipse["stats"][side]["mean"] == pytest.approx(stats.mean, rel=1e-9)
    assert ellipse["stats"]["after"]["mean"] > ellipse["stats"]["before"]["mean"] + 100
    root.screenshot(path=str(artifacts / "compare-rulers.png"))
    root.locator("button[data-tool='wl']").click()


# Every label the browser laid out in the visible viewports: the measurement it belongs
# to, its viewport, and the box of each of its lines on the page.
LABEL_BOXES = """(root) => {
  const out = [];
  for (const vp of root.querySelectorAll('.dt-compare-viewport')) {
    if (vp.closest('[hidden]')) continue;
    const frame = vp.getBoundingClientRect();
    for (const g of vp.querySelectorAll('.dt-measure')) {
      for (const t of g.querySelectorAll('text')) {
        const r = t.getBoundingClientRect();
        out.push({
          index: Number(g.dataset.index), kind: g.classList.contains('dt-measure-ruler')
            ? 'ruler' : 'ellipse', side: vp.dataset.side, text: t.textContent,
          box: [r.left, r.top, r.right, r.bottom],
          frame: [frame.left, frame.top, frame.right, frame.bottom],
        });
      }
    }
  }
  return out;
}"""


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("mode", ["side-by-side", "swipe", "difference", "checkerboard", "flicker"])
def test_each_measurement_has_one_legible_label_in_every_mode(
    compare_page, kernel, artifacts, mode
):
    """Left by the test above: a ruler across the nodule on each side (their right ends
    some 4 px apart) and an ellipse around it. In the modes that show both images in one
    picture, both rulers' labels used to be written at the same place."""
    page, _, _ = compare_page
    root = page.locator(".dt-compare")
    measurements = kernel.json(page, "compare.measurements")
    assert [m["kind"] for m in measurements] == ["ruler", "ruler", "ellipse"]
    kernel(page, "compare.flicker_playing = False")
    root.locator(f"button[data-mode='{mode}']").click()
    page.wait_for_selector(f"{BEFORE}[data-mode='{mode}'][data-rendered='1']")
    root.scroll_into_view_if_needed()
    page.mouse.move(0, 0)  # no cursor cross over the picture
    labels = root.evaluate(LABEL_BOXES)
    root.screenshot(path=str(artifacts / f"compare-labels-{mode}.png"))
    if mode == "flicker":
        # The labels stay put while the images alternate: nothing flashes.
        layer = page.locator(BEFORE).get_attribute("data-layer")
        root.focus()
        page.keyboard.press("f")
        page.wait_for_selector(f"{BEFORE}:not([data-layer='{layer}'])")
        assert root.evaluate(LABEL_BOXES) == labels
    # Each ruler's length is written once, whatever the mode, with the image it was drawn on.
    lengths = [lab for lab in labels if lab["kind"] == "ruler"]
    assert sorted(lab["index"] for lab in lengths) == [0, 1], lengths
    for lab in lengths:
        m = measurements[lab["index"]]
        name = "Baseline" if m["side"] == "before" else "Follow-up"
        assert lab["text"] == f"{name}: {m['length_mm']:.1f} mm"
    assert any(lab["index"] == 2 for lab in labels)
    for i, a in enumerate(labels):
        # Legible: on the picture, not cut by its edge...
        x0, y0, x1, y1 = a["frame"]
        box = a["box"]
        assert box[2] > box[0] and box[3] > box[1], a
        assert x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1, a
        # ... and no line of one measurement written over another's.
        for b in labels[i + 1 :]:
            if a["side"] == b["side"] and a["index"] != b["index"]:
                assert not _overlap(a["box"], b["box"]), (a, b)


def test_voila_side_by_side_draws_the_same_pixels(
    compare_page, page, start_voila, write_notebook, tmp_path, artifacts
):
    _, before, values = compare_page
    notebook = tmp_path / "compare.ipynb"
    write_notebook(notebook, VOILA_CELLS)
    url = start_voila(notebook)
    page.goto(url)
    with screenshot_on_failure(page, artifacts / "compare-voila-timeout.png"):
        page.wait_for_function(f"() => {READY}", timeout=90_000)
    # The registration is reproducible bit for bit: the same follow-up layer as in Lab.
    _side_by_side_is_the_reference(page, before, values)
    page.screenshot(path=str(artifacts / "compare-voila.png"))
