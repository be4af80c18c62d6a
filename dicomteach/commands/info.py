"""``dicomteach info``: a summary per file or series."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from dicomteach.commands import EXIT_ERROR, terminal_progress
from dicomteach.errors import DicomTeachError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach info`` to the command line."""
    info = subparsers.add_parser(
        "info",
        help="summarise DICOM files, folders or zips",
        description="Read DICOM files, folders (recursively) or zips fully, pixels decoded, "
        "and print a summary per file or series.",
    )
    info.add_argument("paths", nargs="+", metavar="PATH")
    info.add_argument("--json", action="store_true", help="print JSON (one object for one file)")
    info.add_argument("--suv", action="store_true", help="convert PET to SUV body weight")
    info.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
        result = io.read(path, suv=args.suv, progress=terminal_progress())
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
    import numpy as np
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
        "segment": _segment(vol),
        "warnings": list(vol.warnings),
    }


def _segment(vol: Any) -> str:
    """A SEG volume is one segment of its file: "2 Oedema", so two of one file read apart."""
    if vol.modality != "SEG" or not vol.sources:
        return ""
    header = vol.header
    try:
        frame = header.PerFrameFunctionalGroupsSequence[vol.sources[0][1]]
        number = int(frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return ""
    labels = {
        int(item.get("SegmentNumber", 0)): str(item.get("SegmentLabel", "")).strip()
        for item in header.get("SegmentSequence", [])
    }
    return f"{number} {labels.get(number, '')}".strip()


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
    segment = f"  segment {rec['segment']}" if rec.get("segment") else ""
    lines = [
        rec["path"]
        + (f"  [{rec['series_description']}]" if rec["series_description"] else "")
        + segment,
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
