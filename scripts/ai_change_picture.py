"""Two changes find_changes reports, as docs/ai.md shows them.

    PYTHONPATH=. python scripts/ai_change_picture.py docs/ai/changes.png

Top: the library's nodule study (``ct-chest``, seed 1, 256 × 256, 60 slices),
its nodule grown. Bottom: the first held-out pair of
:mod:`dicomteach.ai.change_pairs` (written into the sample cache if it is not
there), its new nodule. Each is :func:`dicomteach.ai.changes.change_png`:
the baseline and the registered follow-up side by side, the model's outlines
on each date.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    from PIL import Image

    from dicomteach.ai import change_pairs
    from dicomteach.ai.changes import change_png, find_changes
    from dicomteach.samples.cache import lesson_study

    out = Path(argv[0]) if argv else ROOT / "docs" / "ai" / "changes.png"
    library = lesson_study("ct-chest", seed=1, size=256, slices=60)
    changes = find_changes(library / "baseline" / "ct", library / "followup" / "ct")
    grown = max(changes.of("grown"), key=lambda c: c.followup.volume_ml)
    pictures = [change_png(changes, grown, half_mm=30.0, scale=4)]
    folder = change_pairs.pair_folder(change_pairs.pair_specs(1)[0])
    changes = find_changes(folder / "baseline" / "ct", folder / "followup" / "ct")
    new = max(changes.of("new"), key=lambda c: c.probability)
    pictures.append(change_png(changes, new, half_mm=30.0, scale=2))
    images = [np.asarray(Image.open(io.BytesIO(p)).convert("RGB")) for p in pictures]
    width = max(i.shape[1] for i in images)
    rows = [
        np.pad(i, ((0, 8), (0, width - i.shape[1]), (0, 0)), constant_values=255) for i in images
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows)).save(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
