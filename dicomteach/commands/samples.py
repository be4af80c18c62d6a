"""``dicomteach sample-data``: write the teaching library."""

from __future__ import annotations

import argparse
import sys

from dicomteach.errors import DicomTeachError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach sample-data`` to the command line."""
    sample = subparsers.add_parser(
        "sample-data",
        help="write the sample teaching library",
        description="Write the sample teaching library into DIR: CT chest with a follow-up, a CT "
        "teaching file of lung findings, chest radiographs, MR brain, PET/CT, NM SPECT, a fundus photograph and an ultrasound cine, with "
        "reference segmentations. Deterministic: the same seed writes the same files.",
    )
    sample.add_argument("dest", metavar="DIR")
    sample.add_argument("--seed", type=int, default=0, help="seed of the synthetic anatomy (0)")
    sample.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
