"""DICOM Segmentation (SEG, PS3.3 A.51) read and write: masks on a Volume's grid.

Writing goes through highdicom (BINARY segments, empty frames omitted, every
frame referencing the source image it was drawn on). Reading maps each SEG
frame back to the source frame it segments, by the Referenced SOP Instance
UID and Referenced Frame Number of its Derivation Image Sequence, or by its
Plane Position (Patient) when the references do not match the volume, so
the masks align with ``Volume.pixels`` index for index.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.instance import Instance
from dicomteach.io.reader import read_object, stored_frames
from dicomteach.io.volume import Volume
from dicomteach.roi._sources import remembered_frame_references, source_datasets
from dicomteach.roi.errors import GridMismatchError, RoiError

if TYPE_CHECKING:
    import highdicom as hd
    from pydicom.sr.coding import Code

__all__ = ["SegmentInfo", "Structures", "read_seg", "write_seg"]

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
"""SOP Class UID of the Segmentation Storage IOD."""

#: How far (in voxels) a SEG frame's position may lie from a source frame's and still match.
POSITION_TOLERANCE = 0.01


@dataclass(frozen=True)
class SegmentInfo:
    """What a segment is, from its Segment Sequence item (PS3.3 C.8.20.2)."""

    number: int
    label: str
    category: str = ""
    """Code meaning of the Segmented Property Category (e.g. ``Tissue``)."""
    property_type: str = ""
    """Code meaning of the Segmented Property Type (e.g. ``Nodule``)."""
    algorithm_type: str = ""
    """``MANUAL``, ``SEMIAUTOMATIC`` or ``AUTOMATIC``."""
    tracking_id: str = ""


@dataclass
class Structures:
    """Binary masks of numbered structures on one image grid, as read from a file."""

    masks: Mapping[int, np.ndarray]
    """Structure number (segment number, ROI number) → bool mask ``(frames, rows, columns)``
    (a label map's masks are made when asked for: :class:`dicomteach.roi.npz.LabelMasks`)."""
    names: dict[int, str]
    spacing: tuple[float, ...]
    """Millimetres per mask axis, in the mask's axis order."""
    path: str = ""
    segments: dict[int, SegmentInfo] = field(default_factory=dict)
    """For SEG: what each segment is."""
    origin: tuple[float, ...] | None = None
    """Patient position (LPS, mm) of voxel ``[0, 0, 0]``, when the file gives one."""

    @property
    def shape(self) -> tuple[int, ...]:
        if not self.masks:
            return ()
        known = getattr(self.masks, "shape", None)  # LabelMasks knows it without making a mask
        return tuple(known) if known is not None else next(iter(self.masks.values())).shape


def _as_masks(
    masks: Mapping[int | str, np.ndarray] | np.ndarray,
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """Masks by segment number, and names: from a dict (int or str keys) or a label map."""
    if isinstance(masks, np.ndarray):
        if masks.dtype.kind not in "biu":
            raise ValueError(f"Argument 'masks' must be an integer label map, not {masks.dtype}.")
        numbers = [int(n) for n in np.unique(masks) if n != 0]
        return {n: masks == n for n in numbers}, {n: f"Segment {n}" for n in numbers}
    out, names = {}, {}
    for position, (key, mask) in enumerate(masks.items(), 1):
        number = key if isinstance(key, int | np.integer) else position
        if number < 1:
            raise ValueError(f"Argument 'masks' has segment number {number}; numbers start at 1.")
        out[int(number)] = np.asarray(mask).astype(bool)
        names[int(number)] = key if isinstance(key, str) else f"Segment {number}"
    if not out:
        raise ValueError("Argument 'masks' must hold at least one mask.")
    return out, names


def write_seg(
    masks: Mapping[int | str, np.ndarray] | np.ndarray,
    source: Volume | Sequence[Dataset | str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    labels: Mapping[int, str] | None = None,
    category: Code | None = None,
    property_type: Code | None = None,
    descriptions: Sequence[hd.seg.SegmentDescription] | None = None,
    algorithm_type: str = "MANUAL",
    series_uid: str | None = None,
    sop_uid: str | None = None,
    series_number: int = 300,
    series_description: str = "Segmentation",
    content_label: str = "DELINEATION",
    content_creator: str = "",
    content_description: str = "",
    created: tuple[str, str] | None = None,
) -> Path:
    """Write masks as a BINARY DICOM SEG that references the source images, atomically.

    Parameters
    ----------
    masks : dict or numpy.ndarray
        ``{segment number or label: (frames, rows, columns) bool}`` on the
        source grid, or an integer label map of that shape (0 is background).
        With label keys, segments are numbered 1, 2, … in dict order.
    source : Volume or sequence of Dataset or path
        The images the masks were drawn on. With a :class:`~dicomteach.io.Volume`,
        mask frame ``k`` is ``Volume.pixels[k]`` and the files are those of
        ``Volume.sources``; with datasets or paths, mask frame ``k`` is the
        ``k``-th single-frame image (or frame ``k`` of one multi-frame image).
    path : path
        Where to write the ``.dcm`` file.
    labels : dict, optional
        Segment Label per segment number (overrides the dict keys' names).
    category, property_type : pydicom.sr.coding.Code
        Segmented Property Category / Type for every segment (SNOMED CT
        ``Tissue`` by default); ``descriptions`` gives full control instead.
    series_uid, sop_uid : str, optional
        Fix the UIDs (for reproducible files); new UIDs otherwise.
    created : (str, str), optional
        Date and time (``YYYYMMDD``, ``HHMMSS``) written wherever highdicom
        would read the clock; with ``sop_uid`` and ``descriptions`` fixed too
        (and the Dimension Organization UID then derived from ``sop_uid``), the
        same masks write the same bytes, as the sample library needs.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from dicomteach import io
    >>> from dicomteach.io.writer import write_ct_series
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_ct_series(folder / "ct", np.zeros((3, 16, 16)))
    >>> vol = io.load(folder / "ct")
    >>> tumour = np.zeros(vol.pixels.shape, bool); tumour[1, 4:9, 5:10] = True
    >>> seg_path = write_seg({"Tumour": tumour}, vol, folder / "seg.dcm")
    >>> found = read_seg(seg_path, vol)
    >>> found.names, bool(np.array_equal(found.masks[1], tumour))
    ({1: 'Tumour'}, True)
    """
    # highdicom and pydicom's code tables are imported here: a grader reading a SEG needs
    # neither at import (they cost ~0.2 s, paid by every autograded submission)
    import highdicom as hd
    from pydicom.sr.codedict import codes

    category = category or codes.SCT.Tissue
    property_type = property_type or codes.SCT.Tissue
    by_number, names = _as_masks(masks)
    if labels:
        names.update({int(n): str(text) for n, text in labels.items()})
    datasets = source_datasets(source)
    shapes = {m.shape for m in by_number.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3:
        raise ValueError(f"Argument 'masks' must hold 3D masks of one shape, not {sorted(shapes)}.")
    shape = next(iter(shapes))
    numbers = sorted(by_number)
    stack = np.stack([by_number[n] for n in numbers], axis=-1)  # (frames, rows, columns, segments)
    if isinstance(source, Volume):
        if shape != tuple(source.pixels.shape[:3]):
            raise ValueError(
                f"Argument 'masks' must have the volume's shape {tuple(source.pixels.shape[:3])}, "
                f"not {shape}."
            )
        stack = _in_file_order(stack, source, datasets)
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(
            f"Argument 'masks' must number segments 1…{len(numbers)} without gaps, not {numbers}."
        )
    if descriptions is None:
        descriptions = [
            hd.seg.SegmentDescription(
                segment_number=i,
                segment_label=names[n][:64],
                segmented_property_category=category,
                segmented_property_type=property_type,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues[algorithm_type],
                tracking_uid=generate_uid(),
                tracking_id=names[n][:64],
            )
            for i, n in enumerate(numbers, 1)
        ]
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=stack,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=list(descriptions),
        series_instance_uid=series_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_uid or generate_uid(),
        instance_number=1,
        manufacturer="dicomteach",
        manufacturer_model_name="dicomteach",
        software_versions="0.1",
        device_serial_number="0",
        content_label=content_label,
        content_creator_name=content_creator or None,
        series_description=series_description,
        content_description=content_description or None,
        omit_empty_frames=True,
        **({} if created is None else _clock_values(created)),
    )
    if created is not None:
        _freeze_clock(seg, created)
    return save_dataset_atomically(seg, path)


def _clock_values(created: tuple[str, str]) -> dict[str, str]:
    date, time = created
    return {"content_date": date, "content_time": time, "series_date": date, "series_time": time}


def _freeze_clock(seg: Dataset, created: tuple[str, str]) -> None:
    """What highdicom stamps from the clock or a random UID, made fixed (``created``, the SOP UID)."""
    date, time = created
    seg.InstanceCreationDate, seg.InstanceCreationTime = date, time
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = f"{date}{time}"
    organization = f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, str(seg.SOPInstanceUID)).int}"
    for keyword in ("DimensionOrganizationSequence", "DimensionIndexSequence"):
        for item in seg.get(keyword, []):
            if "DimensionOrganizationUID" in item:
                item.DimensionOrganizationUID = organization


def _in_file_order(stack: np.ndarray, volume: Volume, datasets: list[Dataset]) -> np.ndarray:
    """Reorder volume frames to the frame order highdicom expects for ``datasets``."""
    if len(datasets) == volume.n_frames:
        return stack  # single-frame images, given in the volume's frame order
    if len(datasets) == 1:
        frames = int(datasets[0].get("NumberOfFrames", 1) or 1)
        out = np.zeros((frames, *stack.shape[1:]), dtype=stack.dtype)
        for k, (_, index) in enumerate(volume.sources):
            out[index] = stack[k]
        return out
    raise RoiError(
        f"the volume mixes {len(datasets)} files for {volume.n_frames} frames; "
        "write a SEG per multi-frame image"
    )


def _frames(seg: Instance) -> np.ndarray:
    """The SEG's frames ``(frames, rows, columns)``: bits for BINARY, labels for LABELMAP."""
    if seg.samples != 1:
        raise RoiError(f"a SEG stores one sample per pixel, not {seg.samples}", seg.name)
    return stored_frames(seg)


def _segment_info(item: Dataset) -> SegmentInfo:
    def meaning(keyword: str) -> str:
        seq = item.get(keyword)
        return str(seq[0].get("CodeMeaning", "")) if seq else ""

    return SegmentInfo(
        number=int(item.SegmentNumber),
        label=str(item.get("SegmentLabel", "") or ""),
        category=meaning("SegmentedPropertyCategoryCodeSequence"),
        property_type=meaning("SegmentedPropertyTypeCodeSequence"),
        algorithm_type=str(item.get("SegmentAlgorithmType", "") or ""),
        tracking_id=str(item.get("TrackingID", "") or ""),
    )


def _frame_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The functional group macro ``keyword`` of frame ``index`` (per-frame, else shared)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = ds.get("SharedFunctionalGroupsSequence") or []
    for group in (
        per_frame[index] if index < len(per_frame) else None,
        shared[0] if shared else None,
    ):
        seq = group.get(keyword) if group is not None else None
        if seq:
            return seq[0]
    return None


def _referenced(ds: Dataset, index: int) -> tuple[str, int] | None:
    derivation = _frame_item(ds, index, "DerivationImageSequence")
    if derivation is None or not derivation.get("SourceImageSequence"):
        return None
    ref = derivation.SourceImageSequence[0]
    return str(ref.ReferencedSOPInstanceUID), int(ref.get("ReferencedFrameNumber", 1) or 1)


def _position(ds: Dataset, index: int) -> np.ndarray | None:
    plane = _frame_item(ds, index, "PlanePositionSequence")
    if plane is None or "ImagePositionPatient" not in plane:
        return None
    return np.asarray([float(x) for x in plane.ImagePositionPatient])


def read_seg(path: str | os.PathLike[str], volume: Volume | None = None) -> Structures:
    """The segments of a DICOM SEG as bool masks, on ``volume``'s grid when given.

    With ``volume``, mask ``[k]`` lies on ``volume.pixels[k]``: each SEG frame is
    placed by the source instance and frame it references, or else by its
    Plane Position (Patient). Without, the grid is the SEG's own (highdicom's
    ``Segmentation.get_volume``), spanning only the frames the SEG stores.
    FRACTIONAL segments count where the value is at least half the maximum.

    The file is opened by :func:`dicomteach.io.reader.read_object`, with the
    limits and checks of any file :mod:`dicomteach.io` reads.

    Raises
    ------
    DicomTeachError
        Unreadable, or over a limit (one line naming the file).
    RoiError
        Not a SEG, or a frame that lies on no frame of ``volume``.

    Examples
    --------
    See :func:`write_seg`.
    """
    return seg_structures(read_object(path), volume)


def seg_structures(seg: Instance, volume: Volume | None = None) -> Structures:
    """:func:`read_seg` of a file already opened by :func:`dicomteach.io.reader.read_object`."""
    ds, name = seg.ds, seg.name
    if str(ds.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise RoiError("not a DICOM Segmentation (SEG)", name)
    segments = {
        info.number: info
        for info in (_segment_info(item) for item in ds.get("SegmentSequence", []))
    }
    if not segments:
        raise RoiError("the SEG defines no segment (Segment Sequence is empty)", name)
    names = {n: info.label or f"Segment {n}" for n, info in segments.items()}
    if volume is None:
        masks, spacing, origin = _on_own_grid(ds, name, segments)
        return Structures(masks, names, spacing, name, segments, origin)
    frames = _binary(ds, _frames(seg))
    if (int(ds.Rows), int(ds.Columns)) != (volume.rows, volume.columns):
        raise GridMismatchError(
            f"SEG frames are {ds.Rows}×{ds.Columns}, the image {volume.rows}×{volume.columns}",
            name,
        )
    where = _frame_slots(ds, name, volume)
    shape = tuple(volume.pixels.shape[:3])
    masks = {n: np.zeros(shape, dtype=bool) for n in segments}
    labelmap = str(ds.get("SegmentationType", "")) == "LABELMAP"
    for index, k in enumerate(where):
        if labelmap:
            for n in segments:
                masks[n][k] |= frames[index] == n
            continue
        ident = _frame_item(ds, index, "SegmentIdentificationSequence")
        number = int(ident.ReferencedSegmentNumber) if ident is not None else 1
        if number not in masks:
            raise RoiError(f"frame {index + 1} belongs to undefined segment {number}", name)
        masks[number][k] |= frames[index].astype(bool)
    spacing = tuple(float(s) for s in volume.spacing)
    return Structures(masks, names, spacing, name, segments, tuple(map(float, volume.origin)))


def _binary(ds: Dataset, frames: np.ndarray) -> np.ndarray:
    if str(ds.get("SegmentationType", "")) == "FRACTIONAL":
        top = float(ds.get("MaximumFractionalValue", 255) or 255)
        return frames >= top / 2
    return frames


def _frame_slots(ds: Dataset, name: str, volume: Volume) -> list[int]:
    """The volume frame each SEG frame lies on: by reference, else by position."""
    count = int(ds.get("NumberOfFrames", 1) or 1)
    references = [_referenced(ds, i) for i in range(count)]
    if all(r is not None for r in references) and volume.sources:
        try:
            known = {
                (ref.sop_instance_uid, ref.frame_number or 1): k
                for k, ref in enumerate(remembered_frame_references(volume))
            }
        except RoiError:
            known = {}
        if all(r in known for r in references):
            return [known[r] for r in references]  # type: ignore[index]
    slots = []
    for i in range(count):
        position = _position(ds, i)
        if position is None:
            raise GridMismatchError(
                f"frame {i + 1} references no image of the volume and has no position", name
            )
        index = volume.lps_to_index(position)
        k = int(np.rint(index[0]))
        if (
            not np.all(np.abs(index - np.rint(index)) < POSITION_TOLERANCE)
            or np.any(np.abs(index[1:]) > POSITION_TOLERANCE)
            or not 0 <= k < volume.n_frames
        ):
            raise GridMismatchError(
                f"frame {i + 1} at {np.round(position, 3).tolist()} mm lies on no frame of the image",
                name,
            )
        slots.append(k)
    return slots


def _on_own_grid(
    ds: Dataset, name: str, segments: dict[int, SegmentInfo]
) -> tuple[dict[int, np.ndarray], tuple[float, ...], tuple[float, ...]]:
    import highdicom as hd

    try:
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
        numbers = sorted(segments)
        vol = seg.get_volume(segment_numbers=numbers, combine_segments=False)
    except Exception as exc:  # highdicom raises many kinds when frames form no regular grid
        raise RoiError(
            f"cannot place the SEG frames on a regular grid ({exc}); give the source images",
            name,
        ) from None
    array = np.asarray(vol.array)
    if array.ndim == 3:
        array = array[..., None]
    spacing = tuple(float(s) for s in vol.spacing)
    origin = tuple(float(x) for x in vol.position)
    return {n: array[..., i] > 0 for i, n in enumerate(numbers)}, spacing, origin
