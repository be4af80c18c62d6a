"""Limits and first checks that keep hostile or broken input from costing time or memory.

Everything here runs *before* pydicom parses a byte: sniff what the file is,
refuse what claims more memory than allowed, and measure how far a deflated
data set inflates without keeping the inflated bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from dicomteach.errors import HostileInputError, NotDicomError, PixelDataError

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How much one read may spend. The defaults keep ``dicomteach info`` under 1 GiB."""

    max_file_bytes: int = 512 * MiB
    """Largest single file read (a larger one is refused before it is opened)."""
    max_pixel_bytes: int = 512 * MiB
    """Largest decoded image of one file (Rows × Columns × Frames × Samples × BitsAllocated/8)."""
    max_volume_bytes: int = 4096 * MiB
    """Largest assembled series."""
    max_inflated_bytes: int = 256 * MiB
    """Largest data set a Deflated Explicit VR Little Endian file may inflate to."""
    max_zip_member_bytes: int = 512 * MiB
    """Largest file taken out of a zip archive."""
    max_frames: int = 100_000
    """Most frames in one file: each costs per-frame bookkeeping even when its pixels are tiny."""
    max_sequence_depth: int = 64
    """Deepest sequence nesting accepted. Real objects (SR trees included) nest a few
    levels; thousands of levels exhaust Python's recursion in pydicom and in anything
    that later walks the header (printing it, copying it)."""


DEFAULT_LIMITS = Limits()

#: Magic numbers of formats people rename to ``.dcm`` by mistake, for a useful message.
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BM", "a BMP image"),
    (b"\x5c\xa1\x1b\x00", "a NIfTI image"),
)

#: Two-letter Value Representations (PS3.5 6.2) used to recognise explicit VR without a preamble.
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)


def sniff(head: bytes, path: str) -> bool:
    """Classify the first bytes of a file.

    Returns ``True`` for a DICOM Part 10 file (preamble and ``DICM``), ``False``
    for a bare data set without preamble or file meta that still starts like
    DICOM (PS3.10 7.1 allows neither to be missing in media, but old modalities
    and PACS exports write them). Raises :class:`NotDicomError` otherwise.
    """
    if not head:
        raise NotDicomError("empty file (0 bytes); not a DICOM file", path)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise NotDicomError(f"this is {what}, not DICOM", path)
    if head.startswith(b"DICM"):
        return False
    if len(head) >= 8:
        group = int.from_bytes(head[0:2], "little")
        element = int.from_bytes(head[2:4], "little")
        # a bare data set starts with group 0002 (meta without preamble) or 0008 (identifying)
        if group in (0x0002, 0x0008) and element < 0x1000:
            if head[4:6] in _VRS:
                return False
            length = int.from_bytes(head[4:8], "little")
            if length < 0x10000:
                return False
        # Explicit VR Big Endian (retired, still met in old archives): same test, other byte order
        if int.from_bytes(head[0:2], "big") in (0x0002, 0x0008) and head[4:6] in _VRS:
            return False
    if len(head) < 132:
        raise NotDicomError(
            f"not DICOM: only {len(head)} bytes and no DICOM element at the start", path
        )
    raise NotDicomError(
        "not DICOM: no 'DICM' marker at byte 128 and no DICOM element at the start", path
    )


def refuse_deflate_bomb(fp: BinaryIO, limit: int, path: str) -> None:
    """For a Part 10 file in Deflated Explicit VR Little Endian, measure the inflated size first.

    ``fp`` is at the start of the file and is left there. Damaged file meta
    is left for the full parse to report.
    """
    import warnings

    from pydicom.filereader import _read_file_meta_info, read_preamble
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged meta values: the full parse reports them
            read_preamble(fp, False)
            meta = _read_file_meta_info(fp)
            deflated = meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except Exception:  # noqa: BLE001 - the full parse reports the problem
        deflated = False
    if deflated:
        check_inflated_size(fp, limit, path)
    fp.seek(0)


def check_inflated_size(fp: BinaryIO, limit: int, path: str) -> int:
    """Inflate the rest of ``fp`` in chunks, keeping nothing, and refuse past ``limit`` bytes.

    A Deflated Explicit VR Little Endian data set (PS3.5 A.5) is inflated whole
    by pydicom; a few kilobytes can inflate to gigabytes. Returns the inflated
    size; ``fp`` is left where it was.
    """
    start = fp.tell()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while True:
            chunk = fp.read(1 << 16)
            if not chunk:
                break
            data = inflater.decompress(chunk, 1 << 20)
            total += len(data)
            while inflater.unconsumed_tail and total <= limit:
                data = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
                total += len(data)
            if total > limit:
                raise HostileInputError(
                    f"deflated data set inflates to more than {limit // MiB} MiB "
                    f"(a deflate bomb?); refusing to read it",
                    path,
                )
            if inflater.eof:
                break
        total += len(inflater.flush())
    except zlib.error as exc:
        raise NotDicomError(f"deflated data set is corrupt ({exc})", path) from None
    finally:
        fp.seek(start)
    return total


#: JPEG start-of-frame markers (ISO/IEC 10918-1 B.1.1.3) and JPEG-LS SOF55 (14495-1).
_SOF = frozenset(set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}) | {0xF7}
_ITEM, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD


def check_codestreams(encapsulated: bytes, rows: int, columns: int, path: str) -> None:
    """Compare each compressed frame's own size with Rows × Columns before any decoder runs.

    Decoders allocate what the codestream's frame header (JPEG SOF, JPEG-LS
    SOF55, JPEG 2000 SIZ) says, not what the DICOM header says: a 100×100
    image whose JPEG claims 65535×65535 makes a decoder ask for 12 GiB.
    ``encapsulated`` is the Pixel Data value (PS3.5 A.4): a Basic Offset
    Table item, then fragment items. Only the first bytes of each are read.
    """
    view = memoryview(encapsulated)
    pos, index = 0, 0
    while pos + 8 <= len(view):
        group, element, length = struct.unpack_from("<HHI", view, pos)
        tag = group << 16 | element
        if tag == _SEQUENCE_END:
            return
        if tag != _ITEM or length == 0xFFFFFFFF:
            raise PixelDataError(
                f"encapsulated pixel data is damaged: no fragment item at byte {pos} of it", path
            )
        size = (
            codestream_size(bytes(view[pos + 8 : pos + 8 + min(length, 4096)])) if index else None
        )
        if size is not None:  # None: the offset table, a continuation fragment, or RLE
            kind, height, width, components = size
            # height 0: JPEG allows it to follow in a DNL marker
            if width != columns or height not in (0, rows) or components > 4:
                raise PixelDataError(
                    f"the {kind} codestream of fragment {index} is {width}×{height} with "
                    f"{components} component(s), the header says {columns}×{rows}; "
                    "refusing to decode it",
                    path,
                )
        pos += 8 + length
        index += 1


def codestream_size(data: bytes) -> tuple[str, int, int, int] | None:
    """(codec, rows, columns, components) from the start of a compressed frame, or None."""
    if data[:2] == b"\xff\xd8":  # JPEG / JPEG-LS: walk the marker segments to the frame header
        at = 2
        for _ in range(64):  # a real header has a handful of segments before SOF
            while data[at : at + 2] == b"\xff\xff":
                at += 1  # fill bytes
            if len(data) < at + 10 or data[at] != 0xFF:
                return None
            marker = data[at + 1]
            if marker in _SOF:
                kind = "JPEG-LS" if marker == 0xF7 else "JPEG"
                height = int.from_bytes(data[at + 5 : at + 7], "big")
                width = int.from_bytes(data[at + 7 : at + 9], "big")
                return kind, height, width, data[at + 9]
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        return None
    # JPEG 2000: SOC then SIZ (15444-1 A.5.1), possibly after JP2 boxes
    start = data.find(b"\xff\x4f\xff\x51", 0, 256)
    if start < 0 or len(data) < start + 42:
        return None
    x, y, x0, y0 = (int.from_bytes(data[start + k : start + k + 4], "big") for k in (8, 12, 16, 20))
    components = int.from_bytes(data[start + 40 : start + 42], "big")
    return "JPEG 2000", y - y0, x - x0, components
