"""Read one DICOM instance's header: checks, per-frame geometry and rescale, where its pixels are.

Pixels are not decoded here. The header is parsed with large values deferred,
so the reader knows where native pixel data sits in the file and can later
read it straight into the series array (see :mod:`dicomteach.io.pixels`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomteach.errors import (
    DicomTeachError,
    InvalidHeaderError,
    MissingPixelDataError,
    NotDicomError,
    PixelDataError,
    TooLargeError,
    TruncatedError,
)
from dicomteach.io.fastscan import FIRST_READ
from dicomteach.io.frames import FrameLayout, read_frames
from dicomteach.io.header import (
    check_sequences,
    fast_parse,
    parse,
    transfer_syntax,
)
from dicomteach.io.safety import (
    DEFAULT_LIMITS,
    Limits,
    MiB,
    check_codestreams,
    refuse_deflate_bomb,
    sniff,
)
from dicomteach.io.sources import Source
from dicomteach.io.values import value as _v

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
    layout: FrameLayout = field(default_factory=FrameLayout)
    """Its frames' geometry, rescale and windows (:func:`~dicomteach.io.frames.read_frames`)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def is_color(self) -> bool:
        return self.samples == 3 or self.photometric == "PALETTE COLOR"

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
        ds = fast_parse(source, size, head) if part10 else None
    except DicomTeachError:
        raise
    except Exception:  # noqa: BLE001 - the fast scanner is an optimisation: pydicom's reader decides
        ds = None
    if ds is None:
        if part10:
            with source.open() as fp:
                refuse_deflate_bomb(fp, limits.max_inflated_bytes, name)
        ds = parse(source, part10, problems, limits)
    check_sequences(ds, limits, name)
    if not part10:
        problems.append("no DICOM preamble or file meta: read as a bare data set")
    ts = transfer_syntax(ds)
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
    inst.layout = read_frames(ds, inst.n_frames)
    inst.warnings += inst.layout.warnings
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


__all__ = ["Instance", "expected_native_bytes", "read_instance"]
