"""``dicomteach score``: compare a delineation with its reference."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from dicomteach.errors import DicomTeachError

#: The keys ``dicomteach score --json`` prints for one structure, in this order.
SCORE_KEYS = ("dice", "jaccard", "hd_mm", "hd95_mm", "msd_mm", "surface_dice", "volume_diff_pct")


def run(args: argparse.Namespace) -> int:
    from dicomteach.roi.load import check_same_grid, load_structures
    from dicomteach.scoring import score

    if not (np.isfinite(args.tolerance_mm) and args.tolerance_mm >= 0):
        raise DicomTeachError(f"--tolerance-mm must be a number ≥ 0, not {args.tolerance_mm}")
    reference = load_structures(args.reference, args.image)
    prediction = load_structures(args.prediction, args.image)
    check_same_grid(reference, prediction)
    if args.label is not None:
        for side in (reference, prediction):
            if args.label not in side.masks:
                raise DicomTeachError(
                    f"holds no structure {args.label} (it holds {sorted(side.masks) or 'none'})",
                    side.path,
                )
        pairs = [(args.label, reference.masks[args.label], prediction.masks[args.label])]
    elif len(reference.masks) == 1 and len(prediction.masks) == 1:
        number = next(iter(reference.masks))
        pairs = [(number, reference.masks[number], next(iter(prediction.masks.values())))]
    else:
        empty = np.zeros(reference.shape, dtype=bool)
        numbers = sorted(set(reference.masks) | set(prediction.masks))
        pairs = [
            (n, reference.masks.get(n, empty), prediction.masks.get(n, empty)) for n in numbers
        ]
    results = []
    for number, ref_mask, pred_mask in pairs:
        try:
            scores = score(ref_mask, pred_mask, reference.spacing, args.tolerance_mm)
        except ValueError as exc:
            raise DicomTeachError(f"cannot score structure {number}: {exc}") from None
        values = scores.as_dict()
        name = reference.names.get(number) or prediction.names.get(number, str(number))
        results.append((number, name, {key: values[key] for key in SCORE_KEYS}))
    if args.json:
        if len(results) == 1:
            out: dict[str, Any] = results[0][2]
        else:
            out = {"structures": {str(n): {"name": name, **v} for n, name, v in results}}
        print(json.dumps(out))
        return 0
    print(
        f"reference   {reference.path}\nprediction  {prediction.path}\n"
        f"grid        {' × '.join(map(str, reference.shape))} voxels of "
        f"{' × '.join(f'{s:g}' for s in reference.spacing)} mm; surface Dice at "
        f"{args.tolerance_mm:g} mm"
    )
    for number, name, values in results:
        print(f"\n{name} ({number})")
        for key in SCORE_KEYS:
            value = values[key]
            shown = "undefined (one mask empty)" if value is None else f"{value:.4f}"
            print(f"  {key:<16} {shown}")
    return 0
