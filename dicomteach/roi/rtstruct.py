"""RT Structure Set (RTSTRUCT, PS3.3 A.19) read and write: planar contours ⇄ masks on a Volume.

Contours are the pixel-edge outlines of :func:`~dicomteach.roi.polygons.mask_to_contours`
converted to patient coordinates (LPS, mm) with the volume's geometry: one per
region of a slice, its holes joined to it by keyhole cuts, so that readers
that fill each contour and OR them (plastimatch) get the holes as readers that
apply even-odd across contours do. Reading converts them back with
:meth:`~dicomteach.io.Volume.lps_to_index` and fills them with the
rasterisation rule of :mod:`dicomteach.roi.polygons` (pixel centre inside,
even-odd across every contour of a slice), which reads both conventions for
holes: keyholes, and a hole drawn as a contour inside another (as plastimatch
1.9.4 and earlier dicomteach write them). Mask → RTSTRUCT → mask is exact.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.instance import Instance
from dicomteach.io.reader import read_object
from dicomteach.io.values import decimals, value_count
from dicomteach.io.volume import Volume
from dicomteach.io.writer import ds_text
from dicomteach.roi._sources import frame_references
from dicomteach.roi.errors import GridMismatchError, RoiError
from dicomteach.roi.polygons import mask_to_contours, polygons_to_mask
from dicomteach.roi.seg import Structures

__all__ = ["read_rtstruct", "read_rtstruct_structures", "write_rtstruct"]

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
"""SOP Class UID of the RT Structure Set Storage IOD."""

STUDY_COMPONENT_REFERENCE = "1.2.840.10008.3.1.2.3.1"
"""Referenced SOP Class UID RT Referenced Study Sequence items carry by convention (PS3.3 C.8.8.5)."""

SLICE_TOLERANCE = 0.1
"""How far (in slices) a contour may lie from a slice of the volume and still be placed on it."""

MAX_CONTOUR_POINTS = 5_000_000
"""Most contour points read from one structure set, all ROIs together: a dense
clinical one (a hundred ROIs outlined on a few hundred slices) holds well under
a million. Counted on the raw Contour Data before it is parsed."""

#: ROI Display Colors, cycled over the structures written.
_COLOURS = ((255, 0, 0), (0, 200, 0), (0, 120, 255), (255, 200, 0), (200, 0, 255), (0, 220, 220))


def _named(
    masks: Mapping[int | str, np.ndarray], names: Mapping[int, str] | None
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    by_number, out_names = {}, {}
    for position, (key, mask) in enumerate(masks.items(), 1):
        number = int(key) if isinstance(key, int | np.integer) else position
        by_number[number] = np.asarray(mask).astype(bool)
        out_names[number] = key if isinstance(key, str) else f"ROI {number}"
    if names:
        out_names.update({int(n): str(text) for n, text in names.items()})
    if not by_number:
        raise ValueError("Argument 'masks' must hold at least one mask.")
    return by_number, out_names


def _copy(source: Dataset, target: Dataset, keywords: tuple[str, ...]) -> None:
    for keyword in keywords:
        setattr(target, keyword, source.get(keyword, "") or "")


def write_rtstruct(
    masks: Mapping[int | str, np.ndarray],
    volume: Volume,
    path: str | os.PathLike[str],
    names: Mapping[int, str] | None = None,
    *,
    label: str = "DELINEATION",
    series_uid: str | None = None,
    sop_uid: str | None = None,
    series_number: int = 301,
    series_description: str = "Structure set",
) -> Path:
    """Write masks on ``volume``'s grid as an RT Structure Set of CLOSED_PLANAR contours.

    Parameters
    ----------
    masks : dict
        ``{ROI name or ROI number: (frames, rows, columns) bool}``; with names,
        ROIs are numbered 1, 2, … in dict order.
    volume : Volume
        The image the masks were drawn on, read from files (its
        ``Volume.sources`` are referenced, slice by slice).
    path : path
        Where to write the ``.dcm`` file (atomically).
    names : dict, optional
        ROI Name per ROI number (overrides the dict keys).
    series_uid, sop_uid : str, optional
        Fix the UIDs (for reproducible files); new UIDs otherwise.

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
    >>> ring = np.zeros(vol.pixels.shape, bool); ring[1, 3:12, 3:12] = True; ring[1, 6:9, 6:9] = False
    >>> rt_path = write_rtstruct({"GTV": ring}, vol, folder / "rtstruct.dcm")
    >>> bool(np.array_equal(read_rtstruct(rt_path, vol)["GTV"], ring))
    True
    """
    by_number, roi_names = _named(masks, names)
    shape = tuple(volume.pixels.shape[:3])
    for number, mask in by_number.items():
        if mask.shape != shape:
            raise ValueError(
                f"Argument 'masks' must have the volume's shape {shape}, not {mask.shape} "
                f"(ROI {number})."
            )
    references = frame_references(volume)
    header = volume.header
    frame_of_reference = str(header.get("FrameOfReferenceUID", "") or "")
    if not frame_of_reference:
        raise RoiError("the image has no Frame of Reference UID: contours cannot be placed")
    now = datetime.datetime.now()
    sop_uid = sop_uid or generate_uid()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "DICOMTEACH"
    ds.SpecificCharacterSet = header.get("SpecificCharacterSet", "ISO_IR 100") or "ISO_IR 100"
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = sop_uid
    # Patient and General Study: the image's
    _copy(header, ds, ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"))
    _copy(
        header,
        ds,
        ("StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID"),
    )
    ds.StudyInstanceUID = volume.study_uid or generate_uid()
    if "StudyDescription" in header:
        ds.StudyDescription = header.StudyDescription
    # Frame of Reference (the image's: the contours are in its patient coordinates)
    ds.FrameOfReferenceUID = frame_of_reference
    ds.PositionReferenceIndicator = header.get("PositionReferenceIndicator", "") or ""
    # RT Series and General Equipment
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.SeriesDate = ds.InstanceCreationDate
    ds.SeriesTime = ds.InstanceCreationTime
    ds.OperatorsName = ""
    ds.Manufacturer = "dicomteach"
    ds.ManufacturerModelName = "dicomteach"
    ds.SoftwareVersions = "0.1"
    ds.InstanceNumber = 1
    # Structure Set
    ds.StructureSetLabel = label[:16]
    ds.StructureSetDate = ds.InstanceCreationDate
    ds.StructureSetTime = ds.InstanceCreationTime
    ds.ReferencedFrameOfReferenceSequence = Sequence(
        [_referenced_frame_of_reference(volume, references, frame_of_reference)]
    )
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    ds.RTROIObservationsSequence = Sequence()
    for position, (number, mask) in enumerate(sorted(by_number.items())):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = frame_of_reference
        roi.ROIName = roi_names[number][:64]
        roi.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(roi)
        contour_item = Dataset()
        contour_item.ROIDisplayColor = list(_COLOURS[position % len(_COLOURS)])
        contour_item.ReferencedROINumber = number
        contours = _contours(mask, volume, references)
        if contours:
            contour_item.ContourSequence = Sequence(contours)
        ds.ROIContourSequence.append(contour_item)
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = "ORGAN"
        observation.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(observation)
    return save_dataset_atomically(ds, path)


def _image_reference(reference) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = reference.sop_class_uid
    item.ReferencedSOPInstanceUID = reference.sop_instance_uid
    if reference.frame_number is not None:
        item.ReferencedFrameNumber = reference.frame_number
    return item


def _referenced_frame_of_reference(volume: Volume, references, frame_of_reference: str) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = volume.series_uid
    series.ContourImageSequence = Sequence([_image_reference(r) for r in references])
    study = Dataset()
    study.ReferencedSOPClassUID = STUDY_COMPONENT_REFERENCE
    study.ReferencedSOPInstanceUID = volume.study_uid
    study.RTReferencedSeriesSequence = Sequence([series])
    item = Dataset()
    item.FrameOfReferenceUID = frame_of_reference
    item.RTReferencedStudySequence = Sequence([study])
    return item


def _contours(mask: np.ndarray, volume: Volume, references) -> list[Dataset]:
    out = []
    for k in np.nonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0]:
        for outline in mask_to_contours(mask[k]):
            index = np.column_stack([np.full(len(outline), float(k)), outline])
            points = volume.index_to_lps(index)
            contour = Dataset()
            contour.ContourImageSequence = Sequence([_image_reference(references[k])])
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourNumber = len(out) + 1
            contour.ContourData = [ds_text(x) for x in points.ravel()]
            out.append(contour)
    return out


def read_rtstruct_structures(path: str | os.PathLike[str], volume: Volume) -> Structures:
    """The CLOSED_PLANAR ROIs of an RT Structure Set as masks on ``volume``'s grid, by ROI number.

    POINT, OPEN_PLANAR and OPEN_NONPLANAR contours enclose nothing and are
    skipped; an ROI with no closed contour gives an empty mask. The file is
    opened by :func:`dicomteach.io.reader.read_object`, with the limits and
    checks of any file :mod:`dicomteach.io` reads; at most
    :data:`MAX_CONTOUR_POINTS` points are read from it.

    Raises
    ------
    DicomTeachError
        Unreadable, or over a limit (one line naming the file).
    RoiError
        Not an RTSTRUCT, damaged contours, or more than
        :data:`MAX_CONTOUR_POINTS` points.
    GridMismatchError
        Another Frame of Reference than the image's, or a contour that lies
        off the image's slices or is not planar in them.
    """
    return rtstruct_structures(read_object(path), volume)


def rtstruct_structures(rtstruct: Instance, volume: Volume) -> Structures:
    """:func:`read_rtstruct_structures` of a file already opened by
    :func:`dicomteach.io.reader.read_object`."""
    ds, name = rtstruct.ds, rtstruct.name
    if str(ds.get("SOPClassUID", "")) != RT_STRUCTURE_SET_STORAGE:
        raise RoiError("not an RT Structure Set (RTSTRUCT)", name)
    try:
        return _structures(ds, name, volume)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        # a damaged value (an ROI number that is no number, an empty sequence item)
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise RoiError(f"damaged structure set ({text})", name) from None


def _structures(ds: Dataset, name: str, volume: Volume) -> Structures:
    image_frame = str(volume.header.get("FrameOfReferenceUID", "") or "")
    names: dict[int, str] = {}
    for roi in ds.get("StructureSetROISequence", []):
        number = int(roi.ROINumber)
        names[number] = str(roi.get("ROIName", "") or f"ROI {number}")
        frame = str(roi.get("ReferencedFrameOfReferenceUID", "") or "")
        if image_frame and frame and frame != image_frame:
            raise GridMismatchError(
                f"ROI '{names[number]}' is in Frame of Reference {frame}, the image in {image_frame}",
                name,
            )
    shape = tuple(volume.pixels.shape[:3])
    masks: dict[int, np.ndarray] = {}
    budget = MAX_CONTOUR_POINTS
    for item in ds.get("ROIContourSequence", []):
        number = int(item.ReferencedROINumber)
        names.setdefault(number, f"ROI {number}")
        by_slice: dict[int, list[np.ndarray]] = {}
        closed = False
        for contour in item.get("ContourSequence", []):
            if str(contour.get("ContourGeometricType", "")) != "CLOSED_PLANAR":
                continue
            closed = True
            budget -= -(-value_count(contour, "ContourData") // 3)  # counted before it is parsed
            if budget < 0:
                raise RoiError(
                    f"its contours hold more than {MAX_CONTOUR_POINTS:,} points (reached in ROI "
                    f"'{names[number]}'): refusing to read them",
                    name,
                )
            points = _contour_points(contour, names[number], name)
            index = volume.lps_to_index(points)
            k = float(np.median(index[:, 0]))
            slot = int(np.rint(k))
            if np.any(np.abs(index[:, 0] - slot) > SLICE_TOLERANCE) or not 0 <= slot < shape[0]:
                raise GridMismatchError(
                    f"a contour of ROI '{names[number]}' lies off the image's slices "
                    f"(slice index {k:.2f} of 0…{shape[0] - 1})",
                    name,
                )
            by_slice.setdefault(slot, []).append(index[:, 1:])
        if not closed:
            continue
        mask = np.zeros(shape, dtype=bool)
        for slot, outlines in by_slice.items():
            try:
                mask[slot] = polygons_to_mask(outlines, shape[1:])
            except ValueError:
                raise RoiError(
                    f"the contours of ROI '{names[number]}' on slice {slot} cross the image's "
                    "rows more often than any outline of it does: refusing to fill them",
                    name,
                ) from None
        masks[number] = mask
    for number in names:
        masks.setdefault(number, np.zeros(shape, dtype=bool))
    masks = {n: masks[n] for n in sorted(masks) if _closed_or_named(ds, n)}
    return Structures(
        masks,
        {n: names[n] for n in masks},
        tuple(float(s) for s in volume.spacing),
        name,
        origin=tuple(float(x) for x in volume.origin),
    )


def _contour_points(contour: Dataset, roi: str, name: str) -> np.ndarray:
    """A contour's Contour Data (PS3.3 C.8.8.6.1) as ``(N, 3)`` LPS millimetres."""
    try:
        values = decimals(contour, "ContourData")
    except ValueError:
        raise RoiError(
            f"a contour of ROI '{roi}' holds Contour Data that are not numbers", name
        ) from None
    if len(values) % 3 or not len(values) or not np.all(np.isfinite(values)):
        raise RoiError(
            f"a contour of ROI '{roi}' holds {len(values)} Contour Data values, not finite "
            "(x, y, z) triplets",
            name,
        )
    return values.reshape(-1, 3)


def _closed_or_named(ds: Dataset, number: int) -> bool:
    """False for ROIs whose contours are all points or open lines (markers, isocentres)."""
    for item in ds.get("ROIContourSequence", []):
        if int(item.ReferencedROINumber) != number:
            continue
        types = {str(c.get("ContourGeometricType", "")) for c in item.get("ContourSequence", [])}
        return not types or "CLOSED_PLANAR" in types
    return True


def read_rtstruct(path: str | os.PathLike[str], volume: Volume) -> dict[str, np.ndarray]:
    """ROI name → bool mask ``(frames, rows, columns)`` on ``volume``'s grid.

    Contours (ContourData, mm LPS) are placed on the slice at their position
    and filled by :func:`~dicomteach.roi.polygons.polygons_to_mask`: even-odd
    over every contour of the slice, so a contour inside another is a hole.
    A name given twice gets its ROI number appended. See
    :func:`read_rtstruct_structures` for what is skipped and raised.

    Examples
    --------
    See :func:`write_rtstruct`.
    """
    structures = read_rtstruct_structures(path, volume)
    out: dict[str, np.ndarray] = {}
    for number, mask in structures.masks.items():
        roi_name = structures.names[number]
        out[roi_name if roi_name not in out else f"{roi_name} (ROI {number})"] = mask
    return out
