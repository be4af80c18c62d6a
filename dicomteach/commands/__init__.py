"""One module per ``dicomteach`` command, owning its parser and its run.

Each module has ``add_subparser(subparsers)``, which adds its command(s) to
the ``dicomteach`` parser and sets ``run`` as their default, and
``run(args) -> exit status``. :mod:`dicomteach.cli` only collects them. A
module imports nothing heavy (numpy, pydicom, the library) at its top: the
parser of every command is built on each start, ``dicomteach --help`` included.
"""

from __future__ import annotations

import sys
from typing import Any

#: Exit status of every failure reported as a DicomTeachError (docs/decisions.md, decision 7).
EXIT_ERROR = 2


def terminal_progress():
    """A ``progress(done, total, what)`` callback drawing tqdm bars on a terminal, else None."""
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
