"""DICOM bytes → :class:`Volume`: the only layer that parses DICOM.

>>> from dicomteach import io
>>> from pydicom.data import get_testdata_file
>>> vol = io.load(get_testdata_file("MR_small.dcm", download=False))
>>> vol.modality, vol.spacing
('MR', (0.8, 0.3125, 0.3125))
"""

from __future__ import annotations

from dicomteach.io.reader import (
    ReadResult,
    build_volume,
    is_single_file,
    iter_files,
    load,
    read,
    read_file,
)
from dicomteach.io.safety import DEFAULT_LIMITS, Limits
from dicomteach.io.volume import FrameAxis, LutTable, Series, Study, Volume, Window

__all__ = [
    "DEFAULT_LIMITS",
    "FrameAxis",
    "Limits",
    "LutTable",
    "ReadResult",
    "Series",
    "Study",
    "Volume",
    "Window",
    "build_volume",
    "is_single_file",
    "iter_files",
    "load",
    "read",
    "read_file",
]


def __getattr__(name: str) -> object:
    # de-identification (pydicom's whole dictionary of actions) loads when first asked for:
    # reading a study, or grading one, never needs it
    if name in {"anonymize", "import_study"}:
        from dicomteach.io import deid

        return getattr(deid, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
