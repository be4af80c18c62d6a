"""Load a 512×512×300 16-bit CT series: dicomteach vs SimpleITK (GDCM) vs a pydicom loop.

The series is loaded uncompressed, then compressed in each lossless codec
pydicom can write here (RLE, JPEG-LS, JPEG 2000), same values.

Goals: dicomteach at most 1.0× SimpleITK's time, compressed or not; uncompressed,
at least 3× faster than the plain pydicom loop; peak memory at most 2× the
final array. For compressed series dicomteach is also timed decoding in one
process only (DICOMTEACH_DECODE_WORKERS=1), to show what the worker processes
of dicomteach/io/workers.py bring.

Each load runs in a fresh subprocess (cold Python, warm OS file cache, as a
second lesson start would be); the time is the load alone, imports excluded;
memory is the peak resident size during the load minus the size before it,
in the loading process (decoding workers' own memory is shown apart).

    .venv/bin/python benchmarks/load_series.py [--slices 300] [--repeats 3] [--dir DIR]
        [--codecs uncompressed,rle,jpeg-ls,jpeg2000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOADERS = ("dicomteach", "simpleitk", "pydicom_loop")
#: dicomteach decoding a compressed series in one process (no decoding workers).
ONE_PROCESS = "dicomteach_1"
#: Codec name → (transfer syntax UID, what the series line says).
CODECS = {
    "uncompressed": ("1.2.840.10008.1.2.1", "uncompressed 16-bit"),
    "rle": ("1.2.840.10008.1.2.5", "RLE Lossless"),
    "jpeg-ls": ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"),
    "jpeg2000": ("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless"),
}


def make_series(folder: Path, slices: int, codec: str = "uncompressed") -> None:
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
    write_ct_series(
        folder,
        hu,
        spacing=(1.0, 0.7, 0.7),
        file_names="uid",
        transfer_syntax=CODECS[codec][0],
    )
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
    if loader == ONE_PROCESS:
        os.environ["DICOMTEACH_DECODE_WORKERS"] = "1"
    if loader in ("dicomteach", ONE_PROCESS):
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
    # the largest finished child's peak (decoding workers; pages shared with the parent count)
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "loader": loader,
                "seconds": elapsed,
                "peak_extra_bytes": max(0, peak - before),
                "worker_peak_bytes": workers_peak,
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


def bench(folder: Path, codec: str, slices: int, repeats: int) -> dict[str, float]:
    """Load one series with every loader; print its table; return the best times."""
    print(f"series: {folder} (512×512×{slices}, {CODECS[codec][1]})", flush=True)
    make_series(folder, slices, codec)
    loaders = LOADERS if codec == "uncompressed" else (LOADERS[0], ONE_PROCESS, *LOADERS[1:])
    results: dict[str, list[dict]] = {name: [] for name in loaders}
    for _ in range(repeats):
        for name in loaders:  # interleaved, so drift hits all loaders alike
            results[name].append(run(name, folder))
    best = {name: min(r["seconds"] for r in rs) for name, rs in results.items()}
    mem = {name: min(r["peak_extra_bytes"] for r in rs) for name, rs in results.items()}
    array_bytes = results["dicomteach"][0]["array_bytes"]
    sums = {name: rs[0]["checksum"] for name, rs in results.items()}
    print(f"{'loader':<14}{'best s':>9}{'peak MiB':>10}{'× array':>9}")
    for name in loaders:
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
    if codec == "uncompressed":
        print(f"pydicom loop / dicomteach time: {speedup_loop:.2f}×   (goal ≥ 3)")
    else:
        print(f"pydicom loop / dicomteach time: {speedup_loop:.2f}×")
        workers = best[ONE_PROCESS] / best["dicomteach"]
        worker_peak = max(r["worker_peak_bytes"] for r in results["dicomteach"])
        print(
            f"one process / decoding workers time: {workers:.2f}×   "
            f"(largest worker's peak: {worker_peak / 2**20:.0f} MiB, shared pages included)"
        )
    print(f"dicomteach peak memory / array: {mem_ratio:.2f}×   (goal ≤ 2)", flush=True)
    return {"dicomteach": best["dicomteach"], "simpleitk": best["simpleitk"]}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="the uncompressed series' folder")
    ap.add_argument("--codecs", default=",".join(CODECS), help=f"some of {', '.join(CODECS)}")
    ap.add_argument("--child", choices=(*LOADERS, ONE_PROCESS))
    args = ap.parse_args()
    if args.child:
        _child(args.child, str(args.dir))
        return 0
    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    unknown = [c for c in codecs if c not in CODECS]
    if unknown:
        ap.error(f"unknown codec(s) {', '.join(unknown)}; choose from {', '.join(CODECS)}")
    base = args.dir or Path(tempfile.gettempdir()) / f"dicomteach-bench-ct-{args.slices}"
    summary: dict[str, dict[str, float]] = {}
    for codec in codecs:
        folder = base if codec == "uncompressed" else base.with_name(f"{base.name}-{codec}")
        folder.mkdir(parents=True, exist_ok=True)
        summary[codec] = bench(folder, codec, args.slices, args.repeats)
        print()
    print(f"{'series':<22}{'dicomteach s':>13}{'SimpleITK s':>13}{'ratio':>8}   (goal ≤ 1.0)")
    for codec, best in summary.items():
        print(
            f"{CODECS[codec][1]:<22}{best['dicomteach']:>13.3f}{best['simpleitk']:>13.3f}"
            f"{best['dicomteach'] / best['simpleitk']:>7.2f}×"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
