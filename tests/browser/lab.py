"""A throw-away JupyterLab (or Voilà) server and Debian's headless Chromium flags (docs/contributing.md, "Browser tests").

Shared by the browser tests (``conftest.py``) and the browser benchmarks
(``benchmarks/widgets.py``, which imports it as ``tests.browser.lab`` with the
repo root on ``sys.path``): no pytest here. Everything started is tracked by
process id and stopped by :meth:`Lab.stop` / :func:`stop_server` /
:func:`stop_processes`.
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

import psutil

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SWIFTSHADER = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
"""Flags for WebGL2 in headless Chromium (software rendering): the 3D view needs them."""

SHIPPED_SETTINGS = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.d/dicomteach.json"
"""Lab settings the project ships (jupyter-config/lab-settings/): the tests run Lab with
them, as a class gets it, not with settings of their own."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(tmp: Path) -> dict[str, str]:
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


def _tail(log: Path, n: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def wait_ready(
    url: str, proc: subprocess.Popen, log: Path, timeout: float = 60, name: str = "JupyterLab"
) -> None:
    """Poll ``url`` until it answers 200; raise with the end of ``log`` if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{name} not ready after {timeout}s:\n{_tail(log)}")


def stop_server(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (a server shuts its kernels down), then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_servers(procs: list[subprocess.Popen], timeout: float = 15) -> None:
    """:func:`stop_server` for several at once: all are signalled first, so their shutdowns
    (each closing its kernels) overlap instead of following one another."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_processes(procs: list[psutil.Process], timeout: float = 5) -> None:
    """SIGTERM then SIGKILL the given processes (each by its id), if still alive."""
    alive = []
    for p in procs:
        try:
            p.terminate()
            alive.append(p)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(alive, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)


def write_notebook(path: Path, sources: list[str]) -> None:
    """A notebook of code cells with kernelspec metadata, so no "Select Kernel" dialog
    blocks the page."""
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


class Lab:
    """JupyterLab on a free 127.0.0.1 port, token off, with its own config, runtime,
    workspace and user-settings folders under ``base`` and the project's shipped
    settings (:data:`SHIPPED_SETTINGS`); notebooks go in :attr:`root`.

    ``own_session``: start Lab in a session of its own, so that a Ctrl-C in the
    terminal reaches only the caller, which then stops Lab with :meth:`stop`.
    """

    def __init__(self, base: Path, *, own_session: bool = False) -> None:
        self.base = base
        self.root = base / "root"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "lab.log"
        self.own_session = own_session
        self.proc: subprocess.Popen | None = None
        self._seen: dict[int, psutil.Process] = {}

    def start(self, timeout: float = 60) -> None:
        """Start Lab; return once ``/api/status`` answers."""
        settings, workspaces = self.base / "settings", self.base / "ws"
        for folder in (self.root, settings, workspaces):
            folder.mkdir(parents=True, exist_ok=True)
        if not SHIPPED_SETTINGS.exists():
            raise RuntimeError(
                f"{SHIPPED_SETTINGS} is missing: run scripts/test.sh, which installs "
                "jupyter-config/lab-settings/dicomteach.json there"
            )
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.ip=127.0.0.1",
            f"--port={self.port}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={workspaces}",
            f"--LabApp.user_settings_dir={settings}",
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=isolated_env(self.base),
                cwd=self.root,
                start_new_session=self.own_session,
            )
        wait_ready(f"{self.url}/api/status", self.proc, self.log, timeout)

    def remember_children(self) -> None:
        """Note Lab's kernels now, so that :meth:`stop` can end any it leaves behind."""
        if self.proc is None:
            return
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self._seen[child.pid] = child
        except psutil.Error:
            pass

    def kernel_process(self, kernel_id: str) -> psutil.Process | None:
        self.remember_children()
        for p in self._seen.values():
            try:
                if any(f"kernel-{kernel_id}.json" in a for a in p.cmdline()):
                    return p
            except psutil.Error:
                continue
        return None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.remember_children()
        stop_server(self.proc)
        # Kernels Lab should have shut down with itself (each by the id we saw).
        stop_processes([p for p in self._seen.values() if p.is_running()])
        self.proc = None
