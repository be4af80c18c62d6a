"""Errors of the ``roi`` codecs: one line naming the file and the problem (docs/decisions.md, decision 7)."""

from __future__ import annotations

from dicomteach.errors import DicomTeachError

__all__ = ["AnswerError", "GridMismatchError", "RoiError"]


class RoiError(DicomTeachError):
    """A SEG, RTSTRUCT or mask file that cannot be turned into masks on an image grid."""


class GridMismatchError(RoiError):
    """Masks, contours or segmentations that do not lie on the grid they are compared with."""


class AnswerError(DicomTeachError):
    """A learner's answer file (clicks, labels) that is not the JSON schema dicomteach writes."""
