"""``dicomteach score``: compare a delineation with its reference."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dicomteach.errors import DicomTeachError

#: The keys ``dicomteach score --json`` prints for one structure, in this order.
SCORE_KEYS = ("dice", "jaccard", "hd_mm", "hd95_mm", "msd_mm", "surface_dice", "volume_diff_pct")


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach score`` to the command line."""
    score = subparsers.add_parser(
        "score",
        help="score a delineation against a reference",
        description="Score PREDICTION against REFERENCE: Dice, Jaccard, Hausdorff (HD, HD95), mean "
        "surface distance, surface Dice and volume difference. Each is a DICOM SEG, an RTSTRUCT "
        "(with --image for the grid) or a .npz holding arrays 'mask' and 'spacing' (mm per axis). "
        "Files holding several structures are scored structure by structure (matched by number) "
        "unless --label picks one.",
    )
    score.add_argument("reference", metavar="REFERENCE")
    score.add_argument("prediction", metavar="PREDICTION")
    score.add_argument(
        "--tolerance-mm",
        type=float,
        default=2.0,
        metavar="T",
        help="tolerance of the surface Dice, in mm (2)",
    )
    score.add_argument(
        "--image",
        metavar="DIR",
        help="the image the delineations were drawn on (needed for RTSTRUCT)",
    )
    score.add_argument(
        "--label", type=int, metavar="N", help="score structure N (segment or ROI number) only"
    )
    score.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: dice, jaccard, hd_mm, hd95_mm, msd_mm, surface_dice, "
        'volume_diff_pct (several structures: {"structures": {N: {name, …}}})',
    )
    score.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np  # here, not at the top: ``dicomteach --help`` starts without numpy

    from dicomteach.roi.load import check_same_grid, image_volumes, load_structures
    from dicomteach.scoring import score

    if not (np.isfinite(args.tolerance_mm) and args.tolerance_mm >= 0):
        raise DicomTeachError(f"--tolerance-mm must be a number ≥ 0, not {args.tolerance_mm}")
    # the images are read once, for both outlines
    images = image_volumes(args.image) if args.image is not None else None
    reference = load_structures(args.reference, images)
    # the prediction (a learner's file) on the reference's grid or refused before it is read
    prediction = load_structures(args.prediction, images, shape=reference.shape)
    check_same_grid(reference, prediction)
    if args.label is not None:
        for side in (reference, prediction):
            if args.label not in side.masks:
                raise DicomTeachError(
                    f"holds no structure {args.label} (it holds {sorted(side.masks) or 'none'})",
                    side.path,
                )
        pairs = [(args.label, args.label)]
    elif len(reference.masks) == 1 and len(prediction.masks) == 1:
        pairs = [(next(iter(reference.masks)), next(iter(prediction.masks)))]
    else:
        numbers = sorted(set(reference.masks) | set(prediction.masks))
        pairs = [(n, n) for n in numbers]
    empty = np.zeros(reference.shape, dtype=bool)
    results = []
    # one pair of masks at a time: a label map's masks are made when asked for
    for number, theirs in pairs:
        ref_mask = reference.masks.get(number, empty)
        pred_mask = prediction.masks.get(theirs, empty)
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
