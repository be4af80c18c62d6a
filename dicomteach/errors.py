"""Errors that name the file and the problem in one line.

Every failure dicomteach reports to a user is a :class:`DicomTeachError`. The
message is one line: the file first, then what is wrong with it, then, where
there is one, what to do next. The command line prints it without a traceback
and exits with status 2.
"""

from __future__ import annotations

import os


class DicomTeachError(Exception):
    """Base of every error dicomteach reports to a user."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None):
        self.path = os.fspath(path) if path is not None else None
        self.problem = " ".join(str(message).split())  # always one line
        text = f"{self.path}: {self.problem}" if self.path else self.problem
        super().__init__(text)


class NotDicomError(DicomTeachError):
    """The bytes are not a DICOM data set (empty, an image of another format, noise)."""


class TruncatedError(DicomTeachError):
    """The file ends before the data set or its pixel data does."""


class PixelDataError(DicomTeachError):
    """Pixel data is missing, of the wrong length, or cannot be decoded."""


class MissingPixelDataError(PixelDataError):
    """The data set carries no image (no Pixel Data element)."""


class InvalidHeaderError(DicomTeachError):
    """A header value makes the image impossible to interpret (e.g. BitsAllocated 7)."""


class TooLargeError(DicomTeachError):
    """The input claims more memory than dicomteach is allowed to spend on it."""


class HostileInputError(DicomTeachError):
    """The input is built to exhaust the reader (deep nesting, inflate bombs, paths outside)."""


class UnsupportedError(DicomTeachError):
    """Valid DICOM that dicomteach cannot turn into an image (e.g. an unknown codec)."""


class SeriesError(DicomTeachError):
    """Files that cannot be assembled into the series asked for."""
