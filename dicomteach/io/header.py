"""Parse one file's header into a pydicom Dataset, turning every failure into a one-line error.

The fast scan (:mod:`dicomteach.io.fastscan`) serves native little-endian
files; everything else goes through pydicom's reader with large values
deferred. Either way the result is checked the same way: truncation, deep
sequence nesting and deflate bombs are refused here, before anything is
decoded.
"""

from __future__ import annotations

import logging
import struct
import warnings
import zlib
from typing import Any

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
    NotDicomError,
    TooLargeError,
    TruncatedError,
)
from dicomteach.io.fastscan import ScanFallback, scan_file
from dicomteach.io.safety import (
    DEFAULT_LIMITS,
    Limits,
)
from dicomteach.io.sources import Source
from dicomteach.io.values import _vr as _dictionary_vr
from dicomteach.io.values import value as _v

#: Pixel Data, Float Pixel Data, Double Float Pixel Data.
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)

#: Values larger than this are not read while parsing the header (read on access).
DEFER_BYTES = 16 * 1024


def fast_parse(source: Source, size: int, head: bytes) -> Dataset | None:
    """The header through :mod:`dicomteach.io.fastscan`, or None to use pydicom's reader."""
    if source.path is None:
        return None
    try:
        ds, _, _ = scan_file(source.path, size, head)
    except (ScanFallback, struct.error, ValueError, UnicodeDecodeError, LookupError):
        return None
    return ds  # sequences are checked by _check_sequences, as for pydicom's reader


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def parse(
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
        raise TruncatedError(f"file ends inside the header ({one_line(exc)})", name) from None
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
        raise NotDicomError(f"cannot parse the DICOM header ({one_line(exc)})", name) from None
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
            raise TruncatedError(f"file ends inside the header ({one_line(text)})", name)
    if len(ds) == 0 and part10:  # 'DICM' is there but no data set follows the file meta
        raise TruncatedError(
            "file is truncated: it ends inside or right after the file meta information", name
        )
    if len(ds) == 0 and not getattr(ds, "file_meta", None):
        raise NotDicomError("no DICOM elements could be read", name)
    if transfer_syntax(ds) != DeflatedExplicitVRLittleEndian:  # offsets are in the inflated stream
        _refuse_cut_element(ds, source.size(), name)
    return ds


def check_sequences(ds: Dataset, limits: Limits, name: str) -> None:
    """Parse every sequence now, whichever reader produced ``ds``: damage and deep nesting surface here, once."""
    try:
        _refuse_deep_nesting(ds, limits.max_sequence_depth, name)
    except RecursionError:
        raise HostileInputError(
            "sequences nested too deeply to read (thousands of levels?); refusing it", name
        ) from None
    except (EOFError, OSError) as exc:
        raise TruncatedError(f"file ends inside the header ({one_line(exc)})", name) from None
    except DicomTeachError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise NotDicomError(f"damaged DICOM header ({one_line(exc)})", name) from None


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


def one_line(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def transfer_syntax(ds: Dataset) -> UID:
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
