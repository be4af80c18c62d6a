"""Run dicomteach in a subprocess and measure what it cost: wall time and peak memory (VmHWM).

The bounds are the hostile-input requirement: no input makes a command take
more than 10 s or 1 GiB of memory. They are safety bounds, not performance
targets. Used by tests/test_hostile_input.py (``dicomteach info``) and
tests/test_npz.py, tests/test_roi_hostile.py (``dicomteach score`` and
``grade_delineation``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GiB = 1024**3
MAX_SECONDS = 10.0
MAX_RSS = 1 * GiB


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss: int
    """Peak resident memory of the command, bytes."""


#: Records the process's peak resident memory at exit. VmHWM belongs to the memory map
#: exec() created, so, unlike ru_maxrss from wait4, it does not include the pages the
#: child shared with this (possibly large) pytest process at fork.
_REPORT_PEAK = """\
import atexit, os, runpy, sys

def _report():
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(os.environ["DICOMTEACH_TEST_HWM"], "w") as f:
        f.write(str(kib))

atexit.register(_report)
"""

#: The real command line, as ``dicomteach ARGS…`` runs it.
_CLI = (
    _REPORT_PEAK
    + """\
sys.argv[0] = "dicomteach"
runpy.run_module("dicomteach.cli", run_name="__main__", alter_sys=True)
"""
)


def run_python(code: str, *args: Path | str, tmp: Path) -> Run:
    """``python -c CODE ARGS…`` in a subprocess (``sys.argv[1:]`` is ``ARGS``), measured."""
    out, err, hwm = tmp / "stdout.txt", tmp / "stderr.txt", tmp / "hwm.txt"
    hwm.unlink(missing_ok=True)
    with open(out, "wb") as fo, open(err, "wb") as fe:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            stdout=fo,
            stderr=fe,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "DICOMTEACH_TEST_HWM": str(hwm)},
        )
        # a hung reader must fail the test, not hang it
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # killed (e.g. out of memory): no report; ru_maxrss is then the best figure there is
    max_rss = int(hwm.read_text()) * 1024 if hwm.exists() else usage.ru_maxrss * 1024
    return Run(
        code=proc.returncode,
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
        seconds=seconds,
        max_rss=max_rss,
    )


def run_cli(*args: Path | str, tmp: Path) -> Run:
    """``dicomteach ARGS…`` in a subprocess, with its wall time and peak memory."""
    return run_python(_CLI, *args, tmp=tmp)


def run_measured(code: str, *args: Path | str, tmp: Path) -> Run:
    """Python ``code`` (``sys.argv[1:]`` is ``args``) in a subprocess, measured like the CLI."""
    return run_python(_REPORT_PEAK + code, *args, tmp=tmp)


def assert_bounded(run: Run) -> None:
    assert run.seconds < MAX_SECONDS, f"took {run.seconds:.1f} s"
    assert run.max_rss < MAX_RSS, f"peak memory {run.max_rss / 2**20:.0f} MiB"
