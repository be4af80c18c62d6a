"""The ``dicomteach`` command: a thin shell over the library.

Errors are :class:`~dicomteach.errors.DicomTeachError`: printed on one line
without a traceback, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from dicomteach.commands import EXIT_ERROR
from dicomteach.errors import DicomTeachError


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
        deid = sub.add_parser(
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
    app = sub.add_parser(
        "app",
        help="serve a notebook as a Voilà app (no code shown, offline)",
        description="Serve NOTEBOOK as a Voilà app: its outputs and widgets without its code, "
        "for people who never touch code. Uses dicomteach's Voilà template, which asks nothing "
        "of the network (no CDN). Stop with ctrl-c.",
    )
    app.add_argument("notebook", metavar="NOTEBOOK")
    app.add_argument("--port", type=int, default=8866, help="port to listen on (8866)")
    app.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)"
    )
    args = parser.parse_args(argv)
    # pydicom's warnings and log lines would break the one-line-per-problem rule: what matters
    # reaches the user as a note (Volume.warnings) or as the error itself
    warnings.simplefilter("ignore")
    pydicom_log = logging.getLogger("pydicom")
    pydicom_log.addHandler(logging.NullHandler())
    pydicom_log.propagate = False
    try:
        # each command's module is imported only when it runs: start-up stays quick
        module = {
            "info": "info",
            "anonymize": "deid",
            "import": "deid",
            "sample-data": "samples",
            "score": "score",
            "app": "app",
        }[args.command]
        return importlib.import_module(f"dicomteach.commands.{module}").run(args)
    except DicomTeachError as exc:
        print(f"dicomteach: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("dicomteach: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
