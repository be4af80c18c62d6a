"""The objects every layer above ``io`` receives: :class:`Volume`, :class:`Series`, :class:`Study`.

A :class:`Volume` keeps the *stored* pixel values (what the file holds, e.g.
int16 for CT) together with the per-frame rescale, so that pixels can go to
the browser once and every transform (modality LUT, VOI LUT, inversion) is
applied where it is displayed. ``dicomteach.imaging`` holds the reference
implementation of those transforms.

Array axes are ``(frame, row, column)`` (and a trailing sample axis of 3 for
colour). ``spacing``, ``origin`` and ``direction`` follow the same order and
are expressed in the DICOM patient coordinate system (LPS, millimetres), so
the patient position of voxel ``(k, i, j)`` is::

    origin + k * spacing[0] * direction[0]
           + i * spacing[1] * direction[1]
           + j * spacing[2] * direction[2]
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from pydicom.dataset import Dataset


class FrameAxis(StrEnum):
    """What the first array axis of a :class:`Volume` runs along."""

    SINGLE = "single"
    """One 2D image (a radiograph, a photograph, one slice)."""
    SLICE = "slice"
    """Parallel planes through the patient, ordered along the slice direction."""
    TIME = "time"
    """Frames of a cine loop, in acquisition order (ultrasound, fluoroscopy)."""
    FRAMES = "frames"
    """Frames that form no regular stack (kept in file order, see ``Volume.warnings``)."""


@dataclass(frozen=True)
class Window:
    """One window the header proposes, PS3.3 C.11.2.1.2 (Window Center/Width).

    ``function`` is the VOI LUT Function (0028,1056): ``LINEAR`` (the default),
    ``LINEAR_EXACT`` or ``SIGMOID``. Values are in the units after the modality
    LUT (Hounsfield units for CT).
    """

    center: float
    width: float
    explanation: str = ""
    function: str = "LINEAR"


@dataclass(frozen=True)
class LutTable:
    """A lookup table from a Modality LUT or VOI LUT Sequence, PS3.3 C.11.1 / C.11.2.

    ``first_mapped`` is the stored value mapped to ``data[0]``; values below map
    to ``data[0]`` and values above to ``data[-1]``. ``bits`` is the number of
    bits of each entry (LUT Descriptor, third value). ``lut_type`` is the
    Modality LUT Type (e.g. ``HU``, ``OD``); empty for VOI LUTs.
    """

    first_mapped: int
    bits: int
    data: np.ndarray
    explanation: str = ""
    lut_type: str = ""


@dataclass
class Volume:
    """An image or a stack of images with its geometry and the header fields above ``io`` needs."""

    pixels: np.ndarray
    """Stored values, ``(frames, rows, columns)``; colour is RGB ``(frames, rows, columns, 3)``."""
    spacing: tuple[float, float, float]
    """Millimetres between frames, between rows and between columns (array axis order)."""
    origin: tuple[float, float, float]
    """Patient position (LPS, mm) of the centre of ``pixels[0, 0, 0]``."""
    direction: np.ndarray
    """3×3: row ``k`` is the LPS unit vector along array axis ``k``."""
    modality: str = ""
    manufacturer: str = ""
    photometric: str = "MONOCHROME2"
    """Photometric Interpretation as stored; colour is converted to RGB in ``pixels``."""
    rescale_slope: np.ndarray = field(default_factory=lambda: np.ones(1))
    """Per frame: Rescale Slope (0028,1053), or 1."""
    rescale_intercept: np.ndarray = field(default_factory=lambda: np.zeros(1))
    """Per frame: Rescale Intercept (0028,1052), or 0."""
    modality_lut: LutTable | None = None
    units: str = ""
    """Units after the modality LUT: ``HU`` for CT, ``SUVbw`` after SUV conversion, ``BQML``…"""
    windows: tuple[Window, ...] = ()
    voi_luts: tuple[LutTable, ...] = ()
    header: Dataset = field(default_factory=Dataset)
    """The header of the first instance (pixel data removed)."""
    frame_axis: FrameAxis = FrameAxis.SINGLE
    frame_time_ms: float | None = None
    sources: tuple[tuple[str, int], ...] = ()
    """For each frame: the file it came from and the frame index inside that file."""
    positions: np.ndarray | None = None
    """For stacks: the LPS position (mm) of each frame's first pixel, as the header gives it."""
    warnings: list[str] = field(default_factory=list)
    """Geometry problems a viewer would show: missing slices, irregular spacing, gantry tilt."""
    geometry_known: bool = True
    """False when the header gives no position/orientation (e.g. CR): geometry is nominal."""
    bits_stored: int = 16
    pixel_representation: int = 0
    """0: unsigned stored values, 1: two's complement."""
    transfer_syntax: str = ""

    @property
    def is_color(self) -> bool:
        """True for RGB pixels (converted from RGB, YBR or PALETTE COLOR)."""
        return self.pixels.ndim == 4

    @property
    def inverted(self) -> bool:
        """True for MONOCHROME1: the lowest value is displayed white (PS3.3 C.7.6.3.1.2)."""
        return self.photometric == "MONOCHROME1"

    @property
    def n_frames(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def rows(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def columns(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def series_uid(self) -> str:
        return str(self.header.get("SeriesInstanceUID", ""))

    @property
    def study_uid(self) -> str:
        return str(self.header.get("StudyInstanceUID", ""))

    @property
    def description(self) -> str:
        return str(self.header.get("SeriesDescription", "") or "")

    @property
    def affine(self) -> np.ndarray:
        """4×4 matrix from ``(k, i, j, 1)`` voxel indices to LPS millimetres."""
        a = np.eye(4)
        a[:3, :3] = (self.direction * np.asarray(self.spacing)[:, None]).T
        a[:3, 3] = self.origin
        return a

    def index_to_lps(self, index: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Patient coordinates (LPS, mm) of voxel indices ``(k, i, j)`` (any leading shape).

        Examples
        --------
        >>> from pydicom.data import get_testdata_file
        >>> from dicomteach import io
        >>> vol = io.load(get_testdata_file("CT_small.dcm", download=False))
        >>> vol.index_to_lps((0, 0, 0)).tolist() == list(vol.origin)
        True
        >>> vol.lps_to_index(vol.index_to_lps((0, 10, 20))).round(6).tolist()
        [0.0, 10.0, 20.0]
        """
        idx = np.asarray(index, dtype=float)
        return idx @ (self.direction * np.asarray(self.spacing)[:, None]) + np.asarray(self.origin)

    def lps_to_index(self, point: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Fractional voxel indices ``(k, i, j)`` of LPS points (inverse of :meth:`index_to_lps`)."""
        m = self.direction * np.asarray(self.spacing)[:, None]
        return (np.asarray(point, dtype=float) - np.asarray(self.origin)) @ np.linalg.inv(m)

    def summary(self) -> list[tuple[str, str]]:
        """What the volume is, in words a reader of the study would use, row by row.

        >>> from pydicom.data import get_testdata_file
        >>> from dicomteach import io
        >>> for name, text in io.load(get_testdata_file("CT_small.dcm", download=False)).summary():
        ...     print(f"{name}: {text}")
        Image: CT from GE MEDICAL SYSTEMS
        Size: 1 image of 128 × 128 pixels
        Pixel spacing: 0.66 × 0.66 mm, 5 mm thick
        Values: int16 stored, shown in HU (value × 1 − 1024)
        """
        what = self.modality or "An image"
        if self.manufacturer:
            what += f" from {self.manufacturer}"
        if self.description:
            what += f" ({self.description})"
        n = self.n_frames
        frames = {
            FrameAxis.SLICE: f"{n} slices",
            FrameAxis.TIME: f"{n} frames in time",
        }.get(self.frame_axis, f"{n} images" if n > 1 else "1 image")
        colour = ", colour" if self.is_color else ""
        rows = [
            ("Image", what),
            ("Size", f"{frames} of {self.rows} × {self.columns} pixels{colour}"),
        ]
        pixel = f"{_mm(self.spacing[1])} × {_mm(self.spacing[2])} mm"
        if self.frame_axis == FrameAxis.SLICE:
            pixel += f", slices {_mm(self.spacing[0])} mm apart"
        elif n == 1 and self.header.get("SliceThickness"):
            pixel += f", {_mm(float(self.header.SliceThickness))} mm thick"
        rows.append(("Pixel spacing", pixel))
        slope, intercept = float(self.rescale_slope[0]), float(self.rescale_intercept[0])
        values = f"{self.pixels.dtype} stored"
        if self.units or (slope, intercept) != (1.0, 0.0):
            sign = "−" if intercept < 0 else "+"
            values += f", shown in {self.units or 'rescaled values'}"
            values += f" (value × {slope:g} {sign} {abs(intercept):g})"
        if self.inverted:
            values += "; MONOCHROME1: low values are shown white"
        rows.append(("Values", values))
        rows += [("Note", warning) for warning in self.warnings]
        return rows

    def _repr_html_(self) -> str:
        """A small table in notebooks and apps, where the text repr would be Python."""
        cells = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(text)}</td></tr>"
            for name, text in self.summary()
        )
        return f"<table class='dt-volume'>{cells}</table>"

    def __repr__(self) -> str:
        return (
            f"Volume({self.modality or '?'} {self.manufacturer or ''}".rstrip()
            + f", shape={tuple(self.pixels.shape)}, spacing={tuple(round(s, 4) for s in self.spacing)}"
            f", frame_axis={self.frame_axis.value}, photometric={self.photometric})"
        )


def _mm(value: float) -> str:
    """A length in mm as a reader writes it: 0.66, 2.5, 5 (two decimals at most)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class Series:
    """One DICOM series (Series Instance UID) and the volumes it was assembled into.

    A series normally gives one volume; it gives several when it mixes
    orientations, image sizes or acquisitions (a scout with its axials, two
    echoes, two stacks), as a PACS viewer would split it.
    """

    series_uid: str
    modality: str
    description: str
    number: int | None
    volumes: list[Volume] = field(default_factory=list)

    @property
    def volume(self) -> Volume:
        """The only volume of the series (error if the series was split)."""
        from dicomteach.errors import SeriesError

        if len(self.volumes) != 1:
            raise SeriesError(
                f"series {self.series_uid} was split into {len(self.volumes)} volumes; "
                "pick one from .volumes"
            )
        return self.volumes[0]


@dataclass
class Study:
    """One study (Study Instance UID) with its image series and its other instances."""

    study_uid: str
    description: str
    date: str
    patient_id: str
    series: list[Series] = field(default_factory=list)
    others: list[tuple[str, Dataset]] = field(default_factory=list)
    """Instances without an image to show (SR, RTSTRUCT, RT PLAN, …): (path, header)."""
