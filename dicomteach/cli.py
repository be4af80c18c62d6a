"""The ``dicomteach`` command: a thin shell over the library.

Errors are :class:`~dicomteach.errors.DicomTeachError`: printed on one line
without a traceback, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from dicomteach.errors import DicomTeachError

EXIT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dicomteach", description="Teach medical imaging with real DICOM studies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser(
        "info",
        help="summarise DICOM files, folders or zips",
        description="Read DICOM files, folders (recursively) or zips fully, pixels decoded, "
        "and print a summary per file or series.",
    )
    info.add_argument("paths", nargs="+", metavar="PATH")
    info.add_argument("--json", action="store_true", help="print JSON (one object for one file)")
    info.add_argument("--suv", action="store_true", help="convert PET to SUV body weight")
    for command, text in (
        (
            "anonymize",
            "De-identify DICOM files, a folder or a zip into folder OUT (DICOM PS3.15 Annex E: "
            "Basic Profile with Modified Dates, Clean Descriptors and Retain Safe Private).",
        ),
        (
            "import",
            "De-identify a study and file it into a course's study library OUT "
            "(OUT/<pseudonym>/<shifted date>-<modality>-<study>/...). Needs the course's key.",
        ),
    ):
        deid = sub.add_parser(command, help=text.split(" (")[0].lower(), description=text)
        deid.add_argument("input", metavar="IN", help="a DICOM file, a folder or a zip")
        deid.add_argument("output", metavar="OUT", help="the folder to write into")
        keys = deid.add_mutually_exclusive_group()
        keys.add_argument("--key", help="project key: same key, same UIDs, pseudonyms and dates")
        keys.add_argument("--key-file", metavar="F", help="read the project key from file F")
        deid.add_argument(
            "--dates",
            choices=("shift", "remove"),
            default="shift",
            help="shift dates by a per-patient offset keeping intervals (default), or remove them",
        )
        deid.add_argument(
            "--blank",
            action="append",
            default=[],
            metavar="x,y,w,h",
            help="set this pixel region to 0 in images that may carry burned-in text (repeatable)",
        )
        deid.add_argument(
            "--accept-burned-in",
            action="store_true",
            help="write images that may carry burned-in text as they are (you checked them)",
        )
    sample = sub.add_parser(
        "sample-data",
        help="write the sample teaching library",
        description="Write the sample teaching library into DIR: CT chest with a follow-up, chest "
        "radiographs, MR brain, PET/CT, NM SPECT, a fundus photograph and an ultrasound cine, with "
        "reference segmentations. Deterministic: the same seed writes the same files.",
    )
    sample.add_argument("dest", metavar="DIR")
    sample.add_argument("--seed", type=int, default=0, help="seed of the synthetic anatomy (0)")
    score = sub.add_parser(
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
    args = parser.parse_args(argv)
    # pydicom's warnings and log lines would break the one-line-per-problem rule: what matters
    # reaches the user as a note (Volume.warnings) or as the error itself
    warnings.simplefilter("ignore")
    pydicom_log = logging.getLogger("pydicom")
    pydicom_log.addHandler(logging.NullHandler())
    pydicom_log.propagate = False
    try:
        if args.command == "info":
            return _info(args)
        if args.command in ("anonymize", "import"):
            return _anonymize(args)
        if args.command == "sample-data":
            return _sample_data(args)
        if args.command == "score":
            return _score(args)
    except DicomTeachError as exc:
        print(f"dicomteach: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("dicomteach: interrupted", file=sys.stderr)
        return 130
    return 0


def _progress():
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a comfort, not a requirement
        return None
    bars: dict[str, Any] = {}

    def update(done: int, total: int, what: str) -> None:
        if total < 20:
            return
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(
                total=total, desc=what, unit="file", leave=False, file=sys.stderr
            )
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def _sample_data(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from dicomteach.samples import write_sample_library

    dest = Path(args.dest)
    if dest.exists() and not dest.is_dir():
        raise DicomTeachError(
            "exists and is not a folder; choose a new folder for the library", dest
        )
    started = time.perf_counter()

    def progress(done: int, total: int, what: str) -> None:
        if done < total:
            print(f"[{done + 1}/{total}] {what} …", file=sys.stderr, flush=True)

    try:
        written = write_sample_library(dest, seed=args.seed, progress=progress)
    except OSError as exc:
        raise DicomTeachError(f"cannot write the library ({exc.strerror or exc})", dest) from None
    size = sum(p.stat().st_size for p in written)
    print(
        f"wrote {len(written)} files ({size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f} s "
        f"to {dest}; look at them with: dicomteach info {dest}"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    from dicomteach import io

    records: list[dict[str, Any]] = []
    status = 0
    for path in args.paths:
        single_file = io.is_single_file(path)
        if single_file:
            try:
                vol = io.read_file(path, suv=args.suv)
            except DicomTeachError as exc:
                if len(args.paths) == 1:
                    raise
                print(f"dicomteach: error: {exc}", file=sys.stderr)
                status = EXIT_ERROR
                continue
            records.append(summarise(vol, path))
            continue
        result = io.read(path, suv=args.suv, progress=_progress())
        for exc in result.skipped:
            print(f"dicomteach: skipped {exc}", file=sys.stderr)
        if not result.volumes:
            raise DicomTeachError("no DICOM image found", path)
        for vol in result.volumes:
            records.append(summarise(vol, path))
    if args.json:
        out = (
            records[0]
            if len(records) == 1 and len(args.paths) == 1 and io.is_single_file(args.paths[0])
            else records
        )
        print(json.dumps(out, indent=2))
    else:
        for rec in records:
            print(_text(rec))
    return status


def _read_key(args: argparse.Namespace) -> bytes | None:
    if args.key is not None:
        if not args.key:
            raise DicomTeachError("--key is empty")
        return args.key.encode()
    if args.key_file is not None:
        try:
            with open(args.key_file, "rb") as fh:
                key = fh.read().strip()
        except OSError as exc:
            raise DicomTeachError(
                f"cannot read the key file ({exc.strerror or exc})", args.key_file
            ) from None
        if not key:
            raise DicomTeachError("the key file is empty", args.key_file)
        return key
    return None


def _anonymize(args: argparse.Namespace) -> int:
    from dicomteach.io.deid import Region, anonymize, import_study

    key = _read_key(args)
    try:
        regions = [Region.parse(text) for text in args.blank]
    except ValueError as exc:
        raise DicomTeachError(str(exc).replace("Argument 'blank'", "--blank")) from None
    if key is None and args.command == "import":
        raise DicomTeachError("import needs the course's key: --key KEY or --key-file F")
    if key is None:
        print(
            "dicomteach: note: no --key given: a random key is used, so another run will map "
            "the same patients and studies to other pseudonyms and UIDs (use --key-file F)",
            file=sys.stderr,
        )
    run = import_study if args.command == "import" else anonymize
    result = run(
        args.input,
        args.output,
        key=key,
        dates=args.dates,
        blank=regions,
        accept_burned_in=args.accept_burned_in,
        progress=_progress(),
    )
    for exc in result.skipped:
        print(f"dicomteach: skipped {exc}", file=sys.stderr)
    if result.recompressed:
        print(
            f"dicomteach: note: {len(result.recompressed)} blanked file(s) were compressed; "
            "written uncompressed (Explicit VR Little Endian)",
            file=sys.stderr,
        )
    print(
        f"{len(result.written)} file(s) written to {args.output}, {len(result.skipped)} skipped; "
        f"{len(result.studies)} stud{'y' if len(result.studies) == 1 else 'ies'}, "
        f"{len(result.patients)} patient(s)"
        + (f"; {len(result.blanked)} blanked" if result.blanked else "")
    )
    if not result.written:
        raise DicomTeachError("no DICOM file found to de-identify", args.input)
    return 0


#: The keys ``dicomteach score --json`` prints for one structure, in this order.
SCORE_KEYS = ("dice", "jaccard", "hd_mm", "hd95_mm", "msd_mm", "surface_dice", "volume_diff_pct")


def _score(args: argparse.Namespace) -> int:
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


def summarise(vol: Any, path: str) -> dict[str, Any]:
    """The facts ``dicomteach info`` prints for one volume."""
    from pydicom.uid import UID

    from dicomteach.imaging import apply_modality_lut

    low, high = np.inf, -np.inf
    if vol.is_color:
        low, high = float(vol.pixels.min()), float(vol.pixels.max())
    else:
        for k in range(vol.n_frames):  # frame by frame: memory stays at one frame of floats
            slope = vol.rescale_slope[k if len(vol.rescale_slope) > 1 else 0]
            intercept = vol.rescale_intercept[k if len(vol.rescale_intercept) > 1 else 0]
            values = apply_modality_lut(vol.pixels[k], slope, intercept, vol.modality_lut)
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    ts = vol.transfer_syntax
    files = sorted({name for name, _ in vol.sources}) or [path]
    # one file: that file; a series: the folder its files share (what a user would open)
    where = files[0] if len(files) == 1 else os.path.commonpath(files)
    return {
        "path": where,
        "series_description": vol.description,
        "modality": vol.modality,
        "manufacturer": vol.manufacturer,
        "rows": vol.rows,
        "columns": vol.columns,
        "frames": vol.n_frames,
        "frame_axis": vol.frame_axis.value,
        "files": len({s[0] for s in vol.sources}),
        "spacing_mm": [round(float(s), 6) for s in vol.spacing],
        "transfer_syntax": UID(ts).name if ts else "",
        "transfer_syntax_uid": ts,
        "photometric": vol.photometric,
        "value_range": [_number(low), _number(high)],
        "units": vol.units,
        "windows": [
            {
                "center": w.center,
                "width": w.width,
                "explanation": w.explanation,
                "function": w.function,
            }
            for w in vol.windows
        ],
        "warnings": list(vol.warnings),
    }


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 6)


def _text(rec: dict[str, Any]) -> str:
    sp = rec["spacing_mm"]
    if rec["frame_axis"] == "slice":
        spacing = f"{sp[1]:g} × {sp[2]:g} mm, slices every {sp[0]:g} mm"
    else:
        spacing = f"{sp[1]:g} × {sp[2]:g} mm"
    frames = rec["frames"]
    kind = {"slice": "slices", "time": "frames (cine)", "frames": "frames", "single": "image"}[
        rec["frame_axis"]
    ]
    size = f"{rec['columns']} × {rec['rows']}" + (f", {frames} {kind}" if frames > 1 else "")
    units = f" {rec['units']}" if rec["units"] else ""
    lines = [
        rec["path"] + (f"  [{rec['series_description']}]" if rec["series_description"] else ""),
        f"  modality         {rec['modality'] or '?'}  ({rec['manufacturer'] or 'manufacturer unknown'})",
        f"  size             {size}  ({rec['files']} file{'s' if rec['files'] != 1 else ''})",
        f"  spacing          {spacing}",
        f"  transfer syntax  {rec['transfer_syntax']}",
        f"  photometric      {rec['photometric']}",
        f"  values           {rec['value_range'][0]} … {rec['value_range'][1]}{units}",
    ]
    if rec["windows"]:
        ws = ", ".join(
            f"{w['center']:g}/{w['width']:g}"
            + (f" ({w['explanation']})" if w["explanation"] else "")
            for w in rec["windows"]
        )
        lines.append(f"  header windows   {ws}  (center/width)")
    for w in rec["warnings"]:
        lines.append(f"  note             {w}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
