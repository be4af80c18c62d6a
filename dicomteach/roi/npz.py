"""The delineation ``.npz``: the Delineator's answer file, read by grading and ``dicomteach score``.

One module owns the format: :func:`save_delineation` writes it (atomically,
after every stroke), :func:`load_delineation` reads it, :data:`DELINEATION_VERSION`
numbers its layout, and :meth:`DelineationAnswer.check_against` says whether
it belongs to an image. :func:`read_npz` gives the same file, or any ``.npz``
holding ``mask`` and ``spacing`` (as ``numpy.savez`` writes it), as
:class:`~dicomteach.roi.Structures`.

Layout (version 1)
------------------
An ordinary ``.npz`` (``numpy.load`` reads it) whose members are deflated at
level 1. Only ``mask`` and ``spacing`` are required on reading.

==============  ==================================================================
``mask``        uint8 labels in the image's shape: 0 is background, ``i`` is
                structure ``names[i - 1]`` (read: any bool or integer 2D/3D array)
``spacing``     mm per axis of ``mask`` (float64)
``names``       the structures' names (unicode)
``colors``      ``n × 3`` uint8 RGB, one row per structure
``series_uid``  Series Instance UID of the image drawn on (0-d unicode)
``shape``       ``mask.shape`` (int64)
``origin``      patient position (LPS, mm) of voxel ``[0, 0, 0]`` (float64)
``version``     :data:`DELINEATION_VERSION`
``revision``    number of changes so far
``drawn``       rows ``(structure, axis, slice)``: the slices the learner drew
                on, which interpolation starts from (int32)
``first_mask``  labels as ``mask``, kept when the learner asked to see a second
                reader's outline (an AI's): the outline before it (optional;
                ``mask`` is then the outline as revised)
==============  ==================================================================

Reading untrusted files
-----------------------
A learner's file enters grading here, so nothing in it is trusted. Before any
data are inflated: the zip directory's size is read from its end record and
refused past :data:`MAX_MEMBERS` entries; each member's ``.npy`` header
(dtype, shape) is read and checked: no object arrays (so no pickles), only
stored or deflated members, ``mask`` on the grid it is compared with (or at
most :data:`MAX_MASK_BYTES` when no grid is known) and every other member
small. Data are then inflated in chunks up to the size declared, never
further. Every refusal is a one-line :class:`~dicomteach.roi.RoiError`
phrased to follow "the file …".
"""

from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from dicomteach.io.atomic import write_atomically
from dicomteach.io.safety import DEFAULT_LIMITS, MiB
from dicomteach.io.volume import Volume
from dicomteach.roi.errors import GridMismatchError, RoiError
from dicomteach.roi.grid import same_spacing
from dicomteach.roi.seg import Structures

__all__ = [
    "DELINEATION_VERSION",
    "MAX_MASK_BYTES",
    "MAX_MEMBERS",
    "DelineationAnswer",
    "LabelMasks",
    "label_values",
    "load_delineation",
    "read_npz",
    "save_delineation",
]

DELINEATION_VERSION = 1
"""Version of the ``.npz`` layout written; files of a later version are refused, not misread."""

MAX_MASK_BYTES = DEFAULT_LIMITS.max_pixel_bytes
"""Largest ``mask`` read when no grid is given to compare it with: the limit
:mod:`dicomteach.io` puts on one file's decoded image."""

MAX_MEMBERS = 256
"""Most files the zip directory may list (a delineation holds ten)."""

MAX_MEMBER_BYTES = 1 * MiB
"""Largest member other than ``mask`` and ``drawn`` (names, colours, spacing…)."""

_DIRECTORY_BYTES = 1 * MiB
"""Largest zip directory parsed: :data:`MAX_MEMBERS` entries with long names fit many times."""

_END_RECORD = struct.Struct("<4s4H2LH")
"""The zip end of central directory record (APPNOTE.TXT 4.3.16)."""

_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
"""How members may be compressed: ``numpy.savez`` stores, ``savez_compressed`` and
dicomteach deflate. Other methods inflate without a bound on each step in zipfile."""

_ROLES = ("mask", "spacing", "names", "colors", "series_uid", "shape", "origin")
_ROLES += ("version", "revision", "drawn", "first_mask")


# ------------------------------------------------------------------ the answer


@dataclass
class DelineationAnswer:
    """What a delineation ``.npz`` holds (module docstring)."""

    mask: np.ndarray
    """Labels, 2D or 3D: bool, or integers (0 background, ``i`` structure ``i``)."""
    spacing: tuple[float, ...]
    """Millimetres per axis of ``mask``."""
    names: tuple[str, ...] = ()
    colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    """``n × 3`` uint8, the colour of structure ``i`` in row ``i - 1``."""
    series_uid: str = ""
    origin: tuple[float, ...] | None = None
    revision: int = 0
    drawn: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    """Rows ``(structure, axis, slice)``."""
    version: int = DELINEATION_VERSION
    path: str = ""
    first_mask: np.ndarray | None = None
    """The labels as they were when a second reader's outline was shown (None: not shown);
    ``mask`` is then the outline as revised."""
    """The file it was read from ('' when made in memory)."""

    def check_against(self, volume: Volume) -> None:
        """Raise unless this answer was drawn on ``volume``: its grid and series.

        Raises
        ------
        GridMismatchError
            Another shape, spacing (beyond
            :data:`~dicomteach.roi.grid.GRID_TOLERANCE_MM`) or series.
        RoiError
            A mask that is not labels 0..255 (what a Delineator draws).

        Examples
        --------
        >>> from dicomteach.io.volume import Volume
        >>> image = Volume(np.zeros((2, 3, 4), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
        >>> DelineationAnswer(np.zeros((2, 3, 4), np.uint8), (2.0, 1.0, 1.0)).check_against(image)
        >>> DelineationAnswer(np.zeros((2, 3, 4), np.uint8), (3.0, 1.0, 1.0)).check_against(image)
        Traceback (most recent call last):
        ...
        dicomteach.roi.errors.GridMismatchError: was drawn on [3.0, 1.0, 1.0] mm voxels, this image has [2.0, 1.0, 1.0] mm
        """
        mask, path = self.mask, self.path or None
        if mask.dtype.kind not in "biu" or (
            mask.size and (int(mask.min()) < 0 or int(mask.max()) > 255)
        ):
            raise RoiError(f"holds a {mask.dtype} 'mask', not labels 0..255", path)
        shape = tuple(volume.pixels.shape[:3])
        if tuple(mask.shape) != shape:
            raise GridMismatchError(
                f"was drawn on an image of shape {_dims(mask.shape)}, this one is {_dims(shape)}",
                path,
            )
        if not same_spacing(self.spacing, volume.spacing):
            raise GridMismatchError(
                f"was drawn on {[float(s) for s in self.spacing]} mm voxels, this image has "
                f"{[float(s) for s in volume.spacing]} mm",
                path,
            )
        ours = volume.series_uid
        if self.series_uid and ours and self.series_uid != ours:
            raise GridMismatchError(
                f"belongs to series {self.series_uid}, not to this series {ours}", path
            )


def save_delineation(answer: DelineationAnswer, path: str | os.PathLike[str]) -> Path:
    """Write ``answer`` atomically: an interrupted save leaves the previous file.

    Members are deflated at level 1: a 512×512×200 label map saves in half the
    time of ``numpy.savez_compressed`` (0.1 s), which matters since the
    Delineator saves after every stroke; files stay a few hundred KiB.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "delineation.npz"
    >>> labels = np.zeros((2, 4, 4), np.uint8); labels[1, 1:3, 1:3] = 1
    >>> _ = save_delineation(DelineationAnswer(labels, (2.0, 0.5, 0.5), ("Tumour",)), target)
    >>> found = load_delineation(target)
    >>> found.names, found.spacing, int(found.mask.sum())
    (('Tumour',), (2.0, 0.5, 0.5), 4)
    >>> np.load(target)["mask"].shape  # still an ordinary .npz
    (2, 4, 4)
    """
    mask = np.asarray(answer.mask)
    arrays = {
        "mask": mask,
        "spacing": np.array(answer.spacing, dtype=float),
        "names": np.array(answer.names, dtype=str),
        "colors": np.asarray(answer.colors, dtype=np.uint8).reshape(-1, 3),
        "series_uid": np.array(answer.series_uid),
        "shape": np.array(mask.shape, dtype=np.int64),
    }
    if answer.origin is not None:
        arrays["origin"] = np.array(answer.origin, dtype=float)
    arrays["version"] = np.array(DELINEATION_VERSION)
    arrays["revision"] = np.array(int(answer.revision))
    arrays["drawn"] = np.asarray(answer.drawn, dtype=np.int32).reshape(-1, 3)
    if answer.first_mask is not None:
        arrays["first_mask"] = np.asarray(answer.first_mask)
    return write_atomically(path, lambda fh: _write_members(fh, arrays))


def _write_members(fh: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


# ------------------------------------------------------------------ reading


def load_delineation(
    path: str | os.PathLike[str], *, shape: Sequence[int] | None = None
) -> DelineationAnswer:
    """Read a delineation ``.npz``, every member checked before its data are read.

    Parameters
    ----------
    path : path
    shape : sequence of int, optional
        The grid the answer is compared with (the reference's, the image's).
        A ``mask`` declared in another shape is refused before it is read;
        without it, a ``mask`` over :data:`MAX_MASK_BYTES` is.

    Raises
    ------
    GridMismatchError
        ``mask`` is declared in another shape than ``shape``.
    RoiError
        Anything else: not a zip, damaged, a pickle, too large, ``mask`` or
        ``spacing`` missing or malformed, a later version.

    Examples
    --------
    See :func:`save_delineation`.
    """
    return _read(path, shape, _ROLES)


def read_npz(path: str | os.PathLike[str], *, shape: Sequence[int] | None = None) -> Structures:
    """The masks of a ``.npz`` holding ``mask`` (2D/3D; bool, 0/1, or an integer label map)
    and ``spacing``, and optionally ``names`` (text, the name of label 1, 2, …).

    Read as :func:`load_delineation` reads (``shape`` as there). A label map
    gives one mask per label present, made when asked for
    (:class:`LabelMasks`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "mask.npz"
    >>> np.savez(target, mask=np.eye(4, dtype=bool), spacing=np.array([0.5, 0.5]))
    >>> found = read_npz(target)
    >>> found.shape, found.spacing, found.names
    ((4, 4), (0.5, 0.5), {1: 'mask'})
    >>> read_npz(target, shape=(5, 5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dicomteach.roi.errors.GridMismatchError: ...mask.npz: was drawn on an image of shape 4×4, not on the 5×5 grid it is compared with
    """
    answer = _read(path, shape, ("mask", "spacing", "names", "version"))
    mask, name = answer.mask, answer.path
    masks: Mapping[int, np.ndarray]
    if mask.dtype.kind == "b":
        masks, names = {1: mask}, {1: "mask"}
    elif not mask.size or (int(mask.min()) >= 0 and int(mask.max()) <= 1):
        masks, names = {1: mask.astype(bool)}, {1: "mask"}
    elif int(mask.min()) < 0:
        raise RoiError("holds negative labels in its 'mask'", name)
    else:
        numbers = [n for n in label_values(mask) if n != 0]
        masks = LabelMasks(mask, numbers)
        names = {n: f"label {n}" for n in numbers}
    given = answer.names
    names = {n: given[n - 1] if n <= len(given) else names[n] for n in names}
    return Structures(masks, names, answer.spacing, name)


@contextmanager
def _archive(name: str) -> Iterator[zipfile.ZipFile]:
    """The zip archive, its directory's size checked before zipfile parses it."""
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            raise RoiError("is not a regular file (a pipe, device or folder)", name)
        fh = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RoiError(f"cannot be read ({exc.strerror or exc})", name) from None
    with fh:
        if info.st_size == 0:
            raise RoiError("cannot be read as a .npz: the file is empty (0 bytes)", name)
        _check_directory(fh, info.st_size, name)
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise RoiError(f"cannot be read as a .npz ({_one_line(exc)})", name) from None
        with archive:
            yield archive


def _check_directory(fh: BinaryIO, size: int, name: str) -> None:
    """Refuse a zip directory of more than :data:`MAX_MEMBERS` entries, from its end record alone."""
    tail = min(size, _END_RECORD.size + 0xFFFF)  # the record, then a comment of 64 KiB at most
    fh.seek(size - tail)
    data = fh.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < _END_RECORD.size:
        raise RoiError(
            "cannot be read as a .npz: no zip directory at its end (not a .npz, or cut short)",
            name,
        )
    _sig, _disk, _start, _here, entries, directory, _offset, _comment = _END_RECORD.unpack_from(
        data, at
    )
    # 0xFFFF entries means a zip64 directory: more than a delineation can hold anyway
    if entries > MAX_MEMBERS or directory > _DIRECTORY_BYTES:
        raise RoiError(
            f"lists {entries} files in a {_size(directory)} zip directory; a delineation holds "
            f"at most {MAX_MEMBERS}: refusing it",
            name,
        )


@dataclass(frozen=True)
class _Member:
    """One ``.npy`` member, as its header declares it."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: never overflows


def _members(archive: zipfile.ZipFile, name: str) -> dict[str, _Member]:
    """Every ``.npy`` member's declared dtype and shape, read from its header only."""
    out: dict[str, _Member] = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue  # numpy.load would give raw bytes; a delineation has none
        key = info.filename[:-4]
        if info.compress_type not in _METHODS:
            raise RoiError(
                f"cannot be read as a .npz: its '{key}' is compressed with zip method "
                f"{info.compress_type}; only stored and deflated members are read",
                name,
            )
        try:
            with archive.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f".npy format {version[0]}.{version[1]}")
        except (ValueError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError) as exc:
            raise RoiError(
                f"cannot be read as a .npz: its '{key}' is not a .npy array ({_one_line(exc)})",
                name,
            ) from None
        if dtype.hasobject:
            raise RoiError(
                f"holds Python objects in its '{key}' (a pickle): refusing to load them", name
            )
        if any(n < 0 for n in shape):
            raise RoiError(f"cannot be read as a .npz: its '{key}' has shape {shape}", name)
        out[key] = _Member(info, tuple(shape), dtype)
    return out


def _check_declared(members: dict[str, _Member], shape: Sequence[int] | None, name: str) -> None:
    """Refuse, from the headers alone, what cannot be a delineation of that grid."""
    missing = [key for key in ("mask", "spacing") if key not in members]
    if missing:
        held = sorted(members)
        listed = ", ".join(held[:8]) + (", …" if len(held) > 8 else "")
        raise RoiError(
            f"lacks {' and '.join(repr(m) for m in missing)} (it holds {listed or 'nothing'})",
            name,
        )
    mask = members["mask"]
    if mask.dtype.kind not in "biu":
        raise RoiError(f"holds a {mask.dtype} 'mask'; it must be bool or integer labels", name)
    if len(mask.shape) not in (2, 3):
        raise RoiError(f"holds a {len(mask.shape)}D 'mask'; it must be 2D or 3D", name)
    if shape is not None and tuple(mask.shape) != tuple(int(n) for n in shape):
        raise GridMismatchError(
            f"was drawn on an image of shape {_dims(mask.shape)}, not on the {_dims(shape)} "
            "grid it is compared with",
            name,
        )
    if shape is None and mask.nbytes > MAX_MASK_BYTES:
        raise RoiError(
            f"declares a {_size(mask.nbytes)} 'mask' ({_dims(mask.shape)} {mask.dtype}), over "
            f"the {_size(MAX_MASK_BYTES)} limit: refusing it",
            name,
        )
    # every structure (255 fit in uint8) drawn on every slice of every axis
    drawn_limit = 255 * sum(mask.shape) * 3 * 8
    first = members.get("first_mask")
    if first is not None and (first.dtype.kind not in "biu" or first.shape != mask.shape):
        raise RoiError(
            f"holds a 'first_mask' of {_dims(first.shape)} {first.dtype}, not labels in the "
            f"'mask''s {_dims(mask.shape)}",
            name,
        )
    for key, member in members.items():
        limit = drawn_limit if key == "drawn" else MAX_MEMBER_BYTES
        if key in _ROLES and key not in ("mask", "first_mask") and member.nbytes > limit:
            raise RoiError(
                f"declares a {_size(member.nbytes)} '{key}', more than a delineation holds: "
                "refusing it",
                name,
            )


def _read_member(archive: zipfile.ZipFile, member: _Member, key: str, name: str) -> np.ndarray:
    """The member's array, inflated in chunks up to its declared size and no further."""
    try:
        with archive.open(member.info) as fh:
            array = np.lib.format.read_array(fh, allow_pickle=False)
            if fh.read(1):  # also lets zipfile check the CRC at the member's end
                raise RoiError(
                    f"cannot be read as a .npz: its '{key}' holds more bytes than its header "
                    "declares",
                    name,
                )
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise RoiError(
            f"cannot be read as a .npz: its '{key}' is damaged or cut short ({_one_line(exc)})",
            name,
        ) from None
    return array


def _read(
    path: str | os.PathLike[str], shape: Sequence[int] | None, roles: Sequence[str]
) -> DelineationAnswer:
    name = os.fspath(path)
    with _archive(name) as archive:
        members = _members(archive, name)
        _check_declared(members, shape, name)
        arrays = {
            key: _read_member(archive, members[key], key, name) for key in roles if key in members
        }
    mask = arrays["mask"]
    version = _whole_number(arrays.get("version"))
    if version is not None and version > DELINEATION_VERSION:
        raise RoiError(
            f"was written by a newer dicomteach (version {version}; this one reads version "
            f"{DELINEATION_VERSION})",
            name,
        )
    spacing = arrays["spacing"]
    values = spacing.astype(float).ravel() if spacing.dtype.kind in "iuf" else np.zeros(0)
    if len(values) != mask.ndim or not np.all(np.isfinite(values) & (values > 0)):
        raise RoiError(
            f"holds a 'spacing' that is not {mask.ndim} positive sizes in mm, one per mask axis",
            name,
        )
    names = arrays.get("names")
    answer = DelineationAnswer(
        mask=mask,
        spacing=tuple(float(s) for s in values),
        names=tuple(str(n) for n in np.atleast_1d(names))
        if names is not None and names.dtype.kind == "U" and names.ndim <= 1
        else (),
        version=DELINEATION_VERSION if version is None else version,
        path=name,
    )
    colors = arrays.get("colors")
    if colors is not None:
        if (
            colors.dtype.kind not in "iu"
            or colors.size % 3
            or not np.all((colors >= 0) & (colors <= 255))
        ):
            raise RoiError("holds 'colors' that are not rows of 3 values 0..255", name)
        answer.colors = colors.astype(np.uint8).reshape(-1, 3)
    drawn = arrays.get("drawn")
    if drawn is not None:
        if drawn.dtype.kind not in "iu" or drawn.size % 3:
            raise RoiError("holds 'drawn' that are not rows (structure, axis, slice)", name)
        answer.drawn = drawn.astype(np.int64).reshape(-1, 3)
    uid = arrays.get("series_uid")
    if uid is not None and uid.dtype.kind == "U" and uid.size == 1:
        answer.series_uid = str(uid.ravel()[0])
    origin = arrays.get("origin")
    if origin is not None and origin.dtype.kind in "iuf" and origin.size == 3:
        answer.origin = tuple(float(x) for x in origin.ravel())
    answer.revision = _whole_number(arrays.get("revision")) or 0
    answer.first_mask = arrays.get("first_mask")
    return answer


def _whole_number(array: np.ndarray | None) -> int | None:
    if array is None or array.size != 1 or array.dtype.kind not in "iu":
        return None
    return int(array.ravel()[0])


# ------------------------------------------------------------------ label maps


def label_values(labels: np.ndarray) -> list[int]:
    """The values present in a non-negative integer label map, ascending.

    Counted in blocks, so a large uint8 map never costs eight times its size
    in a temporary array (as ``np.bincount`` on the whole of it would).

    >>> label_values(np.array([[0, 3], [3, 7]], np.uint8))
    [0, 3, 7]
    """
    flat = np.asarray(labels).ravel()
    if not flat.size:
        return []
    top = int(flat.max())
    if top >= 1 << 16:
        return [int(v) for v in np.unique(flat)]
    counts = np.zeros(top + 1, np.int64)
    block = 1 << 22
    for start in range(0, flat.size, block):
        counts += np.bincount(flat[start : start + block], minlength=top + 1)
    return [int(v) for v in np.flatnonzero(counts)]


class LabelMasks(Mapping[int, np.ndarray]):
    """Label number → bool mask of a label map, each mask made when asked for.

    A label map of many structures on a large grid would otherwise hold one
    full-size mask per label at once.

    >>> masks = LabelMasks(np.array([[0, 2], [2, 5]]), [2, 5])
    >>> sorted(masks), masks[5].astype(int).tolist()
    ([2, 5], [[0, 0], [0, 1]])
    """

    def __init__(self, labels: np.ndarray, numbers: Sequence[int]) -> None:
        self._labels = labels
        self._numbers = [int(n) for n in numbers]
        self.shape: tuple[int, ...] = tuple(labels.shape)
        """The shape of every mask."""

    def __getitem__(self, number: int) -> np.ndarray:
        if number not in self._numbers:
            raise KeyError(number)
        return self._labels == number

    def __iter__(self) -> Iterator[int]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)


# ------------------------------------------------------------------ messages


def _dims(shape: Sequence[int]) -> str:
    return "×".join(str(int(n)) for n in shape)


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200] + ("…" if len(text) > 200 else "")
