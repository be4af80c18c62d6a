"""A learner delineates with the real mouse in JupyterLab and Voilà; the kernel gets it right.

One notebook shows a ``Delineator`` on a synthetic CT (air, soft tissue, a bone
band, on anisotropic 0.8 × 0.6 mm pixels). Chromium draws with real mouse
moves; each check compares three things: the geometry of the stroke (the
Python references ``brush_footprint`` and ``roi.polygon_to_mask``), the label
canvas Chromium drew, and the labels the kernel received and saved.
"""

from __future__ import annotations

import numpy as np
import pytest

from dicomteach import io
from dicomteach.imaging import modality_values
from dicomteach.imaging.planes import plane_layout
from dicomteach.io.writer import write_ct_series
from dicomteach.roi import interpolate_slices, polygon_to_mask, read_npz
from dicomteach.widgets.delineator import brush_footprint

from .conftest import canvas_rgba, pixel_centre, screenshot_on_failure

pytestmark = pytest.mark.browser

NOTEBOOK = "delineator.ipynb"
SHAPE = (8, 40, 56)
SPACING = (2.5, 0.8, 0.6)
HU = (
    "k, r, c = np.mgrid[0:8, 0:40, 0:56]\n"
    "hu = np.where(c < 12, -1000, np.where(c < 34, 40 + r, np.where(c < 40, 700, 60 + k)))\n"
)
CELLS = [
    "import numpy as np\n"
    "from dicomteach import io\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.imaging.planes import extract_slice, plane_layout\n"
    "from dicomteach.widgets import Delineator\n"
    + HU
    + "write_ct_series('delin_ct', hu.astype(float), spacing=(2.5, 0.8, 0.6))\n"
    "ct = io.load('delin_ct')",
    "d = Delineator(ct, ('Tumour', 'Node'), answer='delineation.npz')\nd",
]
ROOT = ".dt-delineator"
CANVAS = f"{ROOT} canvas.dt-viewer-canvas"
LABELS = f"{ROOT} canvas.dt-viewer-overlay"
READY = (
    f"document.querySelector('{CANVAS}[data-rendered=\"1\"]')"
    f" && document.querySelector('{LABELS}[data-loaded=\"1\"]')"
)
TUMOUR, NODE = (255, 64, 64), (64, 160, 255)


def _hu() -> np.ndarray:
    k, r, c = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1], 0 : SHAPE[2]]
    return np.where(c < 12, -1000, np.where(c < 34, 40 + r, np.where(c < 40, 700, 60 + k)))


def _pixel_centre(page, row: int, col: int, root: str = ROOT) -> tuple[float, float]:
    return pixel_centre(page.locator(f"{root} canvas.dt-viewer-canvas"), row, col)


def _drag(page, points: list[tuple[int, int]], root: str = ROOT) -> None:
    """A real left-drag through pixel centres, with intermediate moves."""
    page.mouse.move(*_pixel_centre(page, *points[0], root=root))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*_pixel_centre(page, *point, root=root), steps=8)
    page.mouse.up()


def _wait_acked(page, n: int, root: str = ROOT) -> None:
    page.wait_for_function(
        f"() => document.querySelector('{root}').dataset.acked === '{n}'", timeout=15_000
    )


def _wait_idle(page, revision: int) -> None:
    page.wait_for_function(
        f"() => {{ const d = document.querySelector('{ROOT}').dataset;"
        f" return d.pending === '0' && d.revision === '{revision}'; }}",
        timeout=15_000,
    )


def _painted(page) -> np.ndarray:
    """Label values the canvas shows, by colour: 0 none, 1 Tumour, 2 Node."""
    rgba = canvas_rgba(page.locator(LABELS))
    out = np.zeros(rgba.shape[:2], np.uint8)
    for value, colour in ((1, TUMOUR), (2, NODE)):
        # ±2: a canvas stores colours premultiplied by alpha (102 for the 0.4 fill).
        near = np.all(np.abs(rgba[..., :3].astype(int) - colour) <= 2, axis=-1)
        out[(rgba[..., 3] > 0) & near] = value
    odd = (out == 0) & (rgba[..., 3] > 0)
    assert not odd.any(), f"painted in unknown colours: {np.unique(rgba[odd], axis=0).tolist()}"
    return out


def _kernel_slice(kernel, page, plane: str, index: int) -> np.ndarray:
    layout = f"plane_layout(ct.direction, ct.spacing, ct.pixels.shape, {plane!r})"
    expression = f"extract_slice(d.labels, {layout}, {index}).tolist()"
    return np.array(kernel.json(page, expression), dtype=np.uint8)


@pytest.fixture(scope="module")
def delineator_page(lab_notebook, lab_server):
    page = lab_notebook(NOTEBOOK, CELLS, READY)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, lab_server["root"]
    assert not errors, errors


def test_brush_stroke_reaches_the_kernel_and_the_answer_file_as_drawn(
    delineator_page, kernel, artifacts
):
    page, root = delineator_page
    assert page.locator(f"{ROOT} button[data-tool='brush']").get_attribute("aria-pressed") == "true"
    brush = page.locator(f"{ROOT} input[data-control='brush']")
    brush.fill("2")
    brush.press("Enter")
    assert kernel.wait_json(page, "d.brush_mm", lambda v: v == 2.0) == 2.0
    frame = int(page.locator(CANVAS).get_attribute("data-frame"))
    assert frame == 4

    _drag(page, [(10, 8), (10, 40)])
    _wait_acked(page, 1)
    expected = brush_footprint([(10, 8), (10, 40)], 2.0, SPACING[1:], SHAPE[1:])
    # 2 mm: two rows of 0.8 mm and three columns of 0.6 mm beyond the line.
    assert expected.any(axis=1).nonzero()[0].tolist() == [8, 9, 10, 11, 12]
    assert expected[10].nonzero()[0].tolist() == list(range(5, 44))
    got = _kernel_slice(kernel, page, "axial", frame)
    assert np.array_equal(got, expected.astype(np.uint8))
    assert np.array_equal(_painted(page), got)
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-brush.png"))

    # Saved beside the notebook at once; a new Delineator (a restarted kernel) finds it.
    saved = read_npz(root / "delineation.npz")
    assert saved.masks[1][frame].sum() == expected.sum() and saved.spacing == SPACING
    same = kernel.json(
        page,
        "bool((Delineator(ct, ('Tumour', 'Node'), answer='delineation.npz').labels"
        " == d.labels).all())",
    )
    assert same is True


def test_polygon_on_the_coronal_plane_fills_the_pixel_centres_inside(
    delineator_page, kernel, artifacts
):
    page, _ = delineator_page
    page.locator(f"{ROOT} button[data-plane='coronal']").click()
    page.wait_for_selector(f"{CANVAS}[data-plane='coronal'][data-rendered='1']")
    index = int(page.locator(CANVAS).get_attribute("data-slice"))
    page.locator(f"{ROOT} button[data-tool='polygon']").click()
    vertices = [(1, 5), (1, 30), (6, 44), (6, 12)]
    for vertex in vertices[:-1]:
        page.mouse.click(*_pixel_centre(page, *vertex))
    page.wait_for_function(f"() => document.querySelector('{ROOT}').dataset.draft === '3'")
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-polygon-draft.png"))
    page.mouse.dblclick(*_pixel_centre(page, *vertices[-1]))
    _wait_acked(page, 2)

    layout = plane_layout(np.eye(3)[[2, 1, 0]], SPACING, SHAPE, "coronal")
    expected = polygon_to_mask(vertices, (layout.rows, layout.cols))
    assert expected.sum() > 100 and not expected[6].any()  # the bottom edge's row is outside
    got = _kernel_slice(kernel, page, "coronal", index)
    assert np.array_equal(got, expected.astype(np.uint8))
    assert np.array_equal(_painted(page), got)
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-polygon.png"))


def test_undo_and_redo_reach_the_browser_and_the_kernel(delineator_page, kernel, artifacts):
    page, root = delineator_page
    index = int(page.locator(CANVAS).get_attribute("data-slice"))
    with_polygon = _painted(page)
    assert with_polygon.any()
    revision = int(page.locator(ROOT).get_attribute("data-revision"))
    page.locator(ROOT).focus()
    page.keyboard.press("Control+z")
    _wait_idle(page, revision + 1)
    assert not _painted(page).any()
    assert not _kernel_slice(kernel, page, "coronal", index).any()
    assert kernel.json(page, "int(d.labels.sum())") > 0  # the brush stroke is still there
    assert read_npz(root / "delineation.npz").masks[1].sum() == kernel.json(
        page, "int(d.mask('Tumour').sum())"
    )
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-undo.png"))

    page.keyboard.press("Control+Shift+z")
    _wait_idle(page, revision + 2)
    assert np.array_equal(_painted(page), with_polygon)
    assert np.array_equal(_kernel_slice(kernel, page, "coronal", index), with_polygon)
    page.locator(f"{ROOT} button[data-action='undo']").click()
    _wait_idle(page, revision + 3)
    assert not _painted(page).any()
    assert kernel.json(page, "d.can_redo") == 1


def test_range_brush_leaves_pixels_outside_the_range_unpainted(delineator_page, kernel, artifacts):
    page, root = delineator_page
    page.locator(ROOT).focus()
    page.keyboard.press("a")
    page.wait_for_selector(f"{CANVAS}[data-plane='axial'][data-rendered='1']")
    frame = int(page.locator(CANVAS).get_attribute("data-frame"))
    hu = _hu()[frame]
    assert np.array_equal(modality_values(io.load(root / "delin_ct"))[frame], hu)
    page.locator(f"{ROOT} button[data-structure='Node']").click()
    assert kernel.wait_json(page, "d.active", lambda v: v == 2) == 2
    page.locator(f"{ROOT} button[data-tool='range']").click()
    low = page.locator(f"{ROOT} input[data-control='range-low']")
    high = page.locator(f"{ROOT} input[data-control='range-high']")
    assert (float(low.input_value()), float(high.input_value())) == (-100.0, 200.0)
    high.fill("65")
    high.press("Enter")
    assert kernel.wait_json(page, "d.hu_range", lambda v: v == [-100.0, 65.0]) == [-100.0, 65.0]
    sent = int(page.locator(ROOT).get_attribute("data-sent"))

    _drag(page, [(26, 2), (26, 53)])
    _wait_acked(page, sent + 1)
    footprint = brush_footprint([(26, 2), (26, 53)], 2.0, SPACING[1:], SHAPE[1:])
    inside = (hu >= -100) & (hu <= 65)  # soft tissue rows up to 25 (40 + row), and c >= 40
    got = _kernel_slice(kernel, page, "axial", frame)
    assert np.array_equal(np.where(got == 2, 2, 0), np.where(footprint & inside, 2, 0))
    # Air (c < 12), bone (34 <= c < 40) and soft tissue above 65 HU (rows 26-28) stay empty.
    assert not got[24:29, :12].any() and not got[24:29, 34:40].any()
    assert not got[26:29, 12:34].any() and (got[24:26, 12:34] == 2).all()
    assert (footprint & ~inside).sum() > 50
    assert np.array_equal(_painted(page), got)
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-range.png"))


def test_outline_interpolate_fill_eraser_and_keys(delineator_page, kernel, artifacts):
    page, _ = delineator_page
    root = page.locator(ROOT)
    root.focus()
    page.keyboard.press("Shift+Digit1")  # Tumour
    page.keyboard.press("o")  # freehand outline
    assert root.locator("button[data-tool='freehand']").get_attribute("aria-pressed") == "true"
    rectangle = [(5, 30), (5, 50), (15, 50), (15, 30), (6, 30)]
    expected = {2: polygon_to_mask(rectangle[:4], SHAPE[1:])}
    for frame, step in ((2, "ArrowUp"), (6, "ArrowDown")):
        while int(page.locator(CANVAS).get_attribute("data-frame")) != frame:
            page.keyboard.press(step)
        page.wait_for_selector(f"{LABELS}[data-slice='{frame}'][data-loaded='1']")
        sent = int(root.get_attribute("data-sent"))
        path = rectangle if frame == 2 else [(8, 34), (8, 46), (12, 46), (12, 34), (9, 34)]
        _drag(page, path)
        _wait_acked(page, sent + 1)
        expected.setdefault(frame, polygon_to_mask(path[:4], SHAPE[1:]))
        got = _kernel_slice(kernel, page, "axial", frame)
        assert np.array_equal(got, expected[frame].astype(np.uint8)), frame
        assert np.array_equal(_painted(page), got)
    assert expected[2].sum() == 10 * 20 and expected[6].sum() == 4 * 12

    # Interpolate (button): frames 3 and 5 between the outlines and frame 4's brush stroke.
    before = np.array(kernel.json(page, "d.mask('Tumour').tolist()"))
    revision = int(root.get_attribute("data-revision"))
    root.locator("button[data-action='interpolate']").click()
    _wait_idle(page, revision + 1)
    reference = interpolate_slices(before, [2, 4, 6], axis=0, spacing=SPACING)
    after = np.array(kernel.json(page, "d.mask('Tumour').tolist()"))
    assert np.array_equal(after, reference) and reference[3].any() and reference[5].any()
    assert (
        "Interpolated Tumour on 2 axial slices"
        in root.locator(".dt-delineator-notice").inner_text()
    )
    root.focus()
    page.keyboard.press("ArrowUp")
    page.wait_for_selector(f"{LABELS}[data-slice='5']")
    shown = _painted(page)
    assert np.array_equal(shown, reference[5].astype(np.uint8)), (
        shown.sum(),
        reference[5].sum(),
        np.argwhere(shown != reference[5]).tolist()[:20],
    )
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-interpolated.png"))
    page.keyboard.press("ArrowDown")
    page.wait_for_selector(f"{LABELS}[data-slice='6']")

    # Fill (F) with Node (shift+2): the Tumour region clicked becomes Node, on this slice only.
    page.keyboard.press("Shift+Digit2")
    page.keyboard.press("f")
    sent = int(root.get_attribute("data-sent"))
    page.mouse.click(*_pixel_centre(page, 10, 40))
    _wait_acked(page, sent + 1)
    got = _kernel_slice(kernel, page, "axial", 6)
    assert np.array_equal(got, np.where(reference[6], 2, 0))
    assert np.array_equal(_painted(page), got)

    # Eraser (E) takes only the active structure; ] grows the brush by half a millimetre.
    page.keyboard.press("]")
    assert kernel.wait_json(page, "d.brush_mm", lambda v: v == 2.5) == 2.5
    page.keyboard.press("e")
    _drag(page, [(2, 40), (20, 40)])  # across the Node rectangle (columns 34-45)
    _wait_acked(page, sent + 2)
    erased = brush_footprint([(2, 40), (20, 40)], 2.5, SPACING[1:], SHAPE[1:])
    got = _kernel_slice(kernel, page, "axial", 6)
    assert np.array_equal(got, np.where(reference[6] & ~erased, 2, 0))
    assert np.array_equal(np.unique(np.argwhere(got)[:, 1]), [34, 35, 45])
    assert np.array_equal(_painted(page), got)

    # Hiding a structure hides its pixels, not the others'.
    root.locator("input[data-visible='Node']").uncheck()
    assert kernel.wait_json(page, "d.structures[1]['visible']", lambda v: v is False) is False
    page.wait_for_selector(f"{ROOT} .dt-structure.dt-hidden")
    assert not _painted(page).any()
    root.locator("input[data-visible='Node']").check()
    page.locator(ROOT).screenshot(path=str(artifacts / "delineator-fill-eraser.png"))


def test_voila_app_stroke_reaches_the_answer_file(
    page, start_voila, write_notebook, tmp_path, artifacts
):
    write_ct_series(tmp_path / "delin_ct", _hu().astype(float), spacing=SPACING)
    notebook = tmp_path / "delineate.ipynb"
    write_notebook(
        notebook,
        [
            "import numpy as np\n"
            "from dicomteach import io\n"
            "from dicomteach.widgets import Delineator\n"
            "reference = np.zeros((8, 40, 56), bool)\n"
            "reference[4, 5:15, 20:40] = True\n"
            "Delineator(io.load('delin_ct'), brush_mm=1.5, reference=reference)",
        ],
    )
    url = start_voila(notebook)
    page.goto(url)
    with screenshot_on_failure(page, artifacts / "delineator-voila-timeout.png"):
        page.wait_for_function(f"() => {READY}", timeout=60_000)
    answer = tmp_path / "delineation.npz"
    assert not answer.exists()
    _drag(page, [(20, 14), (20, 30), (30, 30)])
    _wait_acked(page, 1)
    page.screenshot(path=str(artifacts / "delineator-voila.png"))
    expected = brush_footprint([(20, 14), (20, 30), (30, 30)], 1.5, SPACING[1:], SHAPE[1:])
    saved = read_npz(answer).masks[1]
    assert np.array_equal(saved[4], expected) and saved.sum() == expected.sum()
    assert np.array_equal(_painted(page) > 0, expected)
    # The instructor's reference: a yellow outline (its edge pixels), not editable labels.
    outline = canvas_rgba(page.locator(f"{ROOT} canvas.dt-viewer-reference"))
    ring = np.zeros(SHAPE[1:], bool)
    ring[5:15, 20:40] = True
    ring[6:14, 21:39] = False
    assert np.array_equal(outline[..., 3] > 0, ring)
    assert (outline[ring][:, :3] == (255, 255, 0)).all()
