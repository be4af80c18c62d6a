"""Chromium's processes and their memory, for the browser benchmarks (Linux /proc).

JupyterLab, the Chromium flags and stopping processes by id are shared with the
browser tests: ``tests/browser/lab.py``.
"""

from __future__ import annotations

from pathlib import Path

import psutil


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
