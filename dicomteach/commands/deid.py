"""``dicomteach anonymize`` and ``dicomteach import``."""

from __future__ import annotations

import argparse
import sys

from dicomteach.commands import terminal_progress
from dicomteach.errors import DicomTeachError


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


def run(args: argparse.Namespace) -> int:
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
        progress=terminal_progress(),
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
