"""A real JupyterLab and Debian's headless Chromium for the browser tests (STACK.md).

Everything skips, with the reason, when /usr/bin/chromium or the playwright
package is missing (``scripts/test.sh`` installs both when it can).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SETTINGS_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Seen here even with kernelspec metadata: a "Select Kernel" dialog blocks run-all.
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(
    url: str, proc: subprocess.Popen, log: Path, timeout: float = 60, name: str = "JupyterLab"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{name} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _isolated_env(tmp: Path) -> dict[str, str]:
    """Config, runtime and IPython folders of our own; the venv's scripts first on PATH."""
    for name in ("config", "runtime", "ipython"):
        (tmp / name).mkdir(exist_ok=True)
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


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
    """JupyterLab on a free 127.0.0.1 port; yields ``{"url", "root"}``; SIGTERM at the end."""
    tmp = tmp_path_factory.mktemp("lab")
    root, settings, workspaces, config = (tmp / d for d in ("root", "settings", "ws", "config"))
    for folder in (root, settings, workspaces, config):
        folder.mkdir()
    (settings / "overrides.json").write_text(json.dumps(SETTINGS_OVERRIDES))
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={workspaces}",
        f"--LabApp.app_settings_dir={settings}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = tmp / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/api/status", proc, log)
        yield {"url": url, "root": root, "log": log}
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def start_voila(sync_playwright_module, tmp_path_factory):
    """``start_voila(notebook) -> url``: Voilà serving one notebook on a free 127.0.0.1
    port (STACK.md flags), ready when ``/voila/static/voila.js`` answers; every server
    started is stopped with SIGTERM at the end of the session."""
    try:
        import voila  # noqa: F401
    except ImportError:
        pytest.skip("the voila package is missing (pip install -e '.[test]')")
    procs: list[subprocess.Popen] = []

    def start(notebook: Path) -> str:
        tmp = tmp_path_factory.mktemp("voila")
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            # Harmless when absent; otherwise Voilà logs shared-module errors. Never an
            # allowlist: anywidget then fails to activate (STACK.md).
            "--VoilaConfiguration.extension_denylist=@jupyter/nbgrader",
            "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension",
        ]
        log = tmp / "voila.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_isolated_env(tmp),
                cwd=notebook.parent,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(f"{url}/voila/static/voila.js", proc, log, name="Voilà")
        return url

    try:
        yield start
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture(scope="session")
def browser(sync_playwright_module):
    with sync_playwright_module.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page at 1 CSS px = 1 device px, so screenshots show canvas pixels unscaled."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    yield page
    context.close()


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


def open_and_run(page, lab_url: str, name: str) -> None:
    """Open a notebook in Lab and run every cell once its kernel is ready.

    Not awaited: the command's promise settles only when every cell has run.
    """
    page.goto(f"{lab_url}/lab/tree/{name}?reset")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=60_000,
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.evaluate(RUN_ALL)


@pytest.fixture
def run_in_lab(page, lab_server):
    """``run_in_lab(name)``: :func:`open_and_run` on the test's page."""
    return lambda name: open_and_run(page, lab_server["url"], name)


@pytest.fixture(scope="module")
def module_page(browser):
    """A page shared by the tests of one module (one notebook run, several checks)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def lab_notebook(module_page, lab_server, artifacts):
    """``lab_notebook(name, cells, ready_js)``: write, open and run a notebook on the
    module's page; wait until ``ready_js`` (a JS expression) is true."""

    def run(name: str, cells: list[str], ready_js: str):
        _write_notebook(lab_server["root"] / name, cells)
        open_and_run(module_page, lab_server["url"], name)
        try:
            module_page.wait_for_function(f"() => {ready_js}", timeout=60_000)
        except Exception:
            module_page.screenshot(path=str(artifacts / f"{Path(name).stem}-timeout.png"))
            raise
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


def _write_notebook(path: Path, sources: list[str]) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(sources)
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))
