"""Memory of one learner's lesson kernel: the figure deploy/README.md sizes a hub with.

A learner's server holds a Jupyter server process and, per open lesson, a kernel
that keeps the lesson's studies in memory. This runs a lesson top to bottom
with nbclient in a fresh kernel (no browser: widgets build their state in the
kernel as they would for a learner), samples the kernel's memory (its
proportional set size, PSS, with its child processes) every 0.2 s, and prints the peak and what the
kernel still holds once the lesson has run. The sample studies come from the
lesson cache, warmed by an untimed first run when ``--warm`` is given.

    .venv/bin/python benchmarks/lesson_memory.py [--lesson 02] [--warm]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20


def _pss(pid: int) -> int:
    # PSS, not RSS: the decoding workers are forked from the kernel (docs/decisions.md,
    # decision 21) and share its pages, which RSS would count once per process.
    try:
        process = psutil.Process(pid)
        return sum(p.memory_full_info().pss for p in [process, *process.children(recursive=True)])
    except psutil.Error:
        return 0


def run_lesson(notebook: Path) -> tuple[int, int, float]:
    """Run ``notebook`` in a new kernel; its peak and final PSS in bytes, and seconds."""
    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as work:
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}
        )
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                if client.km is not None and client.km.has_kernel:
                    peak[0] = max(peak[0], _pss(client.km.provisioner.process.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.perf_counter()
        with client.setup_kernel():
            sampler.start()
            client.execute(cleanup_kc=False, reset_kc=False)
            elapsed = time.perf_counter() - started
            final = _pss(client.km.provisioner.process.pid)
            stop.set()
            sampler.join()
    return max(peak[0], final), final, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="02", help="the lesson's number prefix (02)")
    parser.add_argument("--warm", action="store_true", help="run it once untimed first")
    args = parser.parse_args()
    matches = sorted((ROOT / "notebooks").glob(f"{args.lesson}-*.ipynb"))
    if not matches:
        print(f"no lesson notebooks/{args.lesson}-*.ipynb", file=sys.stderr)
        return 2
    notebook = matches[0]
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    if args.warm:
        run_lesson(notebook)
    peak, final, elapsed = run_lesson(notebook)
    print(
        f"{notebook.name}: kernel PSS peak {peak / MIB:.0f} MiB, "
        f"after the last cell {final / MIB:.0f} MiB ({elapsed:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
