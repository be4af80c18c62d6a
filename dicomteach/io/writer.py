"""Write CT series as scanners do: single-frame CT Image objects with a vendor's header habits.

Used by the sample library, the benchmarks and the tests to make series with
exactly the geometry asked for (oblique, tilted, with a slice missing…).
Values are given in Hounsfield units and stored as the vendor would:
unsigned 12-bit with Rescale Intercept −1024 (PS3.3 C.8.2.1), or signed 16-bit
with a padding value outside the field of view (GE). Siemens habits are the
default; :data:`VENDORS` holds GE's, Philips' and Canon's too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from dicomteach.io.atomic import save_dataset_atomically

#: The two windows a Siemens CT header carries: (center, width, explanation).
SIEMENS_WINDOWS: tuple[tuple[float, float, str], ...] = (
    (40, 400, "WINDOW1"),
    (-600, 1200, "WINDOW2"),
)


@dataclass(frozen=True)
class CTHabits:
    """What one maker's CT writes its own way in a header.

    ``kernels`` names the reconstruction kernel of a soft (body) and a sharp
    (lung) reconstruction; Siemens adds the iterative strength as a second
    value (``kernel_strength``). ``windows`` are the header windows of each
    (center, width, explanation; an empty explanation writes none).
    ``signed``: 16-bit signed storage with ``padding`` (Pixel Padding Value)
    outside the reconstructed circle, as GE writes; unsigned 12-bit otherwise.
    ``description``: the Series Description, filled with ``thickness`` and
    ``kernel``.
    """

    manufacturer: str
    model: str
    software: str
    station: str
    image_type: tuple[str, ...]
    kernels: tuple[tuple[str, str], ...]
    windows: tuple[tuple[str, tuple[tuple[float, float, str], ...]], ...]
    description: str
    kernel_strength: str | None = None
    signed: bool = False
    padding: int | None = None
    private_creator: tuple[int, str] | None = None

    def kernel(self, kind: str) -> str:
        """The ConvolutionKernel name for a ``"soft"`` or ``"sharp"`` reconstruction.

        >>> GE.kernel("sharp"), SIEMENS.kernel("soft")
        ('LUNG', 'I30f')
        """
        named = dict(self.kernels)
        if kind not in named:
            raise ValueError(f"Argument 'kind' must be one of {sorted(named)}, not {kind!r}")
        return named[kind]

    def windows_for(self, kind: str) -> tuple[tuple[float, float, str], ...]:
        """The header windows a ``kind`` reconstruction carries."""
        return dict(self.windows)[kind]


#: Siemens SOMATOM: unsigned 12-bit, kernel with iterative strength, two named windows.
SIEMENS = CTHabits(
    manufacturer="SIEMENS",
    model="SOMATOM Definition AS+",
    software="syngo CT VA48A",
    station="CTAWP00001",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL", "CT_SOM5 SPI"),
    kernels=(("soft", "I30f"), ("sharp", "I70f")),
    windows=(("soft", SIEMENS_WINDOWS), ("sharp", SIEMENS_WINDOWS)),
    description="Thorax {thickness:g} {kernel} 3",
    kernel_strength="3",
    private_creator=(0x0019, "SIEMENS CT VA0  COAD"),
)
#: GE Revolution: signed 16-bit with padding −2000 outside the circle, one window.
GE = CTHabits(
    manufacturer="GE MEDICAL SYSTEMS",
    model="Revolution CT",
    software="revo_ct_22bc.40",
    station="CT01_OC0",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    kernels=(("soft", "STANDARD"), ("sharp", "LUNG")),
    windows=(("soft", ((40, 400, ""),)), ("sharp", ((-600, 1500, ""),))),
    description="{thickness:g}mm {kernel} CHEST",
    signed=True,
    padding=-2000,
    private_creator=(0x0043, "GEMS_PARM_01"),
)
#: Philips: unsigned 12-bit, letter kernels, one window.
PHILIPS = CTHabits(
    manufacturer="Philips",
    model="IQon - Spectral CT",
    software="4.7.5",
    station="HOST-CT01",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    kernels=(("soft", "B"), ("sharp", "YC")),
    windows=(("soft", ((40, 400, ""),)), ("sharp", ((-600, 1600, ""),))),
    description="Chest {thickness:g}mm {kernel}",
    private_creator=(0x01F1, "ELSCINT1"),
)
#: Canon (Toshiba) Aquilion: FC kernels, two windows without explanations.
CANON = CTHabits(
    manufacturer="CANON_MEC",
    model="Aquilion Prime SP",
    software="V10.8",
    station="CT001",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    kernels=(("soft", "FC08"), ("sharp", "FC51")),
    windows=(
        ("soft", ((40, 350, ""), (-600, 1500, ""))),
        ("sharp", ((-600, 1500, ""), (40, 350, ""))),
    ),
    description="CHEST {thickness:g} {kernel}",
)
#: Every maker's habits, by a short name.
VENDORS: dict[str, CTHabits] = {"siemens": SIEMENS, "ge": GE, "philips": PHILIPS, "canon": CANON}

#: Root for UIDs dicomteach makes (a UUID-derived 2.25 root needs no registration).
UID_PREFIX = None


@dataclass
class StudyInfo:
    """Patient and study attributes shared by the series of one study."""

    patient_name: str = "TEACHING^CT"
    patient_id: str = "DT0001"
    patient_sex: str = "O"
    patient_birth_date: str = "19600101"
    study_uid: str = field(default_factory=lambda: generate_uid(prefix=UID_PREFIX))
    study_date: str = "20260301"
    study_time: str = "093000"
    study_description: str = "CT CHEST"
    accession: str = "A0001"
    frame_of_reference_uid: str = field(default_factory=lambda: generate_uid(prefix=UID_PREFIX))


def ds_text(value: float) -> str:
    """A Decimal String (PS3.5 6.2: at most 16 characters) as precise as fits."""
    for digits in range(12, 2, -1):
        text = f"{float(value):.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(f"Argument 'value' ({value}) cannot be written as a Decimal String.")


def hu_to_stored(hu: np.ndarray, intercept: float = -1024.0) -> np.ndarray:
    """Hounsfield units → 12-bit stored values (clipped to 0…4095), as uint16.

    Single-precision input is rounded in single precision (exact for whole
    stored values), so a whole CT volume needs no double-precision copy.

    >>> hu_to_stored(np.array([-2000.0, -1000.4, 0.5, 40.0, 5000.0], np.float32)).tolist()
    [0, 24, 1024, 1064, 4095]
    """
    hu = np.asarray(hu)
    hu = hu.astype(np.result_type(hu.dtype, np.float32), copy=False)
    return np.clip(np.rint(hu - np.asarray(intercept, hu.dtype)), 0, 4095).astype(np.uint16)


def _common(ds: Dataset, study: StudyInfo, manufacturer: str, model: str) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = study.patient_birth_date
    ds.PatientSex = study.patient_sex
    ds.StudyInstanceUID = study.study_uid
    ds.StudyDate = study.study_date
    ds.StudyTime = study.study_time
    ds.StudyDescription = study.study_description
    ds.AccessionNumber = study.accession
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = model
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Modality = "CT"
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "120"


def file_meta(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str = ExplicitVRLittleEndian
) -> FileMetaDataset:
    """File Meta Information (PS3.10 7.1) naming dicomteach as the implementation."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = transfer_syntax_uid
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "DICOMTEACH"
    return meta


def new_instance(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str = ExplicitVRLittleEndian
) -> Dataset:
    """An empty instance with its file meta, SOP Common identifiers and Latin-1 character set.

    >>> new_instance("1.2.840.10008.5.1.4.1.1.2", "2.25.1").file_meta.TransferSyntaxUID.name
    'Explicit VR Little Endian'
    """
    ds = Dataset()
    ds.file_meta = file_meta(sop_class_uid, sop_instance_uid, transfer_syntax_uid)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    return ds


def ct_slice(
    stored: np.ndarray,
    *,
    study: StudyInfo,
    series_uid: str,
    position: Sequence[float],
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    pixel_spacing: Sequence[float] = (0.7, 0.7),
    slice_thickness: float = 2.5,
    instance_number: int = 1,
    series_number: int = 2,
    series_description: str = "Thorax 2.5 I30f",
    gantry_tilt: float = 0.0,
    acquisition_number: int = 1,
    manufacturer: str | None = None,
    model: str | None = None,
    sop_uid: str | None = None,
    content_time: str | None = None,
    kernel: str | None = None,
    windows: Sequence[tuple[float, float, str]] | None = None,
    habits: CTHabits = SIEMENS,
) -> Dataset:
    """One single-frame CT Image (PS3.3 A.3) with a maker's header ``habits`` (Siemens').

    ``stored`` holds the stored values: uint16 (12 bits used), or int16 for
    habits that store signed values. ``manufacturer``, ``model``, ``kernel``
    and ``windows`` override the habits' (the soft kernel and its windows by
    default). ``sop_uid`` fixes the SOP Instance UID (a new one otherwise);
    ``content_time`` the Content/Acquisition Time (the study time otherwise).

    >>> ds = ct_slice(np.zeros((4, 4), np.int16), study=StudyInfo(), series_uid="2.25.1", position=(0, 0, 0),
    ...               habits=GE, kernel=GE.kernel("sharp"))
    >>> ds.Manufacturer, ds.ConvolutionKernel, ds.PixelRepresentation, ds.PixelPaddingValue
    ('GE MEDICAL SYSTEMS', 'LUNG', 1, -2000)
    """
    kernel = kernel or habits.kernel("soft")
    windows = windows or habits.windows_for("soft")
    sop_uid = sop_uid or generate_uid(prefix=UID_PREFIX)
    ds = Dataset()
    ds.file_meta = file_meta(CTImageStorage, sop_uid)
    _common(ds, study, manufacturer or habits.manufacturer, model or habits.model)
    ds.ImageType = list(habits.image_type)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study.study_date
    ds.SeriesTime = study.study_time
    ds.ContentTime = ds.AcquisitionTime = content_time or study.study_time
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.AcquisitionNumber = acquisition_number
    ds.InstanceNumber = instance_number
    ds.SliceThickness = f"{slice_thickness:g}"
    ds.ConvolutionKernel = [kernel, habits.kernel_strength] if habits.kernel_strength else kernel
    ds.StationName = habits.station
    ds.SoftwareVersions = habits.software
    ds.DeviceSerialNumber = "00001"
    ds.ProtocolName = "Thorax Routine"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = ds_text(float(stored.shape[1]) * float(pixel_spacing[1]))
    ds.DistanceSourceToDetector = "1085.6"
    ds.DistanceSourceToPatient = "595"
    ds.TableHeight = "160"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = 120
    ds.Exposure = 60
    ds.FilterType = "FLAT"
    ds.FocalSpots = "1.2"
    ds.SpiralPitchFactor = 1.2
    ds.CTDIvol = 4.8
    ds.GantryDetectorTilt = f"{gantry_tilt:g}"
    ds.ImagePositionPatient = [ds_text(x) for x in position]
    ds.ImageOrientationPatient = [ds_text(x) for x in orientation]
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    ds.SliceLocation = ds_text(float(np.dot(position, normal)))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(x) for x in stored.shape)
    ds.PixelSpacing = [f"{float(x):g}" for x in pixel_spacing]
    ds.BitsAllocated = 16
    if habits.signed:
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 1
        if habits.padding is not None:
            ds.PixelPaddingValue = habits.padding
    else:
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
    # one or more windows, named or not, as the maker writes them
    ds.WindowCenter = _one_or_many([f"{c:g}" for c, _, _ in windows])
    ds.WindowWidth = _one_or_many([f"{w:g}" for _, w, _ in windows])
    if any(e for _, _, e in windows):
        ds.WindowCenterWidthExplanation = _one_or_many([e for _, _, e in windows])
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    if habits.private_creator is not None:
        group, creator = habits.private_creator
        block = ds.private_block(group, creator, create=True)
        block.add_new(0x92, "DS", "0")  # a harmless private value, as scanners leave many
    dtype = np.int16 if habits.signed else np.uint16
    ds.PixelData = np.ascontiguousarray(stored, dtype=dtype).tobytes()
    return ds


def _one_or_many(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def write_ct_series(
    dest: str | os.PathLike[str],
    hu: np.ndarray,
    *,
    spacing: Sequence[float] = (2.5, 0.7, 0.7),
    origin: Sequence[float] = (-179.0, -179.0, -300.0),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    positions: Sequence[Sequence[float]] | None = None,
    study: StudyInfo | None = None,
    series_uid: str | None = None,
    series_number: int = 2,
    series_description: str = "Thorax 2.5 I30f",
    gantry_tilt: float = 0.0,
    file_names: str = "instance",
    skip: Sequence[int] = (),
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> list[Path]:
    """Write ``hu`` (slices, rows, columns) as a single-frame CT series into folder ``dest``.

    Slice ``k`` lies at ``origin + k·spacing[0]·normal`` unless ``positions``
    gives each slice's Image Position (Patient) (for tilt or irregular
    spacing). ``skip`` leaves slices out (a missing slice). ``file_names``:
    ``"instance"`` (IM000001.dcm) or ``"uid"`` (SOP Instance UID, as many PACS
    exports do — unrelated to slice order). ``transfer_syntax`` compresses each
    slice with pydicom's encoders (RLE Lossless, JPEG-LS and JPEG 2000
    Lossless: the encoders installed with dicomteach).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from dicomteach import io
    >>> folder = tempfile.mkdtemp()
    >>> paths = write_ct_series(folder, np.full((3, 8, 8), 40.0), spacing=(2.5, 0.7, 0.7))
    >>> vol = io.load(folder)
    >>> vol.pixels.shape, vol.spacing, vol.units
    ((3, 8, 8), (2.5, 0.7, 0.7), 'HU')
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    study = study or StudyInfo()
    series_uid = series_uid or generate_uid(prefix=UID_PREFIX)
    orient = np.asarray(orientation, float)
    normal = np.cross(orient[:3], orient[3:])
    stored = hu_to_stored(hu)
    paths = []
    for k in range(stored.shape[0]):
        if k in skip:
            continue
        pos = (
            positions[k]
            if positions is not None
            else np.asarray(origin, float) + k * spacing[0] * normal
        )
        ds = ct_slice(
            stored[k],
            study=study,
            series_uid=series_uid,
            position=pos,
            orientation=orientation,
            pixel_spacing=spacing[1:],
            slice_thickness=spacing[0],
            instance_number=k + 1,
            series_number=series_number,
            series_description=series_description,
            gantry_tilt=gantry_tilt,
        )
        if transfer_syntax != ExplicitVRLittleEndian:
            ds.compress(transfer_syntax, stored[k], generate_instance_uid=False)
        name = f"IM{k + 1:06d}.dcm" if file_names == "instance" else f"{ds.SOPInstanceUID}.dcm"
        paths.append(save_dataset_atomically(ds, dest / name))
    return paths
