"""Score a delineation on a 512×512×300 volume: dicomteach.scoring vs surface-distance.

Goal: all metrics at least 5× faster than
``surface-distance`` on (a) a 3 cm lesion pair and 3× on (b) a large organ pair
filling about a third of the volume, identical values, peak memory no higher;
(c) ``--case far``: a 5 cm tumour and a learner's 4 cm outline 10 cm to its
side (a live class's scores, docs/live.md) in under 1 s, identical values
(surface-distance's time printed for comparison).

Each side runs in a fresh subprocess; the masks are built slice by slice so the
build does not raise the peak; the time is the scoring alone; memory is the peak
resident size (VmHWM) during scoring minus the resident size before it.

    .venv/bin/python benchmarks/scoring.py [--case lesion|organ|far|both] [--repeats 3]

Times: best and median of the repeats, the two sides interleaved. Peak memory:
the largest of the repeats. Values: Dice and the distances (HD, HD95) are
bitwise equal; the area-weighted metrics (MSD, surface Dice) agree to 1e-12
relative, not bitwise: dicomteach derives the surfel-area table rather than
copying surface-distance's, and sums each cell's triangles in another order,
so table entries may differ in the last bit (tests/test_scoring.py checks the
tables agree to 1e-12 for several spacings).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPE = (300, 512, 512)
SPACING = (1.0, 0.7, 0.7)
TOLERANCE = 2.0
KEYS = ("dice", "hd_mm", "hd95_mm", "msd_mm", "surface_dice")


def ellipsoid(centre_mm, radii_mm) -> np.ndarray:
    """An ellipsoid mask built slice by slice (no full-volume float temporaries)."""
    mask = np.zeros(SHAPE, bool)
    y = (np.arange(SHAPE[1]) * SPACING[1] - centre_mm[1]) / radii_mm[1]
    x = (np.arange(SHAPE[2]) * SPACING[2] - centre_mm[2]) / radii_mm[2]
    plane = y[:, None] ** 2 + x[None, :] ** 2
    for k in range(SHAPE[0]):
        z = (k * SPACING[0] - centre_mm[0]) / radii_mm[0]
        if z * z <= 1:
            mask[k] = plane <= 1 - z * z
    return mask


def masks(case: str) -> tuple[np.ndarray, np.ndarray]:
    if case == "lesion":  # 3 cm lesion, delineated a little shifted and larger
        return ellipsoid((150, 180, 180), (15, 15, 15)), ellipsoid((152, 181, 178), (16, 15.5, 17))
    if case == "far":  # a 5 cm tumour, outlined 10 cm to its side
        return ellipsoid((150, 180, 180), (25, 25, 25)), ellipsoid((150, 180, 280), (20, 20, 20))
    # an organ about a third of the volume; the delineation slightly off and smaller
    centre = (150, 179.2, 179.2)
    reference = ellipsoid(centre, (128, 154, 154))
    prediction = ellipsoid((153, 182, 177), (124, 150, 151))
    return reference, prediction


def _vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _vm_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _child(side: str, case: str) -> None:
    if side == "dicomteach":
        from dicomteach.scoring import score

        def run(reference, prediction):
            return {
                k: v
                for k, v in score(reference, prediction, SPACING, TOLERANCE).as_dict().items()
                if k in KEYS
            }
    else:
        import surface_distance as sd

        def run(reference, prediction):
            d = sd.compute_surface_distances(reference, prediction, SPACING)
            return {
                "dice": float(sd.compute_dice_coefficient(reference, prediction)),
                "hd_mm": float(sd.compute_robust_hausdorff(d, 100)),
                "hd95_mm": float(sd.compute_robust_hausdorff(d, 95)),
                "msd_mm": float(np.mean(sd.compute_average_surface_distance(d))),
                "surface_dice": float(sd.compute_surface_dice_at_tolerance(d, TOLERANCE)),
            }

    reference, prediction = masks(case)
    before = _vm_rss()
    t0 = time.perf_counter()
    values = run(reference, prediction)
    elapsed = time.perf_counter() - t0
    peak = _vm_hwm()
    print(
        json.dumps(
            {"seconds": elapsed, "peak_extra_bytes": max(0, peak - before), "values": values}
        )
    )


def run(side: str, case: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--child", side, "--case", case],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--case", choices=("lesion", "organ", "far", "both"), default="both")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=("dicomteach", "surface_distance"))
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.case)
        return 0
    goals = {"lesion": "≥ 5×", "organ": "≥ 3×", "far": "under 1 s"}
    for case in ("lesion", "organ") if args.case == "both" else (args.case,):
        results = {side: [] for side in ("dicomteach", "surface_distance")}
        for _ in range(args.repeats):
            for side in results:  # interleaved, so load from elsewhere hits both sides alike
                results[side].append(run(side, case))
        best = {s: min(r["seconds"] for r in rs) for s, rs in results.items()}
        median = {s: statistics.median(r["seconds"] for r in rs) for s, rs in results.items()}
        peak = {s: max(r["peak_extra_bytes"] for r in rs) for s, rs in results.items()}
        ours, theirs = results["dicomteach"][0]["values"], results["surface_distance"][0]["values"]
        stable = all(r["values"] == ours for r in results["dicomteach"])
        bitwise = [k for k in KEYS if ours[k] == theirs[k]]
        relative = {k: abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-300) for k in KEYS}
        worst = max(relative, key=relative.get)
        print(f"({case}) 512×512×300, spacing {SPACING} mm, {args.repeats} run(s) each")
        for side in results:
            print(
                f"  {side:<17} best {best[side]:7.3f} s  median {median[side]:7.3f} s"
                f"  peak +{peak[side] / 2**20:6.0f} MiB   {results[side][0]['values']}"
            )
        print(
            f"  speed-up best {best['surface_distance'] / best['dicomteach']:.1f}×, median "
            f"{median['surface_distance'] / median['dicomteach']:.1f}× (goal {goals[case]}); "
            f"memory ratio {peak['dicomteach'] / max(peak['surface_distance'], 1):.2f} (goal ≤ 1)"
        )
        print(
            f"  values identical to 1e-12 (relative): "
            f"{all(v <= 1e-12 for v in relative.values()) and stable}; bitwise equal: "
            f"{', '.join(bitwise) or 'none'}; largest difference {relative[worst]:.1e} ({worst})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
