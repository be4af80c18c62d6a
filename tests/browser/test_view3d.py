"""``View3D`` draws a CT body and its segment in 3D, in a real JupyterLab, offline.

Headless Chromium renders WebGL2 with SwiftShader (docs/contributing.md). A synthetic CT
(air, an ellipsoid body at 0 HU, a posterior "spine" at 700 HU) is written as a
DICOM series and loaded by the notebook; an "organ" sphere on the patient's right,
anterior and superior, is its segment. From the canvas the browser drew: the body
is there, the segment's colour is there, on the viewer's upper left (anterior view,
head up), and not there when no segment is given. No request leaves the Lab server.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from dicomteach.widgets.view3d import SEGMENT_COLORS

from .conftest import new_page

pytestmark = pytest.mark.browser

CANVAS = ".jp-OutputArea-output canvas"
ORGAN_RGB = SEGMENT_COLORS[0]  # the first segment's default colour

VOLUME_CELL = (
    "import numpy as np\n"
    "from dicomteach import io\n"
    "from dicomteach.io.writer import write_ct_series\n"
    "from dicomteach.widgets import View3D\n"
    "k, r, c = np.mgrid[0:64, 0:96, 0:96]\n"
    "# mm from the centre, LPS: x to the patient's left, y posterior, z superior\n"
    "x, y, z = (c - 47.5) * 3.0, (r - 47.5) * 3.0, (k - 31.5) * 4.0\n"
    "hu = np.full(k.shape, -1000.0)\n"
    "hu[(x / 120) ** 2 + (y / 80) ** 2 + (z / 120) ** 2 <= 1] = 0.0\n"
    "hu[(x**2 + (y - 45) ** 2 <= 15**2) & (np.abs(z) < 110)] = 700.0\n"
    "write_ct_series('body_ct', hu, spacing=(4.0, 3.0, 3.0))\n"
    "vol = io.load('body_ct')\n"
    "organ = (x + 54) ** 2 + (y + 24) ** 2 + (z - 48) ** 2 <= 25**2"
)
NOTEBOOKS = {
    "view3d.ipynb": "view = View3D(vol, {'organ': organ})\nview",
    "view3d_plain.ipynb": "view = View3D(vol)\nview",
}


@pytest.fixture
def page(gl_browser):
    """Overrides conftest's ``page`` (and so ``run_in_lab``'s) with the WebGL browser."""
    with new_page(gl_browser) as page:
        yield page


def _drawn(canvas, timeout: float = 60) -> np.ndarray:
    """The canvas's RGB once it shows a rendering that stopped changing."""
    canvas.wait_for(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        png = canvas.screenshot()
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        if previous is not None and _foreground(image).sum() > 5000:
            if np.array_equal(image, previous):
                return image
        previous = image
        canvas.page.wait_for_timeout(250)
    raise AssertionError("the 3D view did not settle on a rendering")


def _foreground(image: np.ndarray) -> np.ndarray:
    return image.max(axis=2) > 24  # the background is black


def _near(image: np.ndarray, rgb, tolerance: float = 0.035) -> np.ndarray:
    """Pixels of colour ``rgb``, whatever their brightness (rendering shades and blends):
    chromaticity r/(r+g+b), g/(r+g+b), b/(r+g+b) within ``tolerance``, not too dark."""
    total = image.sum(axis=2)
    chroma = image / np.maximum(total, 1)[..., None]
    target = np.asarray(rgb) / np.sum(rgb)
    return (np.abs(chroma - target).max(axis=2) <= tolerance) & (total > 90)


def _assert_organ_upper_left(image: np.ndarray) -> None:
    """The segment's colour is drawn, where an anterior view with the head up puts the
    patient's right-superior organ: the viewer's upper left of the body."""
    organ = _near(image, ORGAN_RGB)
    assert organ.sum() > 500, f"only {organ.sum()} pixels of {ORGAN_RGB}"
    body_rows, body_cols = np.nonzero(_foreground(image))
    organ_rows, organ_cols = np.nonzero(organ)
    assert organ_cols.mean() < body_cols.mean() - 30
    assert organ_rows.mean() < body_rows.mean() - 30


def _show(page, lab_server, write_notebook, run_in_lab, artifacts, notebook: str) -> np.ndarray:
    """Run ``notebook`` in Lab; the widget's canvas as drawn (also saved as ``<notebook>.png``)."""
    root = lab_server["root"]
    before = set(root.iterdir())
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    write_notebook(root / notebook, [VOLUME_CELL, NOTEBOOKS[notebook]])
    run_in_lab(notebook)
    name = notebook.removesuffix(".ipynb")
    try:
        image = _drawn(page.locator(CANVAS))
    finally:
        page.screenshot(path=str(artifacts / f"{name}-lab.png"))
    page.locator(CANVAS).screenshot(path=str(artifacts / f"{name}.png"))
    # Offline: every request went to the Lab server (or was a data:/blob: URL).
    local = (lab_server["url"], "data:", "blob:")
    assert [url for url in requests if not url.startswith(local)] == []
    # In memory: the notebook left nothing beside it but its DICOM series.
    added = {p.name for p in set(root.iterdir()) - before if not p.name.startswith(".")}
    assert added <= {notebook, "body_ct"}
    # The body: many lit pixels.
    assert _foreground(image).sum() > 0.05 * image.shape[0] * image.shape[1]
    return image


def test_view3d_draws_the_body_and_the_segment_in_its_colour(
    page, lab_server, write_notebook, run_in_lab, artifacts
):
    image = _show(page, lab_server, write_notebook, run_in_lab, artifacts, "view3d.ipynb")
    _assert_organ_upper_left(image)


def test_view3d_without_segments_shows_no_segment_colour(
    page, lab_server, write_notebook, run_in_lab, artifacts
):
    image = _show(page, lab_server, write_notebook, run_in_lab, artifacts, "view3d_plain.ipynb")
    assert _near(image, ORGAN_RGB).sum() < 20


def test_view3d_draws_the_segment_in_a_voila_app_too(
    page, lab_server, write_notebook, start_voila, artifacts
):
    """The same notebook as a Voilà app: the same picture (body, organ upper left), offline."""
    folder = lab_server["root"] / "voila3d"
    folder.mkdir(exist_ok=True)
    notebook = folder / "view3d_app.ipynb"
    write_notebook(notebook, [VOLUME_CELL, NOTEBOOKS["view3d.ipynb"]])
    url = start_voila(notebook)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    canvas = page.locator(".jp-OutputArea-output canvas")
    try:
        image = _drawn(canvas, timeout=90)
    finally:
        page.screenshot(path=str(artifacts / "view3d-voila.png"))
    # Offline: our template drops Voilà's CDN stylesheets; nothing else leaves either.
    assert [u for u in requests if not u.startswith((url, "data:", "blob:"))] == []
    _assert_organ_upper_left(image)
