"""Objects the tests build that dicomteach itself does not write.

``write_enhanced_ct`` makes an Enhanced CT Image with just the functional
groups the reader uses (positions, orientation, spacing, per-frame rescale,
frame VOI); it is not a complete IOD (dciodvfy lists missing CT macros), which
is fine for exercising the reader but not for teaching data.

``write_symbia_spect`` and ``write_us_cine`` make a classic NM multi-frame
stacked by Slice Vector and an RGB ultrasound cine with a calibrated region.

``numbered_slices`` is a CT whose slice ``k`` reads ``10·k`` HU at its centre
(``slice_marks``), so the order a reader assembled can be read off its pixels.

``phantom_ct`` and ``phantom_film`` make synthetic volumes whose anatomy was
moved by a known rigid motion (``rigid_matrix``), for resampling, registration
and Compare: each test file describes its own anatomy (``ellipsoid_hu`` for CT).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import EnhancedCTImageStorage, generate_uid
from scipy import ndimage

from dicomteach.io.volume import Volume
from dicomteach.io.writer import UID_PREFIX, StudyInfo, _common, ds_text, file_meta

AXIAL = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)
"""``Volume.direction`` of an axial stack."""
CORONAL = np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float)
"""``Volume.direction`` of a PA chest radiograph's plane."""

Blob = tuple[tuple[float, float, float], tuple[float, float, float], float]
"""An ellipsoid of a phantom: centre (x, y, z) and semi-axes in LPS mm, and its HU."""


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


def write_symbia_spect(path: str | os.PathLike[str], frames: int) -> Path:
    """A Siemens Symbia-style reconstructed SPECT: classic NM multi-frame stacked by Slice Vector.

    Frame ``k`` holds ``100·k`` in a central square; 4.795 mm voxels.
    """
    path = Path(path)
    ds = Dataset()
    ds.file_meta = file_meta("1.2.840.10008.5.1.4.1.1.20", generate_uid())
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "NM", "SIEMENS NM", "Symbia T16"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = 0x00540080  # Slice Vector
    ds.SliceVector = list(range(1, frames + 1))
    ds.NumberOfSlices = frames
    ds.Rows = ds.Columns = 64
    ds.PixelSpacing = ["4.795", "4.795"]
    ds.SpacingBetweenSlices = "4.795"
    ds.SliceThickness = "4.795"
    detector = Dataset()
    detector.ImagePositionPatient = ["-153.44", "-153.44", "-100"]
    detector.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.DetectorInformationSequence = DicomSequence([detector])
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    pixels = np.zeros((frames, 64, 64), np.uint16)
    for k in range(frames):
        pixels[k, 24:40, 24:40] = 100 * k
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_us_cine(path: str | os.PathLike[str], frames: int) -> Path:
    """A GE-style ultrasound cine: RGB 64×48 multi-frame, Frame Time 33.3 ms, a region
    calibrated at 0.3 × 0.2 mm (column × row)."""
    path = Path(path)
    ds = Dataset()
    ds.file_meta = file_meta("1.2.840.10008.5.1.4.1.1.3.1", generate_uid())
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.Manufacturer = "US", "GE Healthcare"
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = "33.3"
    ds.Rows, ds.Columns = 48, 64
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    region = Dataset()
    region.RegionSpatialFormat = 1
    region.PhysicalUnitsXDirection = 3
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.03
    region.PhysicalDeltaY = 0.02
    ds.SequenceOfUltrasoundRegions = DicomSequence([region])
    ds.PixelData = (
        np.random.default_rng(0).integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8).tobytes()
    )
    ds.save_as(path, enforce_file_format=True)
    return path


def numbered_slices(slices: int = 12, size: int = 32) -> np.ndarray:
    """HU where slice ``k`` carries a square of ``10·k`` HU: the order of slices shows in the pixels."""
    hu = np.full((slices, size, size), -1000.0)
    for k in range(slices):
        hu[k, 8:24, 8:24] = 10.0 * k
    return hu


def slice_marks(vol: Volume) -> list[float]:
    """The HU at the centre of each slice of ``vol`` (``10·k`` for slice ``k`` of numbered_slices)."""
    values = vol.pixels[:, 16, 16].astype(float) * vol.rescale_slope + vol.rescale_intercept
    return list(np.round(values, 3))


def rotation_x(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])


def rotation_y(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def rotation_z(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def rigid_matrix(rotation: np.ndarray, shift) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = rotation
    m[:3, 3] = shift
    return m


def voxel_lps(vol: Volume) -> np.ndarray:
    index = np.stack(np.meshgrid(*[np.arange(n) for n in vol.pixels.shape], indexing="ij"), -1)
    return vol.index_to_lps(index.astype(float))


def _before_motion(points: np.ndarray, motion: np.ndarray | None) -> np.ndarray:
    """Where the anatomy seen at ``points`` was before ``motion`` (4×4): motion⁻¹(points)."""
    if motion is None:
        return points
    inverse = np.linalg.inv(motion)
    return points @ inverse[:3, :3].T + inverse[:3, 3]


def ellipsoid_hu(
    points: np.ndarray,
    body: Sequence[float],
    blobs: Sequence[Blob],
    *,
    clip_to_body: bool = False,
    scales: Sequence[float] | None = None,
) -> np.ndarray:
    """HU at LPS ``points``: air, a body ellipsoid (semi-axes ``body``) of 40 HU, then
    each blob painted over in order (only inside the body with ``clip_to_body``),
    blob ``i`` grown by ``scales[i]``."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    hu = np.full(x.shape, -1000.0, np.float32)
    inside_body = (x / body[0]) ** 2 + (y / body[1]) ** 2 + (z / body[2]) ** 2 <= 1.0
    hu[inside_body] = 40.0
    for i, ((cx, cy, cz), (a, b, c), value) in enumerate(blobs):
        scale = 1.0 if scales is None else scales[i]
        inside = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2 <= scale**2
        hu[inside & inside_body if clip_to_body else inside] = value
    return hu


def phantom_ct(
    hu_at: Callable[[np.ndarray], np.ndarray],
    motion: np.ndarray | None = None,
    *,
    seed: int,
    shape: Sequence[int],
    spacing: Sequence[float],
    centre: Sequence[float],
    noise_hu: float,
    direction: np.ndarray = AXIAL,
) -> Volume:
    """A CT (int16, intercept -1024) of ``hu_at(LPS points)``, grid centred near ``centre``,
    blurred and with seeded Gaussian noise of ``noise_hu``.

    Pixels are written through the known transform: voxel q shows the anatomy at motion⁻¹(q).
    """
    half = (np.array(shape) - 1) / 2 * np.array(spacing)
    origin = np.array(centre) - half @ np.asarray(direction, float)
    vol = Volume(np.zeros(shape, np.int16), tuple(spacing), tuple(origin), np.array(direction))
    q = _before_motion(voxel_lps(vol), motion)
    hu = ndimage.gaussian_filter(hu_at(q), 0.7)
    hu += np.random.default_rng(seed).normal(0.0, noise_hu, hu.shape).astype(np.float32)
    vol.pixels = np.round(hu + 1024.0).astype(np.int16)
    vol.rescale_intercept = np.array([-1024.0])
    vol.modality = "CT"
    return vol


def phantom_film(
    image_at: Callable[[np.ndarray, np.ndarray], np.ndarray],
    motion: np.ndarray | None = None,
    *,
    size: int,
    modality: str = "CR",
) -> Volume:
    """A ``size``×``size`` radiograph (uint16) at 1 mm in the coronal plane y = 0, centred
    on the origin: ``image_at(x, z)`` blurred; voxel q shows the anatomy at motion⁻¹(q)."""
    half = size / 2
    vol = Volume(
        np.zeros((1, size, size), np.uint16),
        (1.0, 1.0, 1.0),
        (-half, 0.0, half),
        CORONAL.copy(),
        modality=modality,
    )
    p = _before_motion(voxel_lps(vol), motion)
    vol.pixels = ndimage.gaussian_filter(image_at(p[..., 0], p[..., 2]), 1.0).astype(np.uint16)
    return vol
