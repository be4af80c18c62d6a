"""Read one DICOM instance's header: checks, per-frame geometry and rescale, where its pixels are.

Pixels are not decoded here. The header is parsed with large values deferred,
so the reader knows where native pixel data sits in the file and can later
read it straight into the series array (see :mod:`dicomteach.io.pixels`).
"""

from __future__ import annotations

import logging
import math
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomteach.errors import (
    DicomTeachError,
    HostileInputError,
    InvalidHeaderError,
    MissingPixelDataError,
    NotDicomError,
    PixelDataError,
    TooLargeError,
    TruncatedError,
)
from dicomteach.io.fastscan import FIRST_READ, ScanFallback, scan_file
from dicomteach.io.safety import (
    DEFAULT_LIMITS,
    Limits,
    MiB,
    check_codestreams,
    refuse_deflate_bomb,
    sniff,
)
from dicomteach.io.sources import Source
from dicomteach.io.values import _vr as _dictionary_vr
from dicomteach.io.values import value as _v
from dicomteach.io.volume import FrameAxis, LutTable, Window

#: Values larger than this are not read while parsing the header (read on access).
DEFER_BYTES = 16 * 1024

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float, Double Float
_NATIVE_LE = (ImplicitVRLittleEndian, ExplicitVRLittleEndian)
_ALLOWED_BITS = (1, 8, 16, 32, 64)
_PHOTOMETRICS = (
    "MONOCHROME1",
    "MONOCHROME2",
    "PALETTE COLOR",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "YBR_PARTIAL_420",
)
#: Patient direction letters (PS3.3 C.7.6.1.1.1) as LPS unit vectors.
_LETTERS = {
    "L": (1.0, 0.0, 0.0),
    "R": (-1.0, 0.0, 0.0),
    "P": (0.0, 1.0, 0.0),
    "A": (0.0, -1.0, 0.0),
    "H": (0.0, 0.0, 1.0),
    "F": (0.0, 0.0, -1.0),
}


@dataclass
class FrameInfo:
    """What one frame needs for series assembly."""

    index: int
    position: np.ndarray | None = None
    orientation: np.ndarray | None = None
    pixel_spacing: tuple[float, float] | None = None
    slice_thickness: float | None = None
    slope: float = 1.0
    intercept: float = 0.0
    windows: tuple[Window, ...] | None = None
    """The frame's own windows (enhanced objects); None: the instance's Window Center/Width."""
    key: tuple[Any, ...] = ()
    """Acquisition discriminators (stack, temporal position, echo, b-value, segment)."""


@dataclass
class Instance:
    """A parsed header and where its pixels are."""

    source: Source
    ds: Dataset
    transfer_syntax: UID
    has_pixels: bool
    rows: int = 0
    columns: int = 0
    n_frames: int = 0
    samples: int = 1
    bits_allocated: int = 0
    bits_stored: int = 0
    pixel_representation: int = 0
    photometric: str = ""
    planar_configuration: int = 0
    pixel_offset: int | None = None
    """File offset of native Pixel Data's value (the fast path), else None."""
    pixel_length: int = 0
    frames: list[FrameInfo] = field(default_factory=list)
    frame_axis: FrameAxis = FrameAxis.SINGLE
    frame_time_ms: float | None = None
    nominal_spacing: tuple[float, float] | None = None
    """Row and column spacing for images without position (CR/DX/US/OP)."""
    nominal_direction: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def is_color(self) -> bool:
        return self.samples == 3 or self.photometric == "PALETTE COLOR"

    @property
    def positioned(self) -> bool:
        """True when every frame has a position and orientation (can take part in a stack)."""
        return bool(self.frames) and all(
            f.position is not None and f.orientation is not None for f in self.frames
        )

    @property
    def dtype(self) -> np.dtype:
        """Numpy type of the decoded stored values."""
        if self.photometric == "PALETTE COLOR":
            return np.dtype(np.uint8 if _palette_bits(self.ds) <= 8 else np.uint16)
        if self.is_color:
            return np.dtype(f"u{max(1, self.bits_allocated // 8)}")
        if "FloatPixelData" in self.ds or 0x7FE00008 in self.ds:
            return np.dtype(np.float32)
        if 0x7FE00009 in self.ds:
            return np.dtype(np.float64)
        if self.bits_allocated == 1:
            return np.dtype(np.uint8)
        kind = "i" if self.pixel_representation == 1 else "u"
        return np.dtype(f"{kind}{max(1, self.bits_allocated // 8)}")


def _palette_bits(ds: Dataset) -> int:
    desc = ds.get("RedPaletteColorLookupTableDescriptor")
    try:
        return int(desc[2])
    except (TypeError, IndexError, ValueError):
        return 8


def read_instance(source: Source, limits: Limits = DEFAULT_LIMITS) -> Instance:
    """Parse one file's header, check it can be an image, and locate its pixels."""
    name = source.name
    try:
        size = source.size()
        if size > limits.max_file_bytes:
            raise TooLargeError(
                f"file is {size // MiB} MiB, over the {limits.max_file_bytes // MiB} MiB limit",
                name,
            )
        with source.open() as fp:
            # one read serves the sniff and, for most files, the whole header
            head = fp.read(FIRST_READ)
    except OSError as exc:  # a broken link, no permission, a vanished file
        raise DicomTeachError(f"cannot read the file ({exc.strerror or exc})", name) from None
    part10 = sniff(head[:132], name)
    problems: list[str] = []
    try:
        ds = _fast_parse(source, size, head) if part10 else None
    except DicomTeachError:
        raise
    except Exception:  # noqa: BLE001 - the fast scanner is an optimisation: pydicom's reader decides
        ds = None
    if ds is None:
        if part10:
            with source.open() as fp:
                _refuse_deflate_bomb(fp, limits, name)
        ds = _parse(source, part10, problems, limits)
    _check_sequences(ds, limits, name)
    if not part10:
        problems.append("no DICOM preamble or file meta: read as a bare data set")
    ts = _transfer_syntax(ds)
    inst = Instance(source=source, ds=ds, transfer_syntax=ts, has_pixels=False, warnings=problems)
    elem = None
    for tag in _PIXEL_TAGS:
        elem = ds.get_item(tag, keep_deferred=True)
        if elem is not None:
            break
    if elem is None:
        _refuse_image_without_pixels(ds, name)
        return inst
    inst.has_pixels = True
    _read_image_module(inst, limits)
    _check_pixel_length(inst, elem, size, limits)
    _read_frames(inst)
    return inst


def _refuse_image_without_pixels(ds: Dataset, name: str) -> None:
    """An *image* storage object must carry Pixel Data (its IOD requires it): most often the
    file was cut short at an element boundary, which leaves no other trace. Other objects
    without pixels (SR, presentation states, RT plans) are fine and are kept as they are."""
    meta = getattr(ds, "file_meta", None)
    sop = ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else None)
    what = getattr(sop, "name", "") if sop else ""
    if "Image Storage" in what:
        raise MissingPixelDataError(
            f"no Pixel Data (7FE0,0010) in this {what}: the file is cut short or was written "
            "without its image",
            name,
        )


def _fast_parse(source: Source, size: int, head: bytes) -> Dataset | None:
    """The header through :mod:`dicomteach.io.fastscan`, or None to use pydicom's reader."""
    if source.path is None:
        return None
    try:
        ds, _, _ = scan_file(source.path, size, head)
    except (ScanFallback, struct.error, ValueError, UnicodeDecodeError, LookupError):
        return None
    return ds  # sequences are checked by _check_sequences, as for pydicom's reader


def _refuse_deflate_bomb(fp: Any, limits: Limits, name: str) -> None:
    refuse_deflate_bomb(fp, limits.max_inflated_bytes, name)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _parse(
    source: Source, part10: bool, problems: list[str], limits: Limits = DEFAULT_LIMITS
) -> Dataset:
    """dcmread with every failure turned into a one-line DicomTeachError."""
    name = source.name
    handler = _Collect()
    logger = logging.getLogger("pydicom")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _dcmread(source, part10)
    except RecursionError:
        raise HostileInputError(
            "sequences nested too deeply to read (thousands of levels?); refusing it", name
        ) from None
    except (EOFError, OSError) as exc:
        if _header_ends_before_pixels(source, part10):
            # pydicom reads encapsulated pixel data while parsing: the header was whole
            raise TruncatedError(
                "pixel data is cut short: the file ends inside the encapsulated frames", name
            ) from None
        raise TruncatedError(f"file ends inside the header ({_one_line(exc)})", name) from None
    except zlib.error as exc:
        raise NotDicomError(f"deflated data set is corrupt ({exc})", name) from None
    except MemoryError:
        raise TooLargeError("header claims more memory than is available", name) from None
    except struct.error:  # pydicom unpacks a tag or length from bytes the file lacks
        raise TruncatedError("file is truncated: it ends inside the header", name) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds; name it once
        if part10 and _meta_is_cut(source):
            raise TruncatedError(
                "file is truncated: it ends inside the file meta information", name
            ) from None
        raise NotDicomError(f"cannot parse the DICOM header ({_one_line(exc)})", name) from None
    finally:
        logger.removeHandler(handler)
    texts = [str(w.message) for w in caught] + handler.messages
    for text in texts:
        low = text.lower()
        if "end of file" in low or "unexpected end" in low or "eof" in low.split():
            if _header_ends_before_pixels(source, part10):
                raise TruncatedError(
                    "pixel data is cut short: the file ends inside the encapsulated frames", name
                )
            raise TruncatedError(f"file ends inside the header ({_one_line(text)})", name)
    if len(ds) == 0 and part10:  # 'DICM' is there but no data set follows the file meta
        raise TruncatedError(
            "file is truncated: it ends inside or right after the file meta information", name
        )
    if len(ds) == 0 and not getattr(ds, "file_meta", None):
        raise NotDicomError("no DICOM elements could be read", name)
    if _transfer_syntax(ds) != DeflatedExplicitVRLittleEndian:  # offsets are in the inflated stream
        _refuse_cut_element(ds, source.size(), name)
    return ds


def _check_sequences(ds: Dataset, limits: Limits, name: str) -> None:
    """Parse every sequence now, whichever reader produced ``ds``: damage and deep nesting surface here, once."""
    try:
        _refuse_deep_nesting(ds, limits.max_sequence_depth, name)
    except RecursionError:
        raise HostileInputError(
            "sequences nested too deeply to read (thousands of levels?); refusing it", name
        ) from None
    except (EOFError, OSError) as exc:
        raise TruncatedError(f"file ends inside the header ({_one_line(exc)})", name) from None
    except DicomTeachError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise NotDicomError(f"damaged DICOM header ({_one_line(exc)})", name) from None


def _meta_is_cut(source: Source) -> bool:
    """True when the file ends before the end its File Meta Information Group Length announces."""
    with source.open() as fp:
        fp.seek(132)
        element = fp.read(12)  # (0002,0000) UL, 4-byte value
    if len(element) < 12 or element[:6] != b"\x02\x00\x00\x00UL":
        return len(element) < 12
    return source.size() < 144 + int.from_bytes(element[8:12], "little")


def _dcmread(source: Source, part10: bool, **kwargs: Any) -> Dataset:
    if source.path is not None:
        ds = pydicom.dcmread(source.path, defer_size=DEFER_BYTES, force=not part10, **kwargs)
        meta = getattr(ds, "file_meta", None)
        if meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            # deferred values point into the inflated stream and cannot be re-read from the file
            ds = pydicom.dcmread(source.path, force=not part10, **kwargs)
        return ds
    return pydicom.dcmread(source.open(), force=not part10, **kwargs)


def _header_ends_before_pixels(source: Source, part10: bool) -> bool:
    """True when everything up to Pixel Data parses: the file was cut inside the pixels."""
    handler = _Collect()
    logger = logging.getLogger("pydicom")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _dcmread(source, part10, stop_before_pixels=True)
            for tag in list(ds.keys()):
                _ = ds[tag].value
    except Exception:  # noqa: BLE001 - any failure means the header itself is damaged
        return False
    finally:
        logger.removeHandler(handler)
    # pydicom only warns when a file ends inside an undefined-length sequence
    texts = [str(w.message) for w in caught] + handler.messages
    return not any("end of file" in t.lower() for t in texts)


def _refuse_cut_element(ds: Dataset, file_size: int, name: str) -> None:
    """pydicom stops quietly where a file ends inside an element; find that and say so.

    A top-level element whose value runs past the end of the file, or a few
    bytes left over after the last element (too few for the next element's
    header), mean the file was cut short. Pixel Data is left to
    :func:`_check_pixel_length`, which says more about it.
    """
    last_end: int | None = None
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
        if tell is None or length is None or length == 0xFFFFFFFF:
            last_end = None  # already converted, or undefined length: its end is unknown here
            continue
        last_end = tell + length
        if tag in _PIXEL_TAGS:
            continue
        value = raw.value  # None when deferred: not read yet
        if value is None:
            got = min(length, max(0, file_size - tell))
        else:
            got = len(value) if isinstance(value, bytes) else length
        if got < length:
            raise TruncatedError(
                f"file is truncated: it ends inside the header, in element {_tag_name(tag)} "
                f"({got} of its {length} bytes are there)",
                name,
            )
    if last_end is not None and 0 < file_size - last_end < 8:
        raise TruncatedError(
            f"file is truncated: it ends inside the header, {file_size - last_end} byte(s) "
            "into the next element",
            name,
        )


def _refuse_deep_nesting(ds: Dataset, max_depth: int, name: str) -> None:
    """Convert sequences level by level, without recursion, and refuse deep nesting.

    Undefined-length nesting thousands deep already fails inside the readers;
    defined-length nesting is parsed lazily, so it would fail later, far from
    the reader, in whatever walks the header next (printing it, copying it).
    Top-level sequences are always converted (damage surfaces here, once);
    below that, a raw sequence too short to hide the missing levels is
    skipped: each level costs at least 16 bytes (item and sequence headers).
    """
    stack: list[tuple[Dataset, int]] = [(ds, 1)]
    while stack:
        item, depth = stack.pop()
        # the raw dict: get_item() per tag costs more than the whole header scan
        for tag, raw in list(item._dict.items()):  # noqa: SLF001
            vr = raw.VR or _dictionary_vr(tag)  # implicit VR: raw VR is None
            if vr != "SQ" or tag in _PIXEL_TAGS:
                continue
            if depth > max_depth:
                raise HostileInputError(
                    f"sequences nested more than {max_depth} levels deep (at {_tag_name(tag)}); "
                    "refusing it",
                    name,
                )
            length = raw.length if isinstance(raw, RawDataElement) else 0xFFFFFFFF
            if depth > 1 and length != 0xFFFFFFFF and depth + length // 16 <= max_depth:
                continue
            stack.extend((sub, depth + 1) for sub in item[tag].value)


def _tag_name(tag: int) -> str:
    from pydicom.datadict import keyword_for_tag
    from pydicom.tag import Tag

    keyword = keyword_for_tag(tag)
    return f"{Tag(tag)} {keyword}" if keyword else str(Tag(tag))


def _one_line(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    ts = _v(meta, "TransferSyntaxUID") if meta is not None else None
    if ts:
        return UID(ts)
    implicit, little = ds.original_encoding
    ts = (
        ImplicitVRLittleEndian
        if implicit
        else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    )
    if meta is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    return UID(ts)


def _int(ds: Dataset, keyword: str, name: str, default: int | None = None) -> int:
    value = _v(ds, keyword, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise InvalidHeaderError(f"image without {keyword}; cannot lay out its pixels", name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidHeaderError(f"{keyword} is '{value}', not a number", name) from None


def _read_image_module(inst: Instance, limits: Limits) -> None:
    """Image Pixel Module (PS3.3 C.7.6.3) values, checked before any decoding."""
    ds, name = inst.ds, inst.name
    inst.rows = _int(ds, "Rows", name)
    inst.columns = _int(ds, "Columns", name)
    inst.n_frames = _int(ds, "NumberOfFrames", name, default=1) or 1
    inst.samples = _int(ds, "SamplesPerPixel", name, default=1)
    inst.bits_allocated = _int(ds, "BitsAllocated", name, default=0 if 0x7FE00010 in ds else 32)
    inst.bits_stored = _int(ds, "BitsStored", name, default=inst.bits_allocated)
    inst.pixel_representation = _int(ds, "PixelRepresentation", name, default=0)
    inst.planar_configuration = _int(ds, "PlanarConfiguration", name, default=0)
    photometric = str(_v(ds, "PhotometricInterpretation", "") or "").strip().upper()
    if not photometric:
        photometric = "MONOCHROME2" if inst.samples == 1 else "RGB"
        inst.warnings.append(f"no Photometric Interpretation; assumed {photometric}")
        ds.PhotometricInterpretation = photometric
    inst.photometric = photometric

    if inst.rows <= 0 or inst.columns <= 0:
        raise InvalidHeaderError(f"image of {inst.rows}×{inst.columns} pixels", name)
    if inst.n_frames < 0:
        raise InvalidHeaderError(f"NumberOfFrames is {inst.n_frames}", name)
    if inst.n_frames > limits.max_frames:
        # tiny frames pass the pixel limit but each frame still costs bookkeeping
        raise TooLargeError(
            f"NumberOfFrames is {inst.n_frames}, over the limit of {limits.max_frames} frames",
            name,
        )
    if inst.bits_allocated not in _ALLOWED_BITS:
        raise InvalidHeaderError(
            f"BitsAllocated is {inst.bits_allocated}; DICOM allows 1 or a multiple of 8 (8, 16, 32, 64)",
            name,
        )
    if not 1 <= inst.bits_stored <= inst.bits_allocated:
        raise InvalidHeaderError(
            f"BitsStored is {inst.bits_stored} with BitsAllocated {inst.bits_allocated}", name
        )
    if inst.samples not in (1, 3):
        raise InvalidHeaderError(f"SamplesPerPixel is {inst.samples}; expected 1 or 3", name)
    if inst.pixel_representation not in (0, 1):
        raise InvalidHeaderError(f"PixelRepresentation is {inst.pixel_representation}", name)
    if photometric not in _PHOTOMETRICS:
        raise InvalidHeaderError(f"unknown Photometric Interpretation '{photometric}'", name)
    out_samples = 3 if photometric == "PALETTE COLOR" else inst.samples
    decoded = (
        inst.rows * inst.columns * inst.n_frames * out_samples * max(1, inst.bits_allocated // 8)
    )
    if decoded > limits.max_pixel_bytes:
        raise TooLargeError(
            f"image claims {_human(decoded)} of pixels ({inst.columns}×{inst.rows}, "
            f"{inst.n_frames} frames, {inst.bits_allocated} bits); the limit is "
            f"{_human(limits.max_pixel_bytes)}",
            name,
        )


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def expected_native_bytes(inst: Instance) -> int:
    """Bytes native (uncompressed) pixel data must hold, PS3.5 8.1.1 and PS3.3 C.7.6.3.1.2."""
    pixels = inst.rows * inst.columns * inst.n_frames
    if inst.bits_allocated == 1:
        return (pixels + 7) // 8
    per = inst.bits_allocated // 8
    if inst.photometric == "YBR_FULL_422":
        return pixels * 2 * per
    return pixels * inst.samples * per


@dataclass
class _PixelElement:
    tag: int
    length: int
    value: bytes | None
    value_tell: int


def _pixel_element(elem: Any) -> _PixelElement:
    """The same view of a raw (possibly deferred) or already converted pixel element."""
    if hasattr(elem, "value_tell"):
        return _PixelElement(int(elem.tag), int(elem.length), elem.value, int(elem.value_tell or 0))
    value = elem.value
    undefined = bool(getattr(elem, "is_undefined_length", False))
    length = 0xFFFFFFFF if undefined else (len(value) if isinstance(value, bytes) else 0)
    return _PixelElement(int(elem.tag), length, value if isinstance(value, bytes) else b"", 0)


def _layout(inst: Instance) -> str:
    return f"{inst.rows}×{inst.columns}×{inst.n_frames}×{inst.samples}×{inst.bits_allocated}"


def _check_pixel_length(inst: Instance, raw: Any, file_size: int, limits: Limits) -> None:
    name = inst.name
    elem = _pixel_element(raw)
    if elem.tag != 0x7FE00010:
        if elem.value is None and elem.value_tell + elem.length > file_size:
            raise TruncatedError("pixel data is cut short: the file ends early", name)
        return
    if inst.transfer_syntax.is_encapsulated:
        if elem.length != 0xFFFFFFFF:
            raise NotDicomError(
                "compressed transfer syntax but the pixel data is not encapsulated", name
            )
        if elem.value:  # undefined length: pydicom has read it whole while parsing
            check_codestreams(elem.value, inst.rows, inst.columns, name)
        return
    expected = expected_native_bytes(inst)
    available = max(0, file_size - elem.value_tell)
    if elem.value is None:
        actual = min(elem.length, available)
    else:
        actual = len(elem.value)
    if (
        elem.length != 0xFFFFFFFF
        and elem.value is None
        and elem.value_tell + elem.length > file_size
    ):
        raise TruncatedError(
            f"pixel data is cut short: the header announces {elem.length} bytes, the file holds "
            f"{available} (expected {expected} for {inst.columns}×{inst.rows}×{inst.n_frames} frames "
            f"at {inst.bits_allocated} bits)",
            name,
        )
    if elem.value is not None and len(elem.value) < elem.length:
        # read into memory (zip members): the file ended before the announced length
        raise TruncatedError(
            f"pixel data is cut short: the header announces {elem.length} bytes, the file holds "
            f"{len(elem.value)}",
            name,
        )
    # the element is whole, so a length mismatch means the header does not describe the pixels
    if actual < expected:
        raise PixelDataError(
            f"pixel data holds {actual} bytes but Rows×Columns×Frames×Samples×BitsAllocated "
            f"({_layout(inst)}) needs {expected}; the header does not match the pixels",
            name,
        )
    frame_bytes = max(1, expected // max(1, inst.n_frames))
    if expected + 1 + (expected % 2) < actual < expected + frame_bytes:
        # trailing bytes short of a whole frame: pydicom and DCMTK ignore them, so do we
        inst.warnings.append(
            f"pixel data has {actual - expected} trailing bytes beyond the image; ignored"
        )
    elif actual >= expected + frame_bytes:
        # a whole frame or more: the header (frames, size, bits) does not describe the data
        raise PixelDataError(
            f"pixel data holds {actual} bytes but Rows×Columns×Frames×Samples×BitsAllocated "
            f"({_layout(inst)}) gives {expected}; the header does not match the pixels",
            name,
        )
    if (
        elem.value is None
        and inst.transfer_syntax in _NATIVE_LE
        and inst.source.path is not None
        and inst.bits_allocated in (8, 16, 32)
        and (
            inst.samples == 1
            and inst.photometric in ("MONOCHROME1", "MONOCHROME2")
            or inst.samples == 3
            and inst.photometric == "RGB"
            and inst.planar_configuration == 0
        )
    ):
        inst.pixel_offset = elem.value_tell
        inst.pixel_length = elem.length


# --- geometry -----------------------------------------------------------------------------


def _floats(value: Any, n: int) -> np.ndarray | None:
    if value is None or value == "":
        return None
    try:
        seq = (
            list(value)
            if not isinstance(value, str | bytes) and hasattr(value, "__iter__")
            else [value]
        )
        nums = [float(v) for v in seq]
    except (TypeError, ValueError):
        return None
    if len(nums) != n or not all(math.isfinite(x) for x in nums):
        return None
    return np.array(nums)


def _float(value: Any) -> float | None:
    if type(value) is float:  # the common case, straight from values.value()
        return value if math.isfinite(value) else None
    arr = _floats(value, 1)
    return None if arr is None else float(arr[0])


def _first(ds: Dataset | None, keyword: str) -> Dataset | None:
    if ds is None:
        return None
    seq = ds.get(keyword)
    if seq:
        try:
            return seq[0]
        except (IndexError, TypeError):
            return None
    return None


def header_windows(ds: Dataset | None) -> tuple[Window, ...]:
    """Windows from Window Center/Width (PS3.3 C.11.2.1.2), one per value, with explanations."""
    if ds is None:
        return ()
    centers = _v(ds, "WindowCenter")
    widths = _v(ds, "WindowWidth")
    if centers is None or widths is None:
        return ()
    c = _list(centers)
    w = _list(widths)
    explanations = [str(x) for x in _list(ds.get("WindowCenterWidthExplanation") or [])]
    function = str(_v(ds, "VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    out = []
    for i, (ci, wi) in enumerate(zip(c, w, strict=False)):
        cf, wf = _float(ci), _float(wi)
        if cf is None or wf is None or wf <= 0 or (function == "LINEAR" and wf < 1):
            continue
        out.append(Window(cf, wf, explanations[i] if i < len(explanations) else "", function))
    return tuple(out)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def lut_table(item: Dataset, pixel_representation: int, modality: bool = False) -> LutTable | None:
    """One LUT from a Modality or VOI LUT Sequence item (PS3.3 C.11.1.1, C.11.2.1.1)."""
    desc = _list(item.get("LUTDescriptor"))
    data = item.get("LUTData")
    if len(desc) != 3 or data is None:
        return None
    entries = int(desc[0]) or 65536
    first = int(desc[1])
    if pixel_representation == 1 and first > 32767:
        first -= 65536
    bits = int(desc[2])
    if isinstance(data, bytes):
        arr = np.frombuffer(data, dtype="<u2")
        if bits <= 8 and len(data) == entries:
            arr = np.frombuffer(data, dtype=np.uint8)
    else:
        arr = np.asarray(_list(data), dtype=np.int64)
    arr = np.asarray(arr[:entries], dtype=np.uint16 if bits <= 16 else np.uint32)
    if arr.size == 0:
        return None
    return LutTable(
        first_mapped=first,
        bits=bits,
        data=arr,
        explanation=str(item.get("LUTExplanation", "") or ""),
        lut_type=str(item.get("ModalityLUTType", "") or "") if modality else "",
    )


def _orientation_from_letters(ds: Dataset) -> np.ndarray | None:
    """Direction cosines from Patient Orientation (e.g. ``L\\F`` for a PA chest), if given."""
    po = _list(ds.get("PatientOrientation"))
    if len(po) != 2:
        return None
    vecs = []
    for text in po:
        v = np.zeros(3)
        for ch in str(text).upper():
            if ch not in _LETTERS:
                return None
            v += _LETTERS[ch]
        n = np.linalg.norm(v)
        if n == 0:
            return None
        vecs.append(v / n)
    return np.concatenate(vecs)


def _us_spacing(ds: Dataset) -> tuple[float, float] | None:
    """Row/column spacing of the first spatial ultrasound region, in mm (PS3.3 C.8.5.5)."""
    for region in ds.get("SequenceOfUltrasoundRegions") or []:
        ux, uy = region.get("PhysicalUnitsXDirection"), region.get("PhysicalUnitsYDirection")
        dx, dy = _float(region.get("PhysicalDeltaX")), _float(region.get("PhysicalDeltaY"))
        if ux == 3 and uy == 3 and dx and dy:  # 3 = cm
            return (abs(dy) * 10.0, abs(dx) * 10.0)
    return None


def _read_frames(inst: Instance) -> None:
    ds = inst.ds
    n = inst.n_frames
    top_windows = None
    slope = _float(_v(ds, "RescaleSlope"))
    intercept = _float(_v(ds, "RescaleIntercept"))
    slope = 1.0 if slope is None or slope == 0 else slope
    intercept = 0.0 if intercept is None else intercept

    # tags, not keywords: Dataset.__contains__ converts a keyword on every call
    if 0x52009230 in ds._dict or 0x52009229 in ds._dict:  # noqa: SLF001 - per-frame / shared groups
        _enhanced_frames(inst, top_windows, slope, intercept)
    else:
        position = _floats(_v(ds, "ImagePositionPatient"), 3)
        orientation = _floats(_v(ds, "ImageOrientationPatient"), 6)
        spacing = _floats(_v(ds, "PixelSpacing"), 2)
        thickness = _float(_v(ds, "SliceThickness"))
        between = _float(_v(ds, "SpacingBetweenSlices"))
        positions: list[np.ndarray | None] = [position] * n if n == 1 else [None] * n
        if position is None and (n > 1 or _v(ds, "Modality") == "NM"):
            det = _first(ds, "DetectorInformationSequence")
            if det is not None:
                position = _floats(det.get("ImagePositionPatient"), 3)
                orientation = _floats(det.get("ImageOrientationPatient"), 6)
        if n > 1 and position is not None and orientation is not None:
            pointers = [int(t) for t in _list(_v(ds, "FrameIncrementPointer"))]
            slice_vector = 0x00540080
            image_type = [str(x).upper() for x in _list(_v(ds, "ImageType"))]
            tomo = any("TOMO" in t for t in image_type)
            if between and (pointers == [slice_vector] or (tomo and slice_vector in pointers)):
                normal = np.cross(orientation[:3], orientation[3:])
                positions = [position + k * between * normal for k in range(n)]
        if n == 1:
            positions = [position]
        inst.frames = [
            FrameInfo(
                index=k,
                position=positions[k],
                orientation=orientation if positions[k] is not None else None,
                pixel_spacing=tuple(spacing) if spacing is not None else None,
                slice_thickness=thickness,
                slope=slope,
                intercept=intercept,
                windows=top_windows,
            )
            for k in range(n)
        ]
    if not inst.positioned:
        _nominal_geometry(inst)
    if n > 1 and not inst.positioned:
        frame_time = _float(ds.get("FrameTime"))
        if frame_time is None:
            vector = _list(ds.get("FrameTimeVector"))
            times = [_float(v) for v in vector[1:]]
            if times and all(t is not None for t in times):
                frame_time = float(np.mean(times))  # type: ignore[arg-type]
        if frame_time is None and ds.get("CineRate"):
            rate = _float(ds.get("CineRate"))
            frame_time = 1000.0 / rate if rate else None
        if frame_time is not None and frame_time > 0:
            inst.frame_axis = FrameAxis.TIME
            inst.frame_time_ms = frame_time
        else:
            inst.frame_axis = FrameAxis.FRAMES
    elif n > 1:
        inst.frame_axis = FrameAxis.SLICE


def _nominal_geometry(inst: Instance) -> None:
    ds = inst.ds
    spacing = _floats(_v(ds, "PixelSpacing"), 2)
    if spacing is None:
        spacing = _floats(ds.get("ImagerPixelSpacing"), 2)
        if spacing is not None:
            estimated = _float(ds.get("EstimatedRadiographicMagnificationFactor"))
            if estimated and estimated > 0:
                spacing = spacing / estimated
            else:
                inst.warnings.append(
                    "spacing is Imager Pixel Spacing, measured at the detector (not corrected for magnification)"
                )
    if spacing is None:
        us = _us_spacing(ds)
        if us is not None:
            spacing = np.array(us)
    if spacing is not None and np.all(spacing > 0):
        inst.nominal_spacing = (float(spacing[0]), float(spacing[1]))
    inst.nominal_direction = _orientation_from_letters(ds)


def _enhanced_frames(
    inst: Instance, top_windows: tuple[Window, ...], top_slope: float, top_intercept: float
) -> None:
    """Per-frame and shared functional groups (PS3.3 C.7.6.16), as enhanced CT/MR/PET and SEG write them."""
    ds = inst.ds
    shared = _first(ds, "SharedFunctionalGroupsSequence") or Dataset()
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames = []
    for k in range(inst.n_frames):
        item = per_frame[k] if k < len(per_frame) else Dataset()

        def group(keyword: str, item: Dataset = item) -> Dataset | None:
            return _first(item, keyword) or _first(shared, keyword)

        plane = group("PlanePositionSequence")
        orient = group("PlaneOrientationSequence")
        measures = group("PixelMeasuresSequence")
        transform = group("PixelValueTransformationSequence")
        voi = group("FrameVOILUTSequence")
        content = group("FrameContentSequence")
        echo = group("MREchoSequence")
        diffusion = group("MRDiffusionSequence")
        segment = group("SegmentIdentificationSequence")
        slope = _float(transform.get("RescaleSlope")) if transform else None
        intercept = _float(transform.get("RescaleIntercept")) if transform else None
        spacing = _floats(measures.get("PixelSpacing"), 2) if measures else None
        key = (
            _scalar(content, "StackID"),
            _scalar(content, "TemporalPositionIndex"),
            _scalar(echo, "EffectiveEchoTime"),
            _scalar(diffusion, "DiffusionBValue"),
            _scalar(segment, "ReferencedSegmentNumber"),
        )
        frames.append(
            FrameInfo(
                index=k,
                position=_floats(plane.get("ImagePositionPatient"), 3) if plane else None,
                orientation=_floats(orient.get("ImageOrientationPatient"), 6) if orient else None,
                pixel_spacing=tuple(spacing) if spacing is not None else None,
                slice_thickness=_float(measures.get("SliceThickness")) if measures else None,
                slope=slope if slope else top_slope,
                intercept=intercept if intercept is not None else top_intercept,
                windows=header_windows(voi) or header_windows(ds),
                key=key,
            )
        )
    inst.frames = frames


def _scalar(ds: Dataset | None, keyword: str) -> Any:
    if ds is None:
        return None
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


__all__ = [
    "DicomTeachError",
    "FrameInfo",
    "Instance",
    "MissingPixelDataError",
    "expected_native_bytes",
    "header_windows",
    "lut_table",
    "read_instance",
]
