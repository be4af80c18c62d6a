"""``dicomteach anonymize`` and ``dicomteach import``."""

from __future__ import annotations

import argparse
import sys

from dicomteach.commands import terminal_progress
from dicomteach.errors import DicomTeachError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach anonymize`` and ``dicomteach import`` to the command line."""
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
        deid = subparsers.add_parser(
            command, help=text[0].lower() + text.split(" (")[0][1:], description=text
        )
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
        deid.set_defaults(run=run)


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
