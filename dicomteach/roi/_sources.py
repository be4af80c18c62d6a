"""What a SEG or an RTSTRUCT references: the instance (and frame) behind each frame of a Volume."""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from dicomteach.errors import DicomTeachError
from dicomteach.io.reader import read_object
from dicomteach.io.volume import Volume
from dicomteach.roi.errors import RoiError


@dataclass(frozen=True)
class FrameReference:
    """The instance one frame of a volume comes from (Referenced Image, PS3.3 10.3)."""

    sop_class_uid: str
    sop_instance_uid: str
    frame_number: int | None
    """1-based frame of a multi-frame instance; None for a single-frame instance."""


def read_header(path: str | os.PathLike[str]) -> Dataset:
    """The header of a source image (its pixels are not read), opened as :mod:`dicomteach.io`
    opens every file."""
    try:
        return read_object(path).ds
    except DicomTeachError as exc:
        raise RoiError(f"cannot read the source image header ({exc.problem})", path) from None


def volume_headers(volume: Volume) -> dict[str, Dataset]:
    """The header of each file behind ``volume``, by the name ``Volume.sources`` gives."""
    if not volume.sources:
        raise RoiError("the volume does not say which files it was read from (Volume.sources)")
    return {name: read_header(name) for name in dict.fromkeys(name for name, _ in volume.sources)}


def frame_references(
    volume: Volume, headers: dict[str, Dataset] | None = None
) -> list[FrameReference]:
    """For each frame of ``volume``: the SOP instance and frame number it was read from."""
    headers = headers if headers is not None else volume_headers(volume)
    out = []
    for name, index in volume.sources:
        ds = headers[name]
        multi = int(ds.get("NumberOfFrames", 1) or 1) > 1
        out.append(
            FrameReference(
                str(ds.SOPClassUID), str(ds.SOPInstanceUID), index + 1 if multi else None
            )
        )
    return out


_REMEMBERED: dict[int, tuple[weakref.ref, tuple, list[FrameReference]]] = {}


def remembered_frame_references(volume: Volume) -> list[FrameReference]:
    """:func:`frame_references` of ``volume``, read once for as long as the Volume object lives.

    Reading a series' headers again costs about a millisecond a file, and a
    grader may read several SEGs on one image (one per expert).
    """
    key = id(volume)
    found = _REMEMBERED.get(key)
    sources = tuple(volume.sources)
    if found is not None and found[0]() is volume and found[1] == sources:
        return found[2]
    references = frame_references(volume)
    forget = weakref.ref(volume, lambda _dead, key=key: _REMEMBERED.pop(key, None))
    _REMEMBERED[key] = (forget, sources, references)
    return references


def source_datasets(source: Volume | Sequence[Dataset | str | os.PathLike[str]]) -> list[Dataset]:
    """Source image datasets from a Volume (its files, in frame order) or datasets/paths."""
    if isinstance(source, Volume):
        headers = volume_headers(source)
        return list(headers.values())
    return [ds if isinstance(ds, Dataset) else read_header(ds) for ds in source]
