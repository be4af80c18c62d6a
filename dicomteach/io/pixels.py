"""Stored pixel values of instances, placed into a preallocated volume array.

Native little-endian data on disk is read straight into the array (no copy);
compressed (encapsulated) data is split into its frames, each decoded by
pydicom with the pylibjpeg, pyjpegls and Pillow plugins (:func:`decode_frame`,
in the kernel or in worker processes: :mod:`dicomteach.io.workers`);
everything else is decoded one instance at a time (:func:`decode`). Either
way peak memory stays near the size of the final array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom.pixels
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import as_pixel_options
from pydicom.uid import UID, JPEGLSTransferSyntaxes

from dicomteach.errors import DicomTeachError, PixelDataError, UnsupportedError
from dicomteach.io.instance import Instance

_DECODER_PACKAGES = {
    "JPEG Baseline": "pylibjpeg-libjpeg",
    "JPEG Extended": "pylibjpeg-libjpeg",
    "JPEG Lossless": "pylibjpeg-libjpeg",
    "JPEG-LS": "pyjpegls",
    "JPEG 2000": "pylibjpeg-openjpeg",
    "RLE": "pylibjpeg-rle",
}

#: Decoder plugins tried first where pydicom's own order picks a slower one: CharLS
#: (pyjpegls) decodes JPEG-LS about four times faster than libjpeg (pylibjpeg-libjpeg).
#: JPEG-LS decoding is exact (ISO 14495-1), so both give the same values.
_PREFERRED_PLUGINS = {uid: "pyjpegls" for uid in JPEGLSTransferSyntaxes}


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
        arr = _with_preferred_plugin(
            ts, lambda plugin: pydicom.pixels.pixel_array(ds, decoding_plugin=plugin)
        )
        if inst.photometric == "PALETTE COLOR" and palette:
            from pydicom.pixels import apply_color_lut

            arr = apply_color_lut(arr, ds)
    except Exception as exc:  # noqa: BLE001 - decoders raise anything; name it once
        raise decode_error(exc, ts, inst.name) from None
    arr = np.asarray(arr)
    want = _shape(inst, palette)
    if arr.shape != want:
        arr = arr.reshape(want) if arr.size == int(np.prod(want)) else arr
    if arr.shape != want:
        raise PixelDataError(
            f"decoded pixels have shape {arr.shape}, the header says {want}", inst.name
        )
    return arr


@dataclass(frozen=True)
class EncodedFrame:
    """One compressed frame and what a decoder needs to know about it.

    It holds no dataset, only bytes and plain values, so it pickles cheaply
    to a worker process (:mod:`dicomteach.io.workers`).
    """

    name: str
    """The file it comes from, for error messages."""
    transfer_syntax: str
    options: dict[str, Any]
    """pydicom's pixel options (rows, columns, bits, photometric…) for one frame."""
    data: bytes
    """Encapsulated pixel data (PS3.5 A.4) holding this frame alone."""
    shape: tuple[int, ...]
    """``(rows, columns[, 3])``: what the decoded frame must be."""


def splits_into_frames(inst: Instance) -> bool:
    """True when ``inst``'s frames can be decoded one by one with :func:`decode_frame`:
    compressed (encapsulated) pixel data, no palette to apply."""
    return (
        inst.pixel_offset is None
        and inst.transfer_syntax.is_encapsulated
        and inst.photometric != "PALETTE COLOR"
    )


def encoded_frames(inst: Instance) -> list[EncodedFrame] | None:
    """Each compressed frame of ``inst`` (see :func:`splits_into_frames`), in file order.

    None when the fragments do not split into exactly Number of Frames frames
    (damaged or excess fragments): :func:`decode` then decodes the instance
    whole and says what is wrong with it.
    """
    ds = inst.ds
    options = as_pixel_options(ds)
    shape = _shape(inst)[1:]
    encapsulated = ds.PixelData
    if inst.n_frames == 1:
        return [EncodedFrame(inst.name, str(inst.transfer_syntax), options, encapsulated, shape)]
    options["number_of_frames"] = 1
    extended = options.pop("extended_offsets", None)
    try:
        frames = generate_frames(
            encapsulated, number_of_frames=inst.n_frames, extended_offsets=extended
        )
        found = [next(frames) for _ in range(inst.n_frames)]
        if next(frames, None) is not None:
            return None
    except Exception:  # noqa: BLE001 - damaged items: decode() reports it in its words
        return None
    return [
        EncodedFrame(inst.name, str(inst.transfer_syntax), options, encapsulate([f]), shape)
        for f in found
    ]


def decode_frame(frame: EncodedFrame) -> np.ndarray:
    """One frame's stored values, shape ``frame.shape`` (YBR converted to RGB, as :func:`decode`).

    Raises the same one-line :class:`~dicomteach.errors.DicomTeachError` as
    :func:`decode`, naming the file.
    """
    ts = UID(frame.transfer_syntax)
    try:
        decoder = pydicom.pixels.get_decoder(ts)
        arr = _with_preferred_plugin(
            ts,
            lambda plugin: decoder.as_array(
                frame.data, validate=True, decoding_plugin=plugin, **frame.options
            )[0],
        )
    except Exception as exc:  # noqa: BLE001 - decoders raise anything; name it once
        raise decode_error(exc, ts, frame.name) from None
    if arr.shape != frame.shape:
        if arr.size != int(np.prod(frame.shape)):
            raise PixelDataError(
                f"decoded frame has shape {arr.shape}, the header says {frame.shape}", frame.name
            )
        arr = arr.reshape(frame.shape)
    return arr


def _with_preferred_plugin(ts: UID, run):
    """``run(plugin)`` with the preferred plugin for ``ts``, then with every plugin if it fails."""
    plugin = _PREFERRED_PLUGINS.get(ts, "")
    if plugin and plugin in pydicom.pixels.get_decoder(ts).available_plugins:
        try:
            return run(plugin)
        except Exception:  # noqa: BLE001 - the others may still read it; they report if not
            pass
    return run("")


def decode_error(exc: BaseException, ts: UID, name: str) -> DicomTeachError:
    """The one-line error for a decoder's failure on file ``name``."""
    if isinstance(exc, DicomTeachError):
        return exc
    if isinstance(exc, MemoryError):
        return PixelDataError("not enough memory to decode the pixel data", name)
    text = " ".join(str(exc).split())
    # pydicom prefixes every plugin's failure with the same sentence; keep what differs
    text = text.replace(
        "Unable to decode as exceptions were raised by all available plugins: ", ""
    )[:200]
    if "no pixel data decoders" in text.lower() or "missing required dependencies" in text.lower():
        package = next(
            (p for k, p in _DECODER_PACKAGES.items() if k in ts.name), "a decoder plugin"
        )
        return UnsupportedError(f"cannot decode {ts.name} pixel data: install {package}", name)
    if "less than expected" in text or "truncat" in text.lower():
        return PixelDataError(f"pixel data is cut short ({text})", name)
    return PixelDataError(f"cannot decode the {ts.name} pixel data ({text})", name)


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
