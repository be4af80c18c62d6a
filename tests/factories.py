"""Objects the tests build that dicomteach itself does not write.

``write_enhanced_ct`` makes an Enhanced CT Image with just the functional
groups the reader uses (positions, orientation, spacing, per-frame rescale,
frame VOI); it is not a complete IOD (dciodvfy lists missing CT macros), which
is fine for exercising the reader but not for teaching data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import EnhancedCTImageStorage, generate_uid

from dicomteach.io.writer import UID_PREFIX, StudyInfo, _common, ds_text, file_meta


def write_enhanced_ct(
    path: str | os.PathLike[str],
    hu: np.ndarray,
    *,
    spacing: Sequence[float] = (2.5, 0.7, 0.7),
    origin: Sequence[float] = (-179.0, -179.0, -300.0),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    frame_order: Sequence[int] | None = None,
    study: StudyInfo | None = None,
    rescale: Sequence[tuple[float, float]] | None = None,
) -> Path:
    """Write ``hu`` as one Enhanced CT Image (PS3.3 A.38) with per-frame functional groups.

    ``frame_order`` stores the slices in another order (slice ``frame_order[f]``
    in frame ``f``), as some scanners do; ``rescale`` gives each stored frame
    its own (slope, intercept), as Philips writes it.
    """
    path = Path(path)
    study = study or StudyInfo()
    n = hu.shape[0]
    order = list(frame_order) if frame_order is not None else list(range(n))
    orient = np.asarray(orientation, float)
    normal = np.cross(orient[:3], orient[3:])
    sop_uid = generate_uid(prefix=UID_PREFIX)
    ds = Dataset()
    ds.file_meta = file_meta(EnhancedCTImageStorage, sop_uid)
    _common(ds, study, "Philips", "iCT 256")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.SOPClassUID = EnhancedCTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.SeriesInstanceUID = generate_uid(prefix=UID_PREFIX)
    ds.SeriesNumber = 3
    ds.SeriesDescription = "Enhanced CT"
    ds.InstanceNumber = 1
    ds.ContentDate = study.study_date
    ds.ContentTime = study.study_time
    ds.AcquisitionDateTime = study.study_date + study.study_time
    ds.NumberOfFrames = n
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [f"{float(x):g}" for x in spacing[1:]]
    measures.SliceThickness = f"{float(spacing[0]):g}"
    shared.PixelMeasuresSequence = DicomSequence([measures])
    plane_orient = Dataset()
    plane_orient.ImageOrientationPatient = [ds_text(x) for x in orientation]
    shared.PlaneOrientationSequence = DicomSequence([plane_orient])
    voi = Dataset()
    voi.WindowCenter = "40"
    voi.WindowWidth = "400"
    voi.WindowCenterWidthExplanation = "MEDIASTINUM"
    shared.FrameVOILUTSequence = DicomSequence([voi])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    frames = np.empty(hu.shape, dtype=np.int16)
    for f, k in enumerate(order):
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [
            ds_text(x) for x in np.asarray(origin, float) + k * spacing[0] * normal
        ]
        item.PlanePositionSequence = DicomSequence([pos])
        content = Dataset()
        content.StackID = "1"
        content.InStackPositionNumber = k + 1
        content.DimensionIndexValues = [1, k + 1]
        item.FrameContentSequence = DicomSequence([content])
        slope, intercept = rescale[f] if rescale is not None else (1.0, 0.0)
        transform = Dataset()
        transform.RescaleSlope = f"{slope:g}"
        transform.RescaleIntercept = f"{intercept:g}"
        transform.RescaleType = "HU"
        item.PixelValueTransformationSequence = DicomSequence([transform])
        per_frame.append(item)
        frames[f] = np.clip(np.rint((hu[k] - intercept) / slope), -32768, 32767).astype(np.int16)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
