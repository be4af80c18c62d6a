"""Nodule inference on a 512×512×120 chest CT: onnxruntime against PyTorch eager, same run.

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

    .venv/bin/python benchmarks/ai.py [--repeats 3]

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
GOAL_RATIO = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from dicomteach import io
    from dicomteach.ai import find_nodules, load_model
    from dicomteach.ai.grid import hounsfield, lung_box, model_grid
    from dicomteach.ai.network import from_arrays
    from dicomteach.ai.runtime import Model, model_paths
    from dicomteach.samples.cache import lesson_study

    class EagerModel(Model):
        """The shipped model's pipeline with the network run by PyTorch eager instead."""

        def __init__(self, model: Model) -> None:
            self.path, self.description = model.path, model.description
            with np.load(model_paths("nodule")["npz"]) as weights:
                self.net = from_arrays(
                    dict(weights), model.description.slices, model.description.width
                )

        def logits(self, batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return self.net(torch.from_numpy(batch)).numpy()

    torch.set_num_threads(os.cpu_count() or 1)
    folder = lesson_study("ct-chest", seed=0) / "baseline" / "ct"
    volume = io.load(folder)
    print(f"CT: {volume.pixels.shape} stored {volume.pixels.dtype}, spacing {volume.spacing}")
    onnx = load_model()
    eager = EagerModel(onnx)

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
