"""The AI models against the same networks in PyTorch eager, same run: a CT and a radiograph.

Nodule inference on a 512×512×120 chest CT, and triage of a 2000×2500 chest
radiograph.

Goals: the whole of ``find_nodules`` (Hounsfield units, the box round the
lungs, the model's grid, the network, the candidates and their outlines) in at
most 3 s on this 2-core machine with onnxruntime, and onnxruntime at least
1.5× faster than the same network in PyTorch eager mode.

The CT is the library's chest CT (``ct-chest`` baseline, seed 0: 120 slices
of 512×512, Siemens habits, JPEG 2000), written once into the sample cache and
loaded before timing. Both sides run the same pipeline in the same process:
PyTorch only replaces the network's call (the weights the ONNX file was
exported from, ``nodule.npz``, in eval mode under ``torch.no_grad``, 8 slices a
batch as onnxruntime gets them; both on every core). Repeats alternate the
two; times are the best and the median. The probability maps of both are
compared.

The radiograph (goals: ``triage_radiograph`` in at most 0.5 s, onnxruntime at
least 1.5× faster than eager) is a held-out patient's abnormal film
(:mod:`dicomteach.ai.films`, flat-panel DX habits) made 2500 rows × 2000
columns at 0.15 mm, written as DICOM and loaded before timing; the whole of
``triage_radiograph`` is timed (checks, averaging down to 1.2 mm, the network,
the score) and, apart, the heat map brought back to the film's 5 million
pixels and the network alone. The ratio is the whole call's.

    .venv/bin/python benchmarks/ai.py [--repeats 3] [--only ct|radiograph]

Needs the ``ai-train`` extra (PyTorch).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 3.0
GOAL_FILM_SECONDS = 0.5
GOAL_RATIO = 1.5


def eager_model(model, name: str):
    """The shipped model ``name``'s pipeline with its network run by PyTorch eager instead."""
    import torch

    from dicomteach.ai.network import from_arrays
    from dicomteach.ai.runtime import Model, model_paths

    class EagerModel(Model):
        def __init__(self) -> None:
            self.path, self.description = model.path, model.description
            with np.load(model_paths(name)["npz"]) as weights:
                self.net = from_arrays(
                    dict(weights), model.description.slices, model.description.width
                )

        def logits(self, batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return self.net(torch.from_numpy(batch)).numpy()

    return EagerModel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("ct", "radiograph"), default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    if args.only != "radiograph":
        ct(args)
    if args.only != "ct":
        radiograph(args)
    return 0


def radiograph(args: argparse.Namespace) -> None:
    """Triage of a 2000×2500 radiograph, onnxruntime against eager."""
    import tempfile

    from dicomteach import io
    from dicomteach.ai import load_model, triage_radiograph
    from dicomteach.ai.films import film_specs, render_films, write_film

    _, film = render_films(film_specs("held-out", 1)[0], rows=2500, columns=2000)
    with tempfile.TemporaryDirectory() as scratch:
        volume = io.load(write_film(film, Path(scratch) / "film.dcm"))
    print(f"radiograph: {volume.pixels.shape} {volume.modality} {volume.photometric}")
    onnx = load_model("triage")
    eager = eager_model(onnx, "triage")
    whole: dict[str, list[float]] = {"onnxruntime": [], "eager": []}
    heat: dict[str, list[float]] = {"onnxruntime": [], "eager": []}
    results = {}
    for _ in range(max(args.repeats, 5)):
        for name, model in (("onnxruntime", onnx), ("eager", eager)):
            start = time.perf_counter()
            results[name] = triage_radiograph(volume, model=model)
            whole[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            results[name].heatmap  # noqa: B018 (made on first use)
            heat[name].append(time.perf_counter() - start)
    network: dict[str, list[float]] = {"onnxruntime": [], "eager": []}
    rows, columns = (n // 8 * 8 for n in results["onnxruntime"].coarse.shape)
    batch = np.zeros((1, 1, rows, columns), np.float32)
    for _ in range(max(args.repeats, 5)):
        for name, model in (("onnxruntime", onnx), ("eager", eager)):
            start = time.perf_counter()
            model.logits(batch)
            network[name].append(time.perf_counter() - start)
    for label, times in (
        ("triage_radiograph, onnxruntime", whole["onnxruntime"]),
        ("triage_radiograph, PyTorch eager", whole["eager"]),
        ("its heat map at 2500×2000", heat["onnxruntime"]),
        ("network alone, onnxruntime", network["onnxruntime"]),
        ("network alone, PyTorch eager", network["eager"]),
    ):
        print(_line(label, times))
    with_heat = [a + b for a, b in zip(whole["onnxruntime"], heat["onnxruntime"], strict=True)]
    print(_line("score and heat map, onnxruntime", with_heat))
    ratio = min(whole["eager"]) / min(whole["onnxruntime"])
    ratio_network = min(network["eager"]) / min(network["onnxruntime"])
    print(f"onnxruntime faster than eager: ×{ratio:.2f} whole, ×{ratio_network:.2f} network")
    gap = float(np.abs(results["onnxruntime"].coarse - results["eager"].coarse).max())
    print(f"largest difference between the two probability maps: {gap:.1e}")
    print(
        f"scores: {results['onnxruntime'].score:.4f} (onnxruntime), "
        f"{results['eager'].score:.4f} (eager); peak at {results['onnxruntime'].peak}"
    )
    met_time = min(with_heat) <= GOAL_FILM_SECONDS
    print(
        f"goal radiograph ≤ {GOAL_FILM_SECONDS:g} s (with its heat map): "
        f"{'met' if met_time else 'MISSED'}; onnxruntime ≥ {GOAL_RATIO:g}× eager: "
        f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}"
    )


def _line(label: str, times: list[float]) -> str:
    return f"{label:<34} best {min(times):6.3f} s   median {statistics.median(times):6.3f} s"


def ct(args: argparse.Namespace) -> None:
    """Nodule inference on the 512×512×120 CT, onnxruntime against eager."""

    from dicomteach import io
    from dicomteach.ai import find_nodules, load_model
    from dicomteach.ai.grid import hounsfield, lung_box, model_grid
    from dicomteach.samples.cache import lesson_study

    folder = lesson_study("ct-chest", seed=0) / "baseline" / "ct"
    volume = io.load(folder)
    print(f"CT: {volume.pixels.shape} stored {volume.pixels.dtype}, spacing {volume.spacing}")
    onnx = load_model()
    eager = eager_model(onnx, "nodule")

    hu = hounsfield(volume)
    grid = model_grid(hu, volume.spacing, lung_box(hu, volume.spacing))
    print(f"model grid round the lungs: {grid.hu.shape} (of the CT's {hu.shape})")
    maps = {name: m.probabilities(grid.hu) for name, m in (("onnxruntime", onnx), ("eager", eager))}
    difference = float(np.abs(maps["onnxruntime"] - maps["eager"]).max())

    whole: dict[str, list[float]] = {"onnxruntime": [], "eager": []}
    network: dict[str, list[float]] = {"onnxruntime": [], "eager": []}
    found = {}
    for _ in range(args.repeats):
        for name, model in (("onnxruntime", onnx), ("eager", eager)):
            start = time.perf_counter()
            found[name] = find_nodules(volume, model=model)
            whole[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.probabilities(grid.hu)
            network[name].append(time.perf_counter() - start)

    def line(label: str, times: list[float]) -> str:
        return f"{label:<34} best {min(times):6.2f} s   median {statistics.median(times):6.2f} s"

    print(line("find_nodules, onnxruntime", whole["onnxruntime"]))
    print(line("find_nodules, PyTorch eager", whole["eager"]))
    print(line("network alone, onnxruntime", network["onnxruntime"]))
    print(line("network alone, PyTorch eager", network["eager"]))
    ratio_whole = min(whole["eager"]) / min(whole["onnxruntime"])
    ratio_network = min(network["eager"]) / min(network["onnxruntime"])
    print(f"onnxruntime faster than eager: ×{ratio_whole:.2f} whole, ×{ratio_network:.2f} network")
    print(f"largest difference between the two probability maps: {difference:.1e}")
    print(
        f"candidates: {len(found['onnxruntime'])} (onnxruntime), {len(found['eager'])} (eager); "
        f"most probable {found['onnxruntime'][0].probability:.2f} at "
        f"{found['onnxruntime'][0].centre_mm} mm"
        if found["onnxruntime"]
        else "candidates: none"
    )
    met_time = min(whole["onnxruntime"]) <= GOAL_SECONDS
    met_ratio = ratio_network >= GOAL_RATIO
    print(
        f"goal CT ≤ {GOAL_SECONDS:g} s: {'met' if met_time else 'MISSED'}; "
        f"onnxruntime ≥ {GOAL_RATIO:g}× eager: {'met' if met_ratio else 'MISSED'}"
    )


if __name__ == "__main__":
    sys.exit(main())
