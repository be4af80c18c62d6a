"""Burned-in text: which images may carry it, and blanking the regions an instructor names.

PS3.15 E.3.1 (Clean Pixel Data Option) leaves finding the text to a person; the
profile's Basic action cannot remove it. dicomteach stops on an image that says
it carries burned-in annotation (Burned In Annotation (0028,0301) = YES), or that
does not say and is of a modality where text in the pixels is common:
:data:`SUSPECT_MODALITIES`. Cross-sectional images (CT, MR, PT, NM…) without the
attribute pass: their scanners keep text out of the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomteach.errors import DicomTeachError, PixelDataError

#: Modalities whose images often carry names or dates in their pixels when Burned In
#: Annotation is absent: ultrasound, secondary captures and other screenshots, X-ray
#: angiography and fluoroscopy, endoscopy and photographs, and projection radiography
#: (old CR/DX plates often print the patient's name label into the image).
SUSPECT_MODALITIES = frozenset(
    {"US", "SC", "OT", "XA", "RF", "ES", "XC", "GM", "SM", "CR", "DX", "MG", "IO", "PX", "DOC"}
)


class BurnedInAnnotationError(DicomTeachError):
    """An image may show identifying text in its pixels and no decision was given."""


@dataclass(frozen=True)
class Region:
    """A rectangle of pixels to set to 0: column ``x``, row ``y``, width, height."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Region:
        """``"x,y,w,h"`` → Region.

        >>> Region.parse("0,0,120,40")
        Region(x=0, y=0, width=120, height=40)
        """
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError:
            raise ValueError(
                f"Argument 'blank' must be 'x,y,w,h' in whole pixels, not '{text}'."
            ) from None
        if min(x, y) < 0 or min(w, h) <= 0:
            raise ValueError(f"Argument 'blank' must have x, y ≥ 0 and w, h > 0, not '{text}'.")
        return cls(x, y, w, h)


def burned_in_risk(ds: Dataset) -> str | None:
    """Why ``ds``'s pixels may hold identifying text, or None when they should not.

    >>> ds = Dataset(); ds.Modality = "US"; ds.PixelData = b""
    >>> burned_in_risk(ds)
    'Burned In Annotation is absent and US images often carry text'
    >>> ds.BurnedInAnnotation = "NO"
    >>> burned_in_risk(ds) is None
    True
    """
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        return None
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return "Burned In Annotation is YES"
    if flag == "NO":
        return None
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in SUSPECT_MODALITIES:
        return f"Burned In Annotation is absent and {modality} images often carry text"
    return None


def blank_regions(ds: Dataset, regions: list[Region], name: str) -> bool:
    """Set ``regions`` to 0 in every frame of ``ds``; return True if the data was recompressed
    away (compressed input is written as Explicit VR Little Endian)."""
    ts = ds.file_meta.TransferSyntaxUID
    decompressed = ts.is_compressed
    try:
        if decompressed:
            ds.decompress()  # also updates Photometric Interpretation for YBR → RGB
        arr = ds.pixel_array.copy()
    except Exception as exc:  # noqa: BLE001 - decoders raise many kinds
        raise PixelDataError(f"cannot decode the pixels to blank them ({exc})", name) from None
    rows, cols = int(ds.Rows), int(ds.Columns)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    view = arr.reshape((frames, rows, cols, samples) if samples > 1 else (frames, rows, cols))
    for r in regions:
        if r.x >= cols or r.y >= rows:
            raise DicomTeachError(
                f"--blank {r.x},{r.y},{r.width},{r.height} lies outside the {cols}×{rows} image",
                name,
            )
        view[:, r.y : r.y + r.height, r.x : r.x + r.width] = 0
    if int(ds.get("PlanarConfiguration", 0) or 0) == 1 and samples > 1:
        data = np.ascontiguousarray(view.transpose(0, 3, 1, 2)).tobytes()
    else:
        data = np.ascontiguousarray(view).tobytes()
    if int(ds.BitsAllocated) == 1:
        raise PixelDataError("1-bit pixel data cannot be blanked", name)
    ds.PixelData = data + (b"\0" if len(data) % 2 else b"")
    if decompressed:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return decompressed
