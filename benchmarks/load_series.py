"""Load a 512×512×300 uncompressed 16-bit CT series: dicomteach vs SimpleITK (GDCM) vs a pydicom loop.

Goal: dicomteach at most 1.0× SimpleITK's time, at least
3× faster than the plain pydicom loop, peak memory at most 2× the final array.

Each load runs in a fresh subprocess (cold Python, warm OS file cache, as a
second lesson start would be); the time is the load alone, imports excluded;
memory is the peak resident size during the load minus the size before it.

    .venv/bin/python benchmarks/load_series.py [--slices 300] [--repeats 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOADERS = ("dicomteach", "simpleitk", "pydicom_loop")


def make_series(folder: Path, slices: int) -> None:
    from dicomteach.io.writer import write_ct_series

    marker = folder.parent / f"{folder.name}.complete"
    if marker.exists():
        return
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[0:slices, 0:512, 0:512]
    body = ((y - 256) ** 2 / 200**2 + (x - 256) ** 2 / 230**2) < 1
    hu = np.where(body, 40.0, -1000.0) + rng.normal(0, 15, size=body.shape)
    del z, y, x, body
    # shuffled names: a PACS export names files by UID, unrelated to slice order
    write_ct_series(folder, hu, spacing=(1.0, 0.7, 0.7), file_names="uid")
    marker.touch()


def _vm_hwm() -> int:
    """Peak resident size of this process (VmHWM: reset at exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(loader: str, folder: str) -> None:
    import psutil

    files = sorted(str(p) for p in Path(folder).glob("*.dcm"))
    if loader == "dicomteach":
        from dicomteach import io

        def load():
            return io.load(folder)

        def hounsfield(vol):
            return vol.pixels[::7, ::31, ::29] * vol.rescale_slope[0] + vol.rescale_intercept[0]
    elif loader == "simpleitk":
        import SimpleITK as sitk

        def load():
            reader = sitk.ImageSeriesReader()
            names = reader.GetGDCMSeriesFileNames(folder)
            reader.SetFileNames(names)
            return reader.Execute()  # the image owns the buffer a NumPy view would borrow

        def hounsfield(image):
            return np.asarray(sitk.GetArrayViewFromImage(image), dtype=np.float64)[::7, ::31, ::29]
    else:
        import pydicom

        def load():
            datasets = [pydicom.dcmread(f) for f in files]
            normal = np.cross(
                np.array(datasets[0].ImageOrientationPatient[:3], float),
                np.array(datasets[0].ImageOrientationPatient[3:], float),
            )
            datasets.sort(
                key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal))
            )
            stored = np.stack([d.pixel_array for d in datasets])
            return stored, float(datasets[0].RescaleSlope), float(datasets[0].RescaleIntercept)

        def hounsfield(loaded):
            stored, slope, intercept = loaded
            return stored[::7, ::31, ::29] * slope + intercept

    before = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    loaded = load()
    elapsed = time.perf_counter() - t0
    peak = _vm_hwm()
    print(
        json.dumps(
            {
                "loader": loader,
                "seconds": elapsed,
                "peak_extra_bytes": max(0, peak - before),
                "array_bytes": int(_array(loaded).nbytes),
                "shape": list(_array(loaded).shape),
                "checksum": int(np.rint(hounsfield(loaded)).astype(np.int64).sum()),
            }
        )
    )


def _array(loaded) -> np.ndarray:
    if isinstance(loaded, tuple):
        return loaded[0]
    if type(loaded).__name__ == "Image":
        import SimpleITK as sitk

        return sitk.GetArrayViewFromImage(loaded)
    return getattr(loaded, "pixels", loaded)


def run(loader: str, folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", loader, "--dir", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--child", choices=LOADERS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, str(args.dir))
        return 0
    folder = args.dir or Path(tempfile.gettempdir()) / f"dicomteach-bench-ct-{args.slices}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"series: {folder} (512×512×{args.slices}, uncompressed 16-bit)", flush=True)
    make_series(folder, args.slices)
    results: dict[str, list[dict]] = {name: [] for name in LOADERS}
    for _ in range(args.repeats):
        for name in LOADERS:  # interleaved, so drift hits all loaders alike
            results[name].append(run(name, folder))
    best = {name: min(r["seconds"] for r in rs) for name, rs in results.items()}
    mem = {name: min(r["peak_extra_bytes"] for r in rs) for name, rs in results.items()}
    array_bytes = results["dicomteach"][0]["array_bytes"]
    sums = {name: rs[0]["checksum"] for name, rs in results.items()}
    print(f"{'loader':<14}{'best s':>9}{'peak MiB':>10}{'× array':>9}")
    for name in LOADERS:
        print(
            f"{name:<14}{best[name]:>9.3f}{mem[name] / 2**20:>10.0f}{mem[name] / array_bytes:>9.2f}"
        )
    print(
        f"final array: {array_bytes / 2**20:.0f} MiB; same Hounsfield values (sampled): {len(set(sums.values())) == 1}"
    )
    ratio_sitk = best["dicomteach"] / best["simpleitk"]
    speedup_loop = best["pydicom_loop"] / best["dicomteach"]
    mem_ratio = mem["dicomteach"] / array_bytes
    print(f"dicomteach / SimpleITK time: {ratio_sitk:.2f}×   (goal ≤ 1.0)")
    print(f"pydicom loop / dicomteach time: {speedup_loop:.2f}×   (goal ≥ 3)")
    print(f"dicomteach peak memory / array: {mem_ratio:.2f}×   (goal ≤ 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
