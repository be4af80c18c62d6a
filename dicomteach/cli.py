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
    first_source = vol.sources[0][0] if vol.sources else path
    return {
        "path": first_source if os.path.isfile(path) else path,
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
