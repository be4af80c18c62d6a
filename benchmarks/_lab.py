"""A throw-away JupyterLab and Debian's headless Chromium for the browser benchmarks.

Self-contained (no pytest): the flags and settings are those of
/work/shared/STACK.md and tests/browser/conftest.py. Everything started here is
tracked by process id and stopped by :meth:`Lab.stop` / :func:`stop_processes`.
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
SETTINGS_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, sources: list[str]) -> None:
    """A notebook of code cells with kernelspec metadata (no "Select Kernel" dialog)."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"bench-{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    meta = {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    path.write_text(
        json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5})
    )


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


class Lab:
    """JupyterLab on a free 127.0.0.1 port, token off, with its own config, runtime,
    workspace and settings folders under ``base``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "lab.log"
        self.proc: subprocess.Popen | None = None
        self._seen: dict[int, psutil.Process] = {}

    def start(self, timeout: float = 90) -> None:
        dirs = {
            n: self.base / n for n in ("root", "settings", "ws", "config", "runtime", "ipython")
        }
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        (dirs["settings"] / "overrides.json").write_text(json.dumps(SETTINGS_OVERRIDES))
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
            f"--LabApp.workspaces_dir={dirs['ws']}",
            f"--LabApp.app_settings_dir={dirs['settings']}",
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        with open(self.log, "wb") as out:
            # Own session: a Ctrl-C in the terminal reaches only us; we stop Lab with SIGTERM.
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"JupyterLab not ready after {timeout} s:\n{self.tail()}")

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Kernels Lab should have shut down with itself (each by the id we saw).
        stop_processes([p for p in self._seen.values() if p.is_running()])
        self.proc = None


def chromium_processes() -> list[psutil.Process]:
    """Chromium processes below this Python process (via playwright's driver)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name() or (p.cmdline() and "chromium" in p.cmdline()[0]):
                out.append(p)
        except psutil.Error:
            continue
    return out


def renderer_processes() -> list[psutil.Process]:
    out = []
    for p in chromium_processes():
        try:
            if "--type=renderer" in p.cmdline():
                out.append(p)
        except psutil.Error:
            continue
    return out


def vm_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident size since the process started) in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(line.split()[1]) * 1024
    return values


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current resident size (Linux ≥ 4.0: "5" > /proc/PID/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False
