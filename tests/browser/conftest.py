"""A real JupyterLab and Debian's headless Chromium for the browser tests (docs/contributing.md).

Everything skips, with the reason, when /usr/bin/chromium or the playwright
package is missing (``scripts/test.sh`` installs both when it can).
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dicomteach.apps import voila_command, voila_env

from .lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SWIFTSHADER,
    Lab,
    free_port,
    isolated_env,
    stop_servers,
    wait_ready,
)
from .lab import write_notebook as _write_notebook

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def sync_playwright_module():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium; never `playwright install`)")
    try:
        from playwright import sync_api
    except ImportError:
        pytest.skip("the playwright package is missing (pip install -e '.[test]')")
    return sync_api


@pytest.fixture(scope="session")
def lab_server(sync_playwright_module, tmp_path_factory):
    """JupyterLab on a free 127.0.0.1 port; yields ``{"url", "root", "log"}``; SIGTERM at the end."""
    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.start()
        yield {"url": lab.url, "root": lab.root, "log": lab.log}
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def start_voila(sync_playwright_module, tmp_path_factory):
    """``start_voila(notebook) -> url``: Voilà serving one notebook on a free 127.0.0.1
    port (the flags of docs/contributing.md), ready when ``/voila/static/voila.js`` answers; every server
    started is stopped with SIGTERM at the end of the session."""
    try:
        import voila  # noqa: F401
    except ImportError:
        pytest.skip("the voila package is missing (pip install -e '.[test]')")
    procs: list[subprocess.Popen] = []

    def start(notebook: Path) -> str:
        tmp = tmp_path_factory.mktemp("voila")
        port = free_port()
        # Our template: Voilà's lab template without its CDN stylesheets (dicomteach.apps).
        cmd = voila_command(notebook, port=port)
        log = tmp / "voila.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=voila_env(isolated_env(tmp)),
                cwd=notebook.parent,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/voila/static/voila.js", proc, log, name="Voilà")
        return url

    try:
        yield start
    finally:
        stop_servers(procs)


@pytest.fixture(scope="session")
def browser(sync_playwright_module):
    with sync_playwright_module.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def gl_browser(browser):
    """Chromium with WebGL2 on SwiftShader (the 3D view, lessons holding one), from the
    session's Playwright."""
    gl = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *SWIFTSHADER]
    )
    yield gl
    gl.close()


@contextlib.contextmanager
def new_page(browser, height: int = 900):
    """A page in a context of its own, 1280 px wide, at 1 CSS px = 1 device px, so
    screenshots show canvas pixels unscaled; the context is closed afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": height}, device_scale_factor=1)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser):
    """A fresh page (:func:`new_page`)."""
    with new_page(browser) as page:
        yield page


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/`` at the repo root (gitignored): screenshots to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


RUN_ALL = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.jupyterapp.commands.execute('notebook:run-all-cells');
}"""


def open_and_run(page, lab_url: str, name: str, before_run=None) -> None:
    """Open a notebook in Lab and run every cell once its kernel is ready.

    ``before_run(page)``, if given, is called once the notebook is open and its kernel
    idle, before anything runs (e.g. to hide or detach a cell's output area first).
    Not awaited: the command's promise settles only when every cell has run.
    """
    page.goto(f"{lab_url}/lab/tree/{name}?reset")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=60_000,
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    if before_run is not None:
        before_run(page)
    page.evaluate(RUN_ALL)


@pytest.fixture
def run_in_lab(page, lab_server):
    """``run_in_lab(name)``: :func:`open_and_run` on the test's page."""
    return lambda name: open_and_run(page, lab_server["url"], name)


@pytest.fixture(scope="module")
def module_page(browser):
    """A page shared by the tests of one module (one notebook run, several checks)."""
    with new_page(browser, height=800) as page:
        yield page


@pytest.fixture(scope="module")
def lab_notebook(module_page, lab_server, artifacts):
    """``lab_notebook(name, cells, ready_js, before_run=None)``: write, open and run a
    notebook on the module's page (:func:`open_and_run`); wait until ``ready_js`` (a JS
    expression) is true."""

    def run(name: str, cells: list[str], ready_js: str, before_run=None):
        _write_notebook(lab_server["root"] / name, cells)
        open_and_run(module_page, lab_server["url"], name, before_run)
        with screenshot_on_failure(module_page, artifacts / f"{Path(name).stem}-timeout.png"):
            module_page.wait_for_function(f"() => {ready_js}", timeout=60_000)
        return module_page

    return run


KERNEL_PRINT = """async (code) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const future = panel.sessionContext.session.kernel.requestExecute({ code });
  let text = '';
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'stream') text += msg.content.text;
  };
  await future.done;
  return text;
}"""


def kernel_print(page, code: str) -> str:
    """Run code in the kernel of the notebook on screen; return what it printed."""
    return page.evaluate(KERNEL_PRINT, code)


@pytest.fixture(scope="session")
def kernel():
    """``kernel(page, code) -> printed text`` and ``kernel.json(page, expression)``."""

    class Kernel:
        def __call__(self, page, code: str) -> str:
            return kernel_print(page, code)

        def json(self, page, expression: str):
            return json.loads(kernel_print(page, f"import json; print(json.dumps({expression}))"))

        def wait_json(self, page, expression: str, predicate, tries: int = 50):
            """Poll until ``predicate(value)``: the browser syncs once per animation frame."""
            value = None
            for _ in range(tries):
                value = self.json(page, expression)
                if predicate(value):
                    return value
                page.wait_for_timeout(100)
            return value

    return Kernel()


@pytest.fixture(scope="session")
def write_notebook():
    """``write_notebook(path, sources)``: a notebook with kernelspec metadata, so no
    "Select Kernel" dialog blocks the page."""
    return _write_notebook


# The RGBA bytes as base64: a JSON list of a 512×512 canvas takes seconds to cross over.
READ_CANVAS = """(canvas) => {
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  }
  return [canvas.height, canvas.width, btoa(s), { ...canvas.dataset }];
}"""


def canvas_rgba_and_data(locator) -> tuple[np.ndarray, dict[str, str]]:
    """A 2D canvas's pixels as ``getImageData`` gives them (``(rows, columns, 4)`` uint8
    RGBA, not premultiplied) and its ``data-*`` attributes, read at the same moment."""
    rows, cols, data, dataset = locator.evaluate(READ_CANVAS)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(rows, cols, 4), dataset


def canvas_rgba(locator) -> np.ndarray:
    """A 2D canvas's pixels: :func:`canvas_rgba_and_data` without the attributes."""
    return canvas_rgba_and_data(locator)[0]


def pixel_centre(canvas, row: float, col: float) -> tuple[float, float]:
    """Page coordinates of the centre of canvas pixel ``[row, col]`` (as laid out now)."""
    box = canvas.bounding_box()
    h, w = canvas.evaluate("(c) => [c.height, c.width]")
    return box["x"] + (col + 0.5) * box["width"] / w, box["y"] + (row + 0.5) * box["height"] / h


def drag(page, start, end, *, steps: int, button: str = "left") -> None:
    """Press ``button`` at ``start``, move to ``end`` in ``steps`` mouse moves, release."""
    page.mouse.move(*start)
    page.mouse.down(button=button)
    page.mouse.move(*end, steps=steps)
    page.mouse.up(button=button)


@contextlib.contextmanager
def screenshot_on_failure(page, path: Path):
    """Save a screenshot of ``page`` to ``path`` if the block raises (e.g. a wait times out)."""
    try:
        yield
    except Exception:
        page.screenshot(path=str(path))
        raise
