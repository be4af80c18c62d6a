"""``dicomteach app``: a lesson served as a Voilà app by the real command, offline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from .conftest import screenshot_on_failure
from .lab import free_port, isolated_env, wait_ready

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path, write_notebook, sync_playwright_module):
    write_notebook(
        tmp_path / "lesson.ipynb",
        [
            "import numpy as np\n"
            "from dicomteach.io.volume import Volume\n"
            "from dicomteach.widgets import Viewer\n"
            "k, r, c = np.mgrid[0:4, 0:32, 0:32]\n"
            "Viewer(Volume((c * 30 + r).astype(np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0),\n"
            "       np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]]), modality='CT',\n"
            "       rescale_intercept=np.array([-1024.0])))",
        ],
    )
    port = free_port()
    log = tmp_path / "app.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dicomteach.cli", "app", "lesson.ipynb", f"--port={port}"],
            cwd=tmp_path,
            env=isolated_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the command and the Voilà it starts: one group to stop
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/voila/static/voila.js", proc, log, name="dicomteach app")
        yield url, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_the_app_command_serves_the_widget_and_asks_nothing_of_the_network(app, page, artifacts):
    url, log = app
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    with screenshot_on_failure(page, artifacts / "app-timeout.png"):
        page.wait_for_selector('canvas.dt-viewer-canvas[data-rendered="1"]', timeout=60_000)
    page.screenshot(path=str(artifacts / "app.png"))
    assert [u for u in requests if not u.startswith((url, "data:", "blob:"))] == []
    # No code in an app: the notebook's source is not on the page.
    assert "np.mgrid" not in page.content()
    assert "serving lesson.ipynb" in log.read_text()


def test_closing_or_reloading_the_app_shuts_its_kernel_down(app, page, artifacts):
    """Each page load starts a kernel holding the lesson's images; a reload or a closed
    tab must give it back, or a class's reloads fill the server's memory."""
    url, log = app
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)
    kernels = []
    for _ in range(2):
        page.goto(url)
        page.wait_for_selector('canvas.dt-viewer-canvas[data-rendered="1"]', timeout=60_000)
        kernels.append(page.evaluate("document.querySelector('#jupyter-config-data').textContent"))
    page.goto("about:blank")
    ids = [re.search(r'"kernelId":\s*"([^"]+)"', k).group(1) for k in kernels]
    assert len(set(ids)) == 2
    for kernel_id in ids:
        for _ in range(100):
            if f"Kernel shutdown: {kernel_id}" in log.read_text():
                break
            page.wait_for_timeout(100)
        assert f"Kernel shutdown: {kernel_id}" in log.read_text(), log.read_text()[-2000:]
    assert refused == []
