"""Per-frame geometry, rescale and windows of an instance, and the LUTs of its header.

Single-frame objects, classic multi-frame objects (NM SPECT stacked by Slice
Vector, cine loops) and enhanced objects (per-frame and shared functional
groups, PS3.3 C.7.6.16) all become a list of :class:`FrameInfo` that series
assembly treats alike. :func:`read_frames` reads a parsed header and returns
what it found as a :class:`FrameLayout`; it knows nothing of the
:class:`~dicomteach.io.instance.Instance` that keeps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from dicomteach.io.values import value as _v
from dicomteach.io.volume import FrameAxis, LutTable, Window

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
class FrameLayout:
    """What :func:`read_frames` found in one header: its frames and how they are laid out."""

    frames: list[FrameInfo] = field(default_factory=list)
    axis: FrameAxis = FrameAxis.SINGLE
    """What the frames are: slices of a stack, times of a cine loop, or just frames."""
    frame_time_ms: float | None = None
    """Time between the frames of a cine loop (FrameAxis.TIME)."""
    nominal_spacing: tuple[float, float] | None = None
    """Row and column spacing for images without position (CR/DX/US/OP)."""
    nominal_direction: np.ndarray | None = None
    """Row and column cosines from Patient Orientation, for images without position."""
    warnings: list[str] = field(default_factory=list)

    @property
    def positioned(self) -> bool:
        """True when every frame has a position and orientation (can take part in a stack)."""
        return bool(self.frames) and all(
            f.position is not None and f.orientation is not None for f in self.frames
        )


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


def read_frames(ds: Dataset, n_frames: int) -> FrameLayout:
    """The frames of a header holding ``n_frames`` frames: geometry, rescale, windows, layout.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from pydicom import dcmread
    >>> layout = read_frames(dcmread(get_testdata_file("CT_small.dcm", download=False)), 1)
    >>> layout.axis.value, layout.positioned, layout.frames[0].intercept
    ('single', True, -1024.0)
    """
    slope = _float(_v(ds, "RescaleSlope"))
    intercept = _float(_v(ds, "RescaleIntercept"))
    slope = 1.0 if slope is None or slope == 0 else slope
    intercept = 0.0 if intercept is None else intercept

    # tags, not keywords: Dataset.__contains__ converts a keyword on every call
    if 0x52009230 in ds._dict or 0x52009229 in ds._dict:  # noqa: SLF001 - per-frame / shared groups
        layout = FrameLayout(frames=_enhanced_frames(ds, n_frames, slope, intercept))
    else:
        layout = FrameLayout(frames=_classic_frames(ds, n_frames, slope, intercept))
    if not layout.positioned:
        _nominal_geometry(ds, layout)
    if n_frames > 1 and not layout.positioned:
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
            layout.axis = FrameAxis.TIME
            layout.frame_time_ms = frame_time
        else:
            layout.axis = FrameAxis.FRAMES
    elif n_frames > 1:
        layout.axis = FrameAxis.SLICE
    return layout


def _classic_frames(ds: Dataset, n: int, slope: float, intercept: float) -> list[FrameInfo]:
    """Single-frame and classic multi-frame objects: one geometry, stacked by Slice Vector."""
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
    return [
        FrameInfo(
            index=k,
            position=positions[k],
            orientation=orientation if positions[k] is not None else None,
            pixel_spacing=tuple(spacing) if spacing is not None else None,
            slice_thickness=thickness,
            slope=slope,
            intercept=intercept,
        )
        for k in range(n)
    ]


def _nominal_geometry(ds: Dataset, layout: FrameLayout) -> None:
    spacing = _floats(_v(ds, "PixelSpacing"), 2)
    if spacing is None and layout.frames and layout.frames[0].pixel_spacing:
        spacing = np.array(layout.frames[0].pixel_spacing)  # enhanced objects: Pixel Measures
    if spacing is None:
        spacing = _floats(ds.get("ImagerPixelSpacing"), 2)
        if spacing is not None:
            estimated = _float(ds.get("EstimatedRadiographicMagnificationFactor"))
            if estimated and estimated > 0:
                spacing = spacing / estimated
            else:
                layout.warnings.append(
                    "spacing is Imager Pixel Spacing, measured at the detector (not corrected for magnification)"
                )
    if spacing is None:
        us = _us_spacing(ds)
        if us is not None:
            spacing = np.array(us)
    if spacing is not None and np.all(spacing > 0):
        layout.nominal_spacing = (float(spacing[0]), float(spacing[1]))
    layout.nominal_direction = _orientation_from_letters(ds)


def _enhanced_frames(
    ds: Dataset, n_frames: int, top_slope: float, top_intercept: float
) -> list[FrameInfo]:
    """Per-frame and shared functional groups (PS3.3 C.7.6.16), as enhanced CT/MR/PET and SEG write them."""
    shared = _first(ds, "SharedFunctionalGroupsSequence") or Dataset()
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames = []
    for k in range(n_frames):
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
    return frames


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


__all__ = ["FrameInfo", "FrameLayout", "header_windows", "lut_table", "read_frames"]
