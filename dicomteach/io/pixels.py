"""Stored pixel values of instances, placed into a preallocated volume array.

Native little-endian data on disk is read straight into the array (no copy);
everything else is decoded by pydicom with the pylibjpeg, pyjpegls and Pillow
plugins, one instance at a time, so that peak memory stays near the size of
the final array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dicomteach.errors import PixelDataError, UnsupportedError
from dicomteach.io.instance import Instance

_DECODER_PACKAGES = {
    "JPEG Baseline": "pylibjpeg-libjpeg",
    "JPEG Extended": "pylibjpeg-libjpeg",
    "JPEG Lossless": "pylibjpeg-libjpeg",
    "JPEG-LS": "pyjpegls",
    "JPEG 2000": "pylibjpeg-openjpeg",
    "RLE": "pylibjpeg-rle",
}


def decode(inst: Instance) -> np.ndarray:
    """All frames of ``inst`` as stored values, shape ``(frames, rows, columns[, 3])``.

    Colour is returned as RGB: YBR is converted (PS3.3 C.7.6.3.1.2) and PALETTE
    COLOR is looked up (C.7.6.3.1.5).
    """
    if inst.pixel_offset is not None:
        out = np.empty(_shape(inst), dtype=inst.dtype)
        read_native_frames(inst, range(inst.n_frames), [out[k] for k in range(inst.n_frames)])
        return out
    ds = inst.ds
    ts = inst.transfer_syntax
    if ts.is_encapsulated:
        _check_codestreams(inst)
    try:
        arr = ds.pixel_array
        if inst.photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            arr = apply_color_lut(arr, ds)
    except MemoryError:
        raise PixelDataError("not enough memory to decode the pixel data", inst.name) from None
    except Exception as exc:  # noqa: BLE001 - decoders raise anything; name it once
        text = " ".join(str(exc).split())
        # pydicom prefixes every plugin's failure with the same sentence; keep what differs
        text = text.replace(
            "Unable to decode as exceptions were raised by all available plugins: ", ""
        )[:200]
        if "no pixel data decoders" in text.lower() or "missing required dependencies" in text.lower():
            package = next((p for k, p in _DECODER_PACKAGES.items() if k in ts.name), "a decoder plugin")
            raise UnsupportedError(
                f"cannot decode {ts.name} pixel data: install {package}", inst.name
            ) from None
        if "less than expected" in text or "truncat" in text.lower():
            raise PixelDataError(f"pixel data is cut short ({text})", inst.name) from None
        raise PixelDataError(f"cannot decode the {ts.name} pixel data ({text})", inst.name) from None
    arr = np.asarray(arr)
    want = _shape(inst)
    if arr.shape != want:
        arr = arr.reshape(want) if arr.size == int(np.prod(want)) else arr
    if arr.shape != want:
        raise PixelDataError(
            f"decoded pixels have shape {arr.shape}, the header says {want}", inst.name
        )
    return arr


def _check_codestreams(inst: Instance) -> None:
    """Compare each compressed frame's own size with Rows×Columns before any decoder runs.

    Decoders allocate what the codestream's frame header (JPEG SOF, JPEG-LS
    SOF55, JPEG 2000 SIZ) says, not what the DICOM header says: a 100×100
    image whose JPEG claims 65535×65535 makes a decoder ask for gigabytes.
    """
    from io import BytesIO

    from pydicom.encaps import generate_fragments, parse_basic_offsets

    try:
        buffer = BytesIO(inst.ds.PixelData)
        parse_basic_offsets(buffer)
        fragments = generate_fragments(buffer)
        for fragment in fragments:
            size = _codestream_size(fragment)
            if size is None:
                continue  # a continuation fragment, or a codec without a size header here
            kind, rows, columns, components = size
            # rows 0: JPEG allows the height to follow in a DNL marker
            if columns != inst.columns or rows not in (0, inst.rows) or components > 4:
                raise PixelDataError(
                    f"the {kind} codestream is {columns}×{rows} with {components} component(s), "
                    f"the header says {inst.columns}×{inst.rows}; refusing to decode it",
                    inst.name,
                )
    except PixelDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - item tags or lengths are damaged
        text = " ".join(str(exc).split())[:200]
        raise PixelDataError(f"encapsulated pixel data is damaged ({text})", inst.name) from None


#: JPEG start-of-frame markers (ISO/IEC 10918-1 B.1.1.3) and JPEG-LS SOF55 (14495-1).
_SOF = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}) | {0xF7}


def _codestream_size(data: bytes) -> tuple[str, int, int, int] | None:
    """(codec, rows, columns, components) from a frame's first fragment, or None."""
    if data[:2] == b"\xff\xd8":  # JPEG / JPEG-LS: walk the marker segments to the frame header
        at = 2
        for _ in range(256):  # a real header has a handful of segments before SOF
            while data[at : at + 1] == b"\xff" and data[at + 1 : at + 2] == b"\xff":
                at += 1  # fill bytes
            if len(data) < at + 10 or data[at] != 0xFF:
                return None
            marker = data[at + 1]
            if marker in _SOF:
                kind = "JPEG-LS" if marker == 0xF7 else "JPEG"
                rows = int.from_bytes(data[at + 5 : at + 7], "big")
                columns = int.from_bytes(data[at + 7 : at + 9], "big")
                return kind, rows, columns, data[at + 9]
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        return None
    start = data.find(b"\xff\x4f\xff\x51", 0, 256)  # JPEG 2000 SOC then SIZ, maybe inside a JP2 box
    if start < 0 or len(data) < start + 42:
        return None
    x, y, x0, y0 = (int.from_bytes(data[start + k : start + k + 4], "big") for k in (8, 12, 16, 20))
    components = int.from_bytes(data[start + 40 : start + 42], "big")
    return "JPEG 2000", y - y0, x - x0, components


def _shape(inst: Instance) -> tuple[int, ...]:
    if inst.is_color:
        return (inst.n_frames, inst.rows, inst.columns, 3)
    return (inst.n_frames, inst.rows, inst.columns)


def read_native_frames(inst: Instance, frame_indices: Sequence[int], targets: Sequence[np.ndarray]) -> None:
    """Read native little-endian frames from disk into ``targets`` (C-contiguous frame arrays).

    Unused high bits are cleared and signed values sign-extended as pydicom
    does (PS3.5 8.1.1: the bits above Bits Stored carry no meaning).
    """
    assert inst.pixel_offset is not None and inst.source.path is not None
    dtype = inst.dtype
    frame_bytes = inst.rows * inst.columns * inst.samples * dtype.itemsize
    shift = inst.bits_allocated - inst.bits_stored
    with open(inst.source.path, "rb", buffering=0) as fh:
        for index, target in zip(frame_indices, targets, strict=True):
            fh.seek(inst.pixel_offset + index * frame_bytes)
            if target.dtype == dtype and target.flags.c_contiguous:
                buf = target
            else:
                buf = np.empty(target.shape, dtype=dtype)
            view = memoryview(buf).cast("B")
            got = fh.readinto(view)
            while got is not None and got < frame_bytes:
                more = fh.readinto(view[got:])
                if not more:
                    break
                got += more
            if got != frame_bytes:
                raise PixelDataError(
                    f"pixel data is cut short at frame {index + 1} of {inst.n_frames}", inst.name
                )
            if shift and dtype.kind in "iu":
                np.left_shift(buf, shift, out=buf)
                np.right_shift(buf, shift, out=buf)
            if buf is not target:
                target[...] = buf
