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

#: The modules of :mod:`dicomteach.commands`, in the order ``dicomteach --help`` lists them.
#: Each owns its parser (``add_subparser``) and its ``run``; they import nothing heavy until
#: their command runs, so building the whole parser stays quick.
COMMANDS = ("info", "deid", "samples", "score", "grade_class", "author", "app", "hub")


def build_parser() -> argparse.ArgumentParser:
    """The ``dicomteach`` parser with every command's subparser.

    >>> build_parser().parse_args(["sample-data", "library"]).dest
    'library'
    """
    parser = argparse.ArgumentParser(
        prog="dicomteach", description="Teach medical imaging with real DICOM studies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"dicomteach.commands.{name}").add_subparser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # pydicom's warnings and log lines would break the one-line-per-problem rule: what matters
    # reaches the user as a note (Volume.warnings) or as the error itself. Only while the
    # command runs: called from a notebook (lesson 7, for instructors), the kernel keeps its own settings.
    pydicom_log = logging.getLogger("pydicom")
    quiet = logging.NullHandler()
    propagate = pydicom_log.propagate
    pydicom_log.addHandler(quiet)
    pydicom_log.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return args.run(args)
    except DicomTeachError as exc:
        print(f"dicomteach: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("dicomteach: interrupted", file=sys.stderr)
        return 130
    finally:
        pydicom_log.removeHandler(quiet)
        pydicom_log.propagate = propagate


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
