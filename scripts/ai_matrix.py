"""How the nodule model reads one patient's CT at the sample library's two matrices.

    PYTHONPATH=. python scripts/ai_matrix.py [--model FOLDER] [--seed 1]

The lessons' chest CT (``ct-chest`` baseline, 60 slices) of one patient,
written at 256×256 (the lessons' size) and at 512×512 (the teaching file's),
the same field of view; and, to tell apart what makes a 256 CT read
differently, the 512 CT averaged over 2×2 pixels (the larger pixels, with
the noise they average) and the 256 CT blurred a little more (softer
still). For each, on the model's grid: the candidates at probability 0.5
(regions of the probability map, as :func:`dicomteach.ai.find_nodules`
makes them), the noise (standard deviation of what a 3-pixel Gaussian blur
removes, in soft tissue and in lung) and the lung's mean. docs/ai.md
("Both matrices") quotes what it printed for the model of 512 cases alone
and for the shipped one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(model, hu: np.ndarray, spacing, label: str) -> None:
    """Print the candidates at 0.5 and the noise of ``hu`` on the model's grid."""
    from scipy import ndimage

    from dicomteach.ai.grid import lung_box, model_grid

    grid = model_grid(hu, spacing, lung_box(hu, spacing), model.description.spacing)
    probability = model.probabilities(grid.hu)
    _, regions = ndimage.label(probability >= 0.5, structure=np.ones((3, 3, 3)))
    g = grid.hu
    local = ndimage.uniform_filter(g, (1, 7, 7))
    calm = ndimage.uniform_filter((np.abs(g) < 200).astype(np.float32), (1, 9, 9)) > 0.99
    soft = (np.abs(local) < 100) & calm
    lung = (local > -950) & (local < -750)
    detail = g - ndimage.gaussian_filter(g, (0, 3, 3))
    print(
        f"{label:<34} {regions:>4} candidates at 0.5; noise {detail[soft].std():5.1f} HU in soft "
        f"tissue, {detail[lung].std():5.1f} in lung; lung {g[lung].mean():.0f} HU",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    from scipy import ndimage

    from dicomteach import io
    from dicomteach.ai.grid import hounsfield
    from dicomteach.ai.runtime import load_model
    from dicomteach.samples.cache import lesson_study

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="folder of the model (default: shipped)")
    parser.add_argument("--seed", type=int, default=1, help="the lessons' CT's seed")
    args = parser.parse_args(argv)
    model = load_model("nodule", args.model)
    stacks = {}
    for size in (256, 512):
        volume = io.load(
            lesson_study("ct-chest", seed=args.seed, size=size, slices=60) / "baseline" / "ct"
        )
        stacks[size] = hounsfield(volume), tuple(volume.spacing)
        pixel = volume.spacing[1]
        measure(model, *stacks[size], f"{size}×{size} ({pixel:.2f} mm pixels)")
    hu, spacing = stacks[512]
    k, rows, columns = hu.shape
    averaged = hu.reshape(k, rows // 2, 2, columns // 2, 2).mean(axis=(2, 4))
    measure(model, averaged, (spacing[0], 2 * spacing[1], 2 * spacing[2]), "512 averaged 2×2")
    hu, spacing = stacks[256]
    for sigma in (0.5, 0.8):
        blurred = ndimage.gaussian_filter(hu, (0, sigma, sigma))
        measure(model, blurred, spacing, f"256 blurred ({sigma} pixel Gaussian)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
