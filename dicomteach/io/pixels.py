"""Stored pixel values of instances, placed into a preallocated volume array.

Native little-endian data on disk is read straight into the array (no copy);
everything else is decoded by pydicom with the pylibjpeg, pyjpegls and Pillow
plugins, one instance at a time, so that peak memory stays near the size of
the final array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom.pixels

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


def decode(inst: Instance, *, palette: bool = True) -> np.ndarray:
    """All frames of ``inst`` as stored values, shape ``(frames, rows, columns[, 3])``.

    Colour is returned as RGB: YBR is converted (PS3.3 C.7.6.3.1.2) and PALETTE
    COLOR is looked up (C.7.6.3.1.5) unless ``palette`` is False.
    """
    if inst.pixel_offset is not None:
        out = np.empty(_shape(inst), dtype=inst.dtype)
        read_native_frames(inst, range(inst.n_frames), [out[k] for k in range(inst.n_frames)])
        return out
    ds = inst.ds
    ts = inst.transfer_syntax
    try:
        # the function, not ds.pixel_array: that would keep a decoded copy inside the header
        arr = pydicom.pixels.pixel_array(ds)
        if inst.photometric == "PALETTE COLOR" and palette:
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
        if (
            "no pixel data decoders" in text.lower()
            or "missing required dependencies" in text.lower()
        ):
            package = next(
                (p for k, p in _DECODER_PACKAGES.items() if k in ts.name), "a decoder plugin"
            )
            raise UnsupportedError(
                f"cannot decode {ts.name} pixel data: install {package}", inst.name
            ) from None
        if "less than expected" in text or "truncat" in text.lower():
            raise PixelDataError(f"pixel data is cut short ({text})", inst.name) from None
        raise PixelDataError(
            f"cannot decode the {ts.name} pixel data ({text})", inst.name
        ) from None
    arr = np.asarray(arr)
    want = _shape(inst, palette)
    if arr.shape != want:
        arr = arr.reshape(want) if arr.size == int(np.prod(want)) else arr
    if arr.shape != want:
        raise PixelDataError(
            f"decoded pixels have shape {arr.shape}, the header says {want}", inst.name
        )
    return arr


def _shape(inst: Instance, palette: bool = True) -> tuple[int, ...]:
    if inst.samples == 3 or (palette and inst.photometric == "PALETTE COLOR"):
        return (inst.n_frames, inst.rows, inst.columns, 3)
    return (inst.n_frames, inst.rows, inst.columns)


def read_native_frames(
    inst: Instance, frame_indices: Sequence[int], targets: Sequence[np.ndarray]
) -> None:
    """Read native little-endian frames from disk into ``targets`` (C-contiguous frame arrays).

    Unused high bits are cleared and signed values sign-extended as pydicom
    does (PS3.5 8.1.1: the bits above Bits Stored carry no meaning).
    """
    assert inst.pixel_offset is not None and inst.source.path is not None
    dtype = inst.dtype
    frame_bytes = inst.rows * inst.columns * inst.samples * dtype.itemsize
    shift = inst.bits_allocated - inst.bits_stored
    try:
        fh = open(inst.source.path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise PixelDataError(
            f"cannot read the pixel data ({exc.strerror or exc})", inst.name
        ) from None
    with fh:
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
            if shift and dtype.kind in "iu" and _uses_unused_bits(buf, inst.bits_stored):
                np.left_shift(buf, shift, out=buf)
                np.right_shift(buf, shift, out=buf)
            if buf is not target:
                target[...] = buf


def _uses_unused_bits(frame: np.ndarray, bits_stored: int) -> bool:
    """True when values fall outside what Bits Stored can hold (the shift would change them).

    One read pass instead of the two read-write passes of the shift: scanners
    mostly leave the unused bits clear (unsigned) or sign-extended (signed).
    """
    if frame.dtype.kind == "u":
        return int(frame.max()) >> bits_stored != 0
    low, high = -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return int(frame.min()) < low or int(frame.max()) > high
