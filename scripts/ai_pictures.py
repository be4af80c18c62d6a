"""The AI models' errors as pictures for docs/ai.md.

    PYTHONPATH=. python scripts/ai_pictures.py docs/ai/known-errors.png
    PYTHONPATH=. python scripts/ai_pictures.py --triage docs/ai/triage.png

The triage picture (:func:`triage_picture`) shows three held-out films of
``dicomteach/ai/models/triage-evaluation.json``'s examples: a true positive,
a miss and a false positive, each made again from its patient's seed
(:func:`dicomteach.ai.films.render_films`) and triaged again; the film in
grey, the heat map over it where it reaches 0.2, each finding ringed and
named (green a nodule or mass, blue a scar), the heat map's peak a cross;
below, 72 mm of the film at full resolution round the peak (or the missed
lesion) with the heat map's 0.5 line.

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


def triage_picture(out: Path) -> Path:
    """The triage model's true positive, miss and false positive, with their heat maps."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dicomteach.ai import triage_radiograph
    from dicomteach.ai.films import LESION_KINDS, film_specs, render_films
    from dicomteach.ai.runtime import MODELS

    summary = json.loads((MODELS / "triage-evaluation.json").read_text(encoding="utf-8"))
    examples = summary["examples"]
    shown = [
        ("true positive", examples["true_positive"][0]),
        ("missed", examples["missed"][0]),
        ("false positive", examples["false_positive"][0]),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12.6, 9.6), gridspec_kw={"height_ratios": [1.2, 1]})
    step = 4
    for column, (what, name) in enumerate(shown):
        patient, _, kind = name.rpartition("-")
        number = int(patient.rsplit("-", 1)[1])
        spec = film_specs("held-out", number + 1)[number]
        film = render_films(spec)[1 if kind == "abnormal" else 0]
        found = triage_radiograph(film.pixels.astype(np.float32), pixel_mm=film.pixel_mm)
        pixels = film.pixels.astype(np.float32)  # MONOCHROME2: dense is high
        low, high = np.percentile(pixels[::8, ::8], [1.0, 99.5])
        whole, zoom = axes[0, column], axes[1, column]
        whole.imshow(pixels[::step, ::step], cmap="gray", vmin=low, vmax=high)
        whole.imshow(
            np.ma.masked_less(found.heatmap[::step, ::step], 0.1),
            cmap="inferno", vmin=0.0, vmax=1.0, alpha=0.6,
        )  # fmt: skip
        for finding in film.findings:
            row, col = film.lesion_pixel(finding)
            colour = "lime" if finding.kind in LESION_KINDS else "deepskyblue"
            radius = (finding.radius + 6.0) / film.pixel_mm / step
            whole.add_patch(plt.Circle((col / step, row / step), radius, fill=False, color=colour))
            whole.text(col / step, row / step - radius - 8, finding.label, color=colour,
                       fontsize=6.5, ha="center")  # fmt: skip
        whole.plot(found.peak[1] / step, found.peak[0] / step, "x", color="red", markersize=9)
        whole.set_title(
            f"{what}: score {found.score:.2f}\n{name} ({spec.habits.modality})", fontsize=8
        )
        # the zoom: 72 mm round the peak, or round the missed lesion
        if what == "missed":
            centre = film.lesion_pixel(film.lesions[0])
            where = f"round the missed {film.lesions[0].label}"
        else:
            centre = found.peak
            where = "round the heat map's peak"
        half = int(36.0 / film.pixel_mm)
        r0 = int(np.clip(centre[0] - half, 0, pixels.shape[0] - 2 * half))
        c0 = int(np.clip(centre[1] - half, 0, pixels.shape[1] - 2 * half))
        crop = (slice(r0, r0 + 2 * half), slice(c0, c0 + 2 * half))
        zoom.imshow(pixels[crop], cmap="gray", vmin=low, vmax=high)
        zoom.contour(found.heatmap[crop], levels=[0.5], colors=["orange"], linewidths=1.2)
        for finding in film.findings:
            row, col = film.lesion_pixel(finding)
            reach = finding.radius / film.pixel_mm
            if -reach <= row - r0 < 2 * half + reach and -reach <= col - c0 < 2 * half + reach:
                colour = "lime" if finding.kind in LESION_KINDS else "deepskyblue"
                radius = (finding.radius + 3.0) / film.pixel_mm
                zoom.add_patch(
                    plt.Circle((col - c0, row - r0), radius, fill=False, color=colour, ls="--")
                )
                zoom.text(col - c0, row - r0 + radius + 25, finding.label, color=colour,
                          fontsize=7, ha="center", va="top", clip_on=True)  # fmt: skip
        zoom.set_xlim(-0.5, 2 * half - 0.5)
        zoom.set_ylim(2 * half - 0.5, -0.5)
        zoom.set_title(f"72 mm {where}\norange: the heat map at 0.5", fontsize=8)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--triage":
        out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "ai" / "triage.png"
        print(triage_picture(out))
        return 0
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
