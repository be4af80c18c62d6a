"""The nodule model's known errors as a picture for docs/ai.md.

    PYTHONPATH=. python scripts/ai_pictures.py docs/ai/known-errors.png

Each row is one entry of ``dicomteach/ai/models/nodule-known-errors.json``:
its case written again from its seed (:func:`dicomteach.ai.known_errors.case_folder`,
into the sample cache), the slice above, the slice of the error and the slice
below, 48 mm square at the lung window (W1500 L−600), the place ringed on the
middle one. Above and below show what a reader scrolling through sees: the
vessel or bronchus running on, the nodule ending.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Rows of the picture: each kind of error and how many of it.
ROWS = (
    ("false positive", "vessel seen end-on", 3),
    ("false positive", "bronchus seen end-on", 2),
    ("missed nodule", "ground-glass nodule", 3),
)
HALF_MM = 24.0


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dicomteach import io
    from dicomteach.ai.known_errors import case_folder, read_known_errors
    from dicomteach.imaging.modality import modality_values

    out = Path(argv[0]) if argv else ROOT / "docs" / "ai" / "known-errors.png"
    errors = read_known_errors()
    chosen = []
    for kind, what, count in ROWS:
        chosen += [e for e in errors if e.kind == kind and e.what == what][:count]
    fig, axes = plt.subplots(len(chosen), 3, figsize=(6.3, 2.25 * len(chosen)))
    volumes: dict[str, object] = {}
    for row, error in zip(np.atleast_2d(axes), chosen, strict=True):
        if error.case not in volumes:
            volumes[error.case] = io.load(case_folder(error) / "ct")
        volume = volumes[error.case]
        hu = modality_values(volume)
        k, i, j = np.round(volume.lps_to_index(error.centre_mm)).astype(int)
        reach = int(round(HALF_MM / volume.spacing[1]))
        for n, (ax, kk) in enumerate(zip(row, (k + 1, k, k - 1), strict=True)):
            crop = hu[kk, i - reach : i + reach, j - reach : j + reach]
            ax.imshow(np.clip((crop + 1350.0) / 1500.0, 0.0, 1.0), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if n == 1:
                ax.add_patch(plt.Circle((reach, reach), reach * 0.3, fill=False, color="orange"))
                where = "marked" if error.kind == "false positive" else "missed"
                ax.set_title(
                    f"{error.what}, {where} (p {error.probability:.2f})\n{error.case}, "
                    f"{error.maker} {error.kernel}",
                    fontsize=7,
                )
            else:
                ax.set_title("slice above" if n == 0 else "slice below", fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
