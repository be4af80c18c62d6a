"""A fast header scan for uncompressed little-endian files, producing a real pydicom Dataset.

pydicom's reader is general and costs about 0.6 ms per CT header; a 300-slice
series spends most of its load time there. Series files are overwhelmingly
native Explicit/Implicit VR Little Endian, where the element layout is simple
(PS3.5 7.1): this scanner walks the top-level elements with ``struct`` on one
buffer, skips nested sequences without building them, and stops at Pixel
Data. It returns the same lazily converted raw elements pydicom's reader
would, so everything above sees an ordinary :class:`pydicom.Dataset`.

Anything it does not expect (another transfer syntax, odd lengths, a
malformed item) raises :class:`ScanFallback` and the caller uses pydicom's
reader instead: correctness never depends on this module. Sequences nested
deeper than :data:`MAX_DEPTH` are refused outright.
"""

from __future__ import annotations

import struct

from pydicom.dataelem import RawDataElement
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomteach.errors import HostileInputError

#: Deepest sequence nesting accepted; real objects stay well under 10.
MAX_DEPTH = 64
#: Bytes read at first; most headers end before this.
FIRST_READ = 16 * 1024

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
#: Every standard VR: its text and whether its length field is 4 bytes (PS3.5 7.1.2).
_VR_TEXT = {
    vr.encode("ascii"): (vr, vr.encode("ascii") in _LONG_VRS)
    for vr in (
        "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV"
    ).split()
}
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_u16 = struct.Struct("<HH")
#: RawDataElement is a namedtuple; building it through tuple.__new__ skips its Python-level __new__
_raw = tuple.__new__
_u32 = struct.Struct("<I")
_tag_vr_short = struct.Struct("<HH2sH")
_tag_len = struct.Struct("<HHI")


class ScanFallback(Exception):
    """The scanner does not handle this file; use pydicom's reader."""


def scan_file(path: str, file_size: int, first: bytes) -> tuple[FileDataset, int | None, int]:
    """Scan ``path`` up to its Pixel Data; ``first`` holds the file's first bytes, already read.

    Returns the dataset (pixel element included as a deferred raw element),
    the file offset of the pixel value (None when there is no pixel data), and
    its length.
    """
    buf = first
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise ScanFallback("no preamble")
    try:
        meta, pos = _scan(buf, 132, explicit=True, stop_group=0x0002, path=path)
    except _NeedMore:
        raise ScanFallback("file meta runs past the first read") from None
    ts = _text(meta.get(0x00020010))
    if ts == ExplicitVRLittleEndian:
        explicit = True
    elif ts == ImplicitVRLittleEndian:
        explicit = False
    else:
        raise ScanFallback(f"transfer syntax {ts}")
    while True:
        try:
            elements, end = _scan(buf, pos, explicit=explicit, stop_group=None, path=path)
            break
        except _NeedMore:
            if len(buf) >= file_size:
                raise ScanFallback("header runs to the end of the file") from None
            with open(path, "rb", buffering=0) as fh:
                fh.seek(len(buf))
                more = fh.read(max(len(buf), FIRST_READ))
            if not more:
                raise ScanFallback("short read") from None
            buf += more
    pixel = next((elements[t] for t in _PIXEL_TAGS if t in elements), None)
    offset, length = (pixel.value_tell, pixel.length) if pixel is not None else (None, 0)
    file_meta = FileMetaDataset(meta)
    # an empty name spares FileDataset two stat() calls; deferred reads need only these two
    ds = FileDataset(
        "",
        elements,
        preamble=buf[:128],
        file_meta=file_meta,
        is_implicit_VR=not explicit,
        is_little_endian=True,
    )
    ds.filename = path
    ds.fileobj_type = open
    charset = elements.get(0x00080005)
    ds.set_original_encoding(not explicit, True, _charset(charset))
    return ds, offset, length


class _NeedMore(Exception):
    pass


def _text(raw: RawDataElement | None) -> str:
    if raw is None or raw.value is None:
        return ""
    return raw.value.decode("ascii", "replace").strip("\x00 ")


def _charset(raw: RawDataElement | None) -> list[str] | str:
    text = _text(raw)
    if not text:
        return "iso8859"
    from pydicom.charset import convert_encodings

    return convert_encodings(text.split("\\"))


def _scan(
    buf: bytes, pos: int, *, explicit: bool, stop_group: int | None, path: str
) -> tuple[dict[int, RawDataElement], int]:
    """Top-level elements from ``pos``: until the group changes (meta) or Pixel Data (data set)."""
    out: dict[int, RawDataElement] = {}
    n = len(buf)
    implicit = not explicit
    header = _tag_vr_short.unpack_from
    while True:
        if pos + 8 > n:
            if stop_group is not None:
                raise ScanFallback("file meta cut short")
            raise _NeedMore
        group, element, vr, length = header(buf, pos)
        if stop_group is not None and group != stop_group:
            return out, pos
        tag = group << 16 | element
        if explicit:
            known = _VR_TEXT.get(vr)
            if known is None:
                if not b"AA" <= vr <= b"ZZ":
                    raise ScanFallback("invalid VR")
                known = (
                    vr.decode("ascii"),
                    False,
                )  # unknown VR: 2-byte length, as pydicom reads it
            vr_text: str | None = known[0]
            if known[1]:
                if pos + 12 > n:
                    raise _NeedMore
                length = _u32.unpack_from(buf, pos + 8)[0]
                start = pos + 12
            else:
                start = pos + 8
        else:
            length = _u32.unpack_from(buf, pos + 4)[0]
            start = pos + 8
            vr_text = None
        if tag in _PIXEL_TAGS:
            if length == _UNDEFINED:
                raise ScanFallback("encapsulated pixel data")
            out[tag] = _raw(
                RawDataElement, (tag, vr_text, length, None, start, implicit, True, True, False)
            )
            return out, start
        if length == _UNDEFINED:
            if explicit and vr_text not in ("SQ", "UN"):
                raise ScanFallback("undefined length on a non-sequence")
            end = _skip_sequence(buf, start, explicit, depth=1, path=path)
            value = buf[start:end]
            out[tag] = _raw(
                RawDataElement,
                (
                    tag,
                    "SQ" if vr_text in (None, "UN") else vr_text,
                    len(value),
                    value,
                    start,
                    implicit,
                    True,
                    True,
                    False,
                ),
            )
            pos = end + 8  # past the Sequence Delimitation Item
            continue
        end = start + length
        if end > n:
            raise _NeedMore
        out[tag] = _raw(
            RawDataElement,
            (tag, vr_text, length, buf[start:end], start, implicit, True, True, False),
        )
        pos = end


def _skip_sequence(buf: bytes, pos: int, explicit: bool, depth: int, path: str) -> int:
    """Offset of the Sequence Delimitation Item ending the undefined-length sequence at ``pos``."""
    if depth > MAX_DEPTH:
        raise HostileInputError(
            f"sequences nested more than {MAX_DEPTH} deep; refusing the file", path
        )
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _NeedMore
        group, element, length = _tag_len.unpack_from(buf, pos)
        tag = group << 16 | element
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise ScanFallback("expected an item")
        pos += 8
        if length != _UNDEFINED:
            pos += length
            continue
        pos = _skip_item(buf, pos, explicit, depth, path) + 8


def _skip_item(buf: bytes, pos: int, explicit: bool, depth: int, path: str) -> int:
    """Offset of the Item Delimitation Item ending the undefined-length item at ``pos``."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _NeedMore
        group, element = _u16.unpack_from(buf, pos)
        tag = group << 16 | element
        if tag == _ITEM_END:
            return pos
        if explicit:
            vr = buf[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                length = _u32.unpack_from(buf, pos + 8)[0]
                start = pos + 12
            elif b"AA" <= vr <= b"ZZ":
                length = struct.unpack_from("<H", buf, pos + 6)[0]
                start = pos + 8
            else:
                raise ScanFallback("invalid VR in item")
        else:
            length = _u32.unpack_from(buf, pos + 4)[0]
            start = pos + 8
        if length == _UNDEFINED:
            pos = _skip_sequence(buf, start, explicit, depth + 1, path) + 8
        else:
            pos = start + length
