"""A :class:`~dicomteach.io.volume.Volume` kept as numpy arrays in a folder, read back at once.

Grading a class reads the same study once per learner, each time in a fresh
kernel, and decoding it (its headers, its compressed frames) costs more than
grading an answer. :func:`save_volume` writes a Volume read once;
:func:`load_volume` gives it back with its pixels memory-mapped, so that only
the slices looked at are read from disk. This module owns the format and its
version (:data:`STORED_VOLUME_VERSION`).

Layout (version 1), in one folder
---------------------------------
==============  ===================================================================
``pixels.npy``  the stored values, as ``Volume.pixels`` holds them
``arrays.npz``  ``direction``, ``rescale_slope``, ``rescale_intercept``, ``positions``
                and the LUT tables' data (``modality_lut``, ``voi_lut_<i>``)
``volume.json`` ``version``, the other fields (windows, sources, warnings, the LUT
                tables' descriptors…) and the header in the DICOM JSON model
                (PS3.18 F.2)
==============  ===================================================================

Files are written by the process that read the DICOM files (an instructor's)
and read back without pickles; a folder of another version, or one that does
not hold a whole Volume, is refused with a :class:`StoredVolumeError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.io.atomic import write_atomically
from dicomteach.io.volume import FrameAxis, LutTable, Volume, Window

__all__ = ["STORED_VOLUME_VERSION", "StoredVolumeError", "load_volume", "save_volume"]

STORED_VOLUME_VERSION = 1
"""Version of the folder layout written; other versions are refused, never misread."""

_ARRAYS = ("direction", "rescale_slope", "rescale_intercept", "positions")
_PLAIN = (
    "spacing",
    "origin",
    "modality",
    "manufacturer",
    "photometric",
    "units",
    "frame_time_ms",
    "warnings",
    "geometry_known",
    "bits_stored",
    "pixel_representation",
    "transfer_syntax",
)
_OTHERS = ("pixels", "header", "frame_axis", "windows", "sources", "modality_lut", "voi_luts")
"""Written and read field by field (every Volume field is in one of the three lists)."""


class StoredVolumeError(DicomTeachError):
    """A folder that does not hold a Volume this version of dicomteach wrote."""


def _lut(table: LutTable) -> dict[str, object]:
    return {
        "first_mapped": table.first_mapped,
        "bits": table.bits,
        "explanation": table.explanation,
        "lut_type": table.lut_type,
    }


def save_volume(volume: Volume, folder: str | os.PathLike[str]) -> Path:
    """Write ``volume`` into ``folder`` (made if missing); each file atomically.

    Examples
    --------
    >>> import tempfile
    >>> from pydicom.data import get_testdata_file
    >>> from dicomteach import io
    >>> ct = io.load(get_testdata_file("CT_small.dcm", download=False))
    >>> folder = save_volume(ct, Path(tempfile.mkdtemp()) / "ct")
    >>> again = load_volume(folder)
    >>> bool((again.pixels == ct.pixels).all()), again.spacing == ct.spacing, again.series_uid == ct.series_uid
    (True, True, True)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(volume, name) for name in _ARRAYS if getattr(volume, name) is not None}
    if volume.modality_lut is not None:
        arrays["modality_lut"] = volume.modality_lut.data
    for i, table in enumerate(volume.voi_luts):
        arrays[f"voi_lut_{i}"] = table.data
    meta = {
        "version": STORED_VOLUME_VERSION,
        **{name: getattr(volume, name) for name in _PLAIN},
        "frame_axis": str(volume.frame_axis),
        "windows": [[w.center, w.width, w.explanation, w.function] for w in volume.windows],
        "sources": [[name, index] for name, index in volume.sources],
        "modality_lut": None if volume.modality_lut is None else _lut(volume.modality_lut),
        "voi_luts": [_lut(t) for t in volume.voi_luts],
        "header": volume.header.to_json_dict(),
    }
    text = json.dumps(meta).encode("utf-8")  # first: a header JSON cannot hold stops here

    def write_npy(fh) -> None:
        np.lib.format.write_array(fh, np.ascontiguousarray(volume.pixels), allow_pickle=False)

    write_atomically(folder / "pixels.npy", write_npy)
    write_atomically(folder / "arrays.npz", lambda fh: np.savez(fh, **arrays))
    write_atomically(folder / "volume.json", lambda fh: fh.write(text))
    return folder


def load_volume(folder: str | os.PathLike[str], *, mmap: bool = True) -> Volume:
    """The Volume :func:`save_volume` wrote in ``folder``; pixels memory-mapped and
    read-only when ``mmap``. Raises :class:`StoredVolumeError` naming the folder."""
    from pydicom.dataset import Dataset

    folder = Path(folder)
    try:
        meta = json.loads((folder / "volume.json").read_text(encoding="utf-8"))
        if meta.get("version") != STORED_VOLUME_VERSION:
            raise StoredVolumeError(
                f"holds a stored volume of version {meta.get('version')!r}, not "
                f"{STORED_VOLUME_VERSION}",
                folder,
            )
        pixels = np.load(folder / "pixels.npy", mmap_mode="r" if mmap else None)
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}

        def table(descriptor: dict, data: np.ndarray) -> LutTable:
            return LutTable(data=data, **descriptor)

        volume = Volume(
            pixels=pixels,
            **{name: meta[name] for name in _PLAIN},
            **{name: arrays.get(name) for name in _ARRAYS if name in arrays},
            frame_axis=FrameAxis(meta["frame_axis"]),
            windows=tuple(Window(*w) for w in meta["windows"]),
            sources=tuple((name, int(index)) for name, index in meta["sources"]),
            modality_lut=None
            if meta["modality_lut"] is None
            else table(meta["modality_lut"], arrays["modality_lut"]),
            voi_luts=tuple(
                table(d, arrays[f"voi_lut_{i}"]) for i, d in enumerate(meta["voi_luts"])
            ),
            header=Dataset.from_json(meta["header"]),
        )
    except StoredVolumeError:
        raise
    except Exception as exc:  # missing or damaged files: one line, never a traceback
        raise StoredVolumeError(
            f"does not hold a whole stored volume ({type(exc).__name__}: {exc})", folder
        ) from None
    volume.spacing = tuple(float(s) for s in volume.spacing)
    volume.origin = tuple(float(s) for s in volume.origin)
    if pixels.shape[0] != len(volume.sources) and volume.sources:
        raise StoredVolumeError(
            f"holds {pixels.shape[0]} frames but names {len(volume.sources)} sources", folder
        )
    return volume
