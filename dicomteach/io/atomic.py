"""Atomic file writing: a temporary file in the same folder, fsync, rename.

An interrupted write leaves the previous file (or none), never half a file
(docs/decisions.md, decision 3). Every writer in dicomteach goes through here: sample
data, de-identified output, SEG and RTSTRUCT, CT series, learners' answers and feedback.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pydicom.dataset import Dataset


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it into place.

    The file gets the permissions a plain ``open(path, "w")`` would give
    (0666 less the umask), not the 0600 of a temporary file.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "answer.json"
    >>> write_atomically(target, lambda fh: fh.write(b'{"x": 1}')).read_text()
    '{"x": 1}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dicomteach-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself survive a power cut
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def save_dataset_atomically(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a DICOM data set as a Part 10 file, atomically."""
    return write_atomically(path, lambda fh: ds.save_as(fh, enforce_file_format=True))
