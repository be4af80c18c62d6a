"""Time and size of ``dicomteach sample-data`` (goal: within a minute, under 200 MB).

    .venv/bin/python benchmarks/sample_data.py [--seed 0]

Each study is timed on its own, then the library as a whole is summed up.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dicomteach.samples import STUDIES  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    dest = Path(tempfile.mkdtemp(prefix="dicomteach-library-"))
    total_s, total_b = 0.0, 0
    print(f"{'study':<12}{'seconds':>9}{'MiB':>8}{'files':>7}")
    for folder, module_name in STUDIES:
        module = importlib.import_module(module_name)
        t0 = time.perf_counter()
        written = module.write(dest / folder, seed=args.seed)
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in written)
        total_s += seconds
        total_b += size
        print(f"{folder:<12}{seconds:>9.1f}{size / 2**20:>8.1f}{len(written):>7}")
    print(f"{'library':<12}{total_s:>9.1f}{total_b / 2**20:>8.1f}")
    print(f"time {total_s:.0f} s (goal ≤ 60 s), size {total_b / 2**20:.0f} MiB (goal < 200 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
