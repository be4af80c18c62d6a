"""MR brain with a glioma-like lesion: Philips Ingenia enhanced multi-frame T1+C and FLAIR, and a SEG.

Written as the scanner's single-frame MR images first (with Philips header
habits), then converted to Legacy Converted Enhanced MR Image objects
(PS3.3 A.72) by highdicom: one multi-frame file per series, with per-frame
Plane Position, shared Plane Orientation and Pixel Measures, Frame Content
with Dimension Index Values. The reference segmentation is a DICOM SEG with
two segments, enhancing tumour and peritumoral oedema, referencing the T1+C
frames.

Layout::

    dest/t1c/IM000001.dcm     T1-weighted post-contrast, 60 frames 256×256, 1×1×2.5 mm
    dest/flair/IM000001.dcm   FLAIR, same geometry
    dest/seg-tumour.dcm       SEG: 1 enhancing tumour, 2 oedema
"""

from __future__ import annotations

import math
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from dicomteach.samples._common import (
    Patient,
    file_meta,
    patient_module,
    sample_uid,
    save_atomically,
)
from dicomteach.samples._shapes import ellipsoid, gaussian_blur, grid, smooth_noise

STUDY = "mr-brain"
SHAPE = (60, 256, 256)
"""Slices, rows, columns."""
SPACING = (2.5, 1.0, 1.0)
"""Millimetres between slices, rows, columns."""
PATIENT = Patient("TEACHING^GLIOMA", "DT-MR-0003", "19680412", "M", 82.0, 1.78)
DATE = "20260305"
SERIES_TIMES = {"t1c": "101522.41", "flair": "100210.18"}

# tissue labels of the phantom
BACKGROUND, SCALP, SKULL, CSF, GREY, WHITE, DEEP_GREY, VENTRICLE, EYE = range(9)
RING, NECROSIS, OEDEMA = 9, 10, 11

#: Signal of each tissue label on each series, roughly as a 1.5/3 T scanner scales them.
SIGNAL = {
    "t1c": {
        BACKGROUND: 0,
        SCALP: 950,
        SKULL: 70,
        CSF: 230,
        GREY: 560,
        WHITE: 780,
        DEEP_GREY: 620,
        VENTRICLE: 200,
        EYE: 180,
        RING: 1350,
        NECROSIS: 280,
        OEDEMA: 470,
    },
    "flair": {
        BACKGROUND: 0,
        SCALP: 620,
        SKULL: 50,
        CSF: 70,
        GREY: 640,
        WHITE: 470,
        DEEP_GREY: 590,
        VENTRICLE: 55,
        EYE: 60,
        RING: 820,
        NECROSIS: 380,
        OEDEMA: 1080,
    },
}

#: Acquisition parameters of each series, as the Ingenia writes them (TR/TE/TI in ms).
PROTOCOL = {
    "t1c": {
        "number": 801,
        "description": "T1W_SE_TRA +C",
        "protocol": "T1W_SE_TRA_Gd",
        "scanning": ["SE"],
        "variant": ["SK"],
        "tr": 550.0,
        "te": 10.0,
        "ti": None,
        "flip": 90.0,
        "etl": 1,
    },
    "flair": {
        "number": 601,
        "description": "T2W_FLAIR_TRA",
        "protocol": "T2W_FLAIR_TRA",
        "scanning": ["SE", "IR"],
        "variant": ["SK", "MP"],
        "tr": 11000.0,
        "te": 125.0,
        "ti": 2800.0,
        "flip": 90.0,
        "etl": 27,
    },
}


def brain_labels(seed: int) -> np.ndarray:
    """Tissue label of each voxel (``SHAPE``): scalp, skull, CSF, cortex, white matter, lesion."""
    rng = np.random.default_rng([seed, 3])
    z, y, x = grid(SHAPE, SPACING)
    zc = -30.0  # centre of the head, below the middle of the slab: the vertex is in it
    head = ellipsoid((z, y, x), (zc, 4.0, 0.0), (98.0, 98.0, 77.0))
    labels = np.zeros(SHAPE, np.uint8)
    labels[head <= 1.0] = SCALP
    labels[head <= 1.0 - 6.0 / 86] = SKULL
    intracranial = head <= 1.0 - 12.0 / 86
    labels[intracranial & (z > zc - 8)] = CSF

    # cerebrum above the skull base; temporal lobes, brainstem and cerebellum below it
    cerebrum = (head <= 1.0 - 14.5 / 86) & (z > zc - 6)
    temporal = [
        ellipsoid((z, y, x), (zc - 14, -12.0, side * 44.0), (17.0, 32.0, 17.0)) <= 1
        for side in (-1, 1)
    ]
    cerebellum = ellipsoid((z, y, x), (zc - 24, 52.0, 0.0), (20.0, 28.0, 50.0)) <= 1
    stem = ellipsoid((z, y, x), (zc - 22, 20.0, 0.0), (34.0, 12.0, 12.0)) <= 1
    brain = cerebrum | temporal[0] | temporal[1] | cerebellum | stem
    labels[gaussian_blur(brain.astype(np.float32), (1.6, 4.0, 4.0)) > 0.3] = CSF
    depth = _depth_below_surface(brain)

    # gyri: sulci run in from the surface, about every 10 mm around the head
    angle = np.arctan2(y - 4.0, x)
    radius = np.sqrt((y - 4.0) ** 2 + x**2) + 1.0
    phase = 40 * angle / (2 * np.pi) + 0.45 * smooth_noise(SHAPE, 7.0, rng)
    to_sulcus = np.abs(phase - np.rint(phase)) * 2 * np.pi * radius / 40  # mm
    sulcal_depth = np.clip(11.0 + 4.0 * smooth_noise(SHAPE, 6.0, rng), 5.0, 17.0)
    sulcus = (to_sulcus < 0.8) & (depth < sulcal_depth)
    grey = (depth < 3.0) | ((to_sulcus < 3.0) & (depth < sulcal_depth + 2.5))
    callosum = (np.abs(y + 2.0) < 38.0) & (z > zc + 12) & (z < zc + 30)
    medial = (np.abs(x) < 4.5) & ~callosum & cerebrum
    labels[brain] = WHITE
    labels[brain & (grey | medial)] = GREY
    labels[brain & cerebellum & (depth > 7.0)] = WHITE
    labels[brain & stem & ~cerebellum] = WHITE
    labels[brain & (sulcus | ((np.abs(x) < 1.2) & medial))] = CSF

    # deep grey matter (thalami, lentiform nuclei) and the ventricles
    for side in (-1, 1):
        for centre, radii in (
            ((zc + 10, 12.0, side * 10.0), (10.0, 13.0, 8.0)),
            ((zc + 10, -8.0, side * 24.0), (10.0, 15.0, 5.5)),
            ((zc + 17, -22.0, side * 13.0), (9.0, 8.0, 5.0)),
        ):
            labels[ellipsoid((z, y, x), centre, radii) <= 1] = DEEP_GREY
    for side in (-1, 1):
        for centre, radii in (
            ((zc + 22, 2.0, side * 10.0), (8.0, 30.0, 7.0)),
            ((zc + 17, -22.0, side * 7.0), (10.0, 10.0, 5.0)),
            ((zc + 14, 30.0, side * 19.0), (10.0, 10.0, 8.0)),
        ):
            labels[ellipsoid((z, y, x), centre, radii) <= 1] = VENTRICLE
    labels[ellipsoid((z, y, x), (zc + 8, 8.0, 0.0), (8.0, 14.0, 2.0)) <= 1] = VENTRICLE
    labels[ellipsoid((z, y, x), (zc - 22, 36.0, 0.0), (6.0, 4.0, 5.0)) <= 1] = VENTRICLE

    # the skull base below the cerebrum; eyes in front (LPS: anterior is −y), orbital fat
    base = intracranial & ~brain & (z < zc - 6) & (labels != CSF)
    labels[base] = SKULL
    for side in (-1, 1):
        orbit = ellipsoid((z, y, x), (zc - 22, -66.0, side * 30.0), (16.0, 20.0, 16.0)) <= 1
        labels[orbit] = SCALP
        globe = ellipsoid((z, y, x), (zc - 22, -70.0, side * 30.0), (11.0, 12.0, 12.0))
        labels[globe <= 1] = EYE

    # glioma in the patient's right frontal lobe (LPS: right is −x)
    centre = (zc + 38.0, -34.0, -28.0)
    wobble = np.clip(smooth_noise(SHAPE, 4.0, rng), -1.5, 1.5)
    r = ellipsoid((z, y, x), centre, (15.0, 17.0, 14.0)) * (1.0 + 0.08 * wobble)
    core = r <= 0.68
    ring = (r <= 1.0) & ~core
    oedema_r = ellipsoid((z, y, x), centre, (26.0, 36.0, 28.0)) * (1.0 + 0.18 * wobble)
    oedema = (oedema_r <= 1.0) & (labels == WHITE) & (x < -2.0) & ~(r <= 1.0)
    labels[oedema] = OEDEMA
    labels[ring & brain] = RING
    labels[core & brain] = NECROSIS
    return labels


def _depth_below_surface(mask: np.ndarray) -> np.ndarray:
    """Approximate in-plane depth (mm) of each voxel below the edge of ``mask``, from a blurred copy.

    For a flat surface a Gaussian-blurred mask is Φ(depth/σ): invert that.
    """
    sigma_mm = 6.0
    # in-plane only: the flat floor of the cerebrum would otherwise make a whole slice shallow
    blurred = gaussian_blur(
        mask.astype(np.float32), (0.0, sigma_mm / SPACING[1], sigma_mm / SPACING[2])
    )
    t = np.linspace(-4.0, 4.0, 161)
    phi = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in t]))
    depth = np.interp(blurred, phi, t * sigma_mm).astype(np.float32)
    return np.where(mask, depth, -1.0)


def render(labels: np.ndarray, series: str, seed: int) -> np.ndarray:
    """Stored values of one series: tissue signal, partial volume, bias field and Rician noise."""
    rng = np.random.default_rng([seed, 3, 1 if series == "t1c" else 2])
    lut = np.zeros(16, np.float32)
    for label, signal in SIGNAL[series].items():
        lut[label] = signal
    image = lut[labels]
    texture = gaussian_blur(rng.standard_normal(SHAPE).astype(np.float32), (0.6, 1.0, 1.0))
    image = image * (1.0 + 0.04 * texture * (labels > SKULL))
    image = gaussian_blur(image, (0.35, 0.7, 0.7))
    z, y, x = grid(SHAPE, SPACING)
    bias = 1.0 + 0.08 * (y / 128.0) - 0.05 * (z / 75.0)  # receive-coil shading
    image = image * bias
    sigma = 14.0
    real = image + rng.normal(0, sigma, SHAPE).astype(np.float32)
    imag = rng.normal(0, sigma, SHAPE).astype(np.float32)
    magnitude = np.sqrt(real * real + imag * imag)
    return np.clip(np.rint(magnitude), 0, 4095).astype(np.uint16)


def _origin() -> np.ndarray:
    # image centre on the magnet isocentre, slab centred 20 mm above it
    return np.array([-127.5, -135.5, -53.75], float)


def _mr_slice(
    pixels: np.ndarray,
    k: int,
    series: str,
    seed: int,
    series_uid: str,
    study_uid: str,
    frame_uid: str,
) -> Dataset:
    protocol = PROTOCOL[series]
    uid = sample_uid(seed, STUDY, series, "slice", k)
    ds = Dataset()
    ds.file_meta = file_meta(MRImageStorage, uid, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M_SE" if series == "t1c" else "M_IR", "M", "SE"]
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = DATE
    ds.StudyTime = "095512"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = SERIES_TIMES[series]
    ds.AccessionNumber = "DT26030503"
    ds.Modality = "MR"
    ds.Manufacturer = "Philips"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "PHILIPS-INGENIA1"
    ds.StudyDescription = "MR Brain with contrast"
    ds.SeriesDescription = protocol["description"]
    ds.ProtocolName = protocol["protocol"]
    ds.ManufacturerModelName = "Ingenia"
    ds.DeviceSerialNumber = "42311"
    ds.SoftwareVersions = ["5.7.1", "5.7.1.2"]
    patient_module(ds, PATIENT)
    ds.BodyPartExamined = "BRAIN"
    ds.ScanningSequence = protocol["scanning"]
    ds.SequenceVariant = protocol["variant"]
    ds.ScanOptions = ["FS"] if series == "flair" else ["OTHER"]
    ds.MRAcquisitionType = "2D"
    ds.SliceThickness = "2.5"
    ds.RepetitionTime = f"{protocol['tr']:g}"
    ds.EchoTime = f"{protocol['te']:g}"
    if protocol["ti"] is not None:
        ds.InversionTime = f"{protocol['ti']:g}"
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = "127.768"
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = "3"
    ds.SpacingBetweenSlices = "2.5"
    ds.EchoTrainLength = str(protocol["etl"])
    ds.PercentSampling = "100"
    ds.PercentPhaseFieldOfView = "100"
    ds.PixelBandwidth = "217"
    ds.ReceiveCoilName = "MULTI COIL"
    ds.TransmitCoilName = "B"
    ds.AcquisitionMatrix = [0, 256, 205, 0]
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.FlipAngle = f"{protocol['flip']:g}"
    ds.SAR = "0.42"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "3"
    ds.SeriesNumber = protocol["number"]
    ds.AcquisitionNumber = protocol["number"] // 100
    ds.InstanceNumber = k + 1
    position = _origin() + np.array([0.0, 0.0, k * SPACING[0]])
    ds.ImagePositionPatient = [f"{v:.5g}" for v in position]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = f"{position[2]:.5g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = SHAPE[1:]
    ds.PixelSpacing = ["1", "1"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if series == "t1c":
        ds.WindowCenter, ds.WindowWidth = "700", "1400"
        ds.ContrastBolusAgent = "GADOTERATE 0.5 mmol/ml"
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = "16"
    else:
        ds.WindowCenter, ds.WindowWidth = "620", "1240"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "normalized"
    ds.PixelData = np.ascontiguousarray(pixels[k]).tobytes()
    return ds


def _freeze(ds: Dataset, seed: int, name: str) -> None:
    """Replace what highdicom takes from the clock or a random UID, so the bytes repeat."""
    ds.InstanceCreationDate = DATE
    ds.InstanceCreationTime = "120000"
    for item in ds.get("DimensionIndexSequence", []):
        item.DimensionOrganizationUID = sample_uid(seed, STUDY, name, "dimension-organization")
    for item in ds.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = sample_uid(seed, STUDY, name, "dimension-organization")
    for item in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = f"{DATE}120000"


def write(dest: Path, *, seed: int) -> list[Path]:
    """Write the T1+C and FLAIR enhanced series and the tumour SEG under ``dest``; return the paths."""
    dest = Path(dest)
    study_uid = sample_uid(seed, STUDY, "study")
    frame_uid = sample_uid(seed, STUDY, "frame-of-reference")
    labels = brain_labels(seed)
    written = []
    enhanced = {}
    for series in ("t1c", "flair"):
        pixels = render(labels, series, seed)
        series_uid = sample_uid(seed, STUDY, series, "series")
        slices = [
            _mr_slice(pixels, k, series, seed, series_uid, study_uid, frame_uid)
            for k in range(SHAPE[0])
        ]
        image = hd.legacy.LegacyConvertedEnhancedMRImage(
            slices,
            series_instance_uid=series_uid,
            series_number=PROTOCOL[series]["number"],
            sop_instance_uid=sample_uid(seed, STUDY, series, "enhanced"),
            instance_number=1,
            transfer_syntax_uid=ExplicitVRLittleEndian,
        )
        _freeze(image, seed, series)
        # the converted object references its single-frame sources (never written)
        # per frame; dciodvfy rejects the extra top-level Referenced Series Sequence
        del image.ReferencedSeriesSequence
        image.SeriesDescription = PROTOCOL[series]["description"]
        enhanced[series] = image
        written.append(save_atomically(image, dest / series / "IM000001.dcm"))

    mask = np.zeros(SHAPE, np.uint8)
    mask[labels == RING] = 1
    mask[labels == OEDEMA] = 2
    # the converter orders frames its own way: give the SEG the source's frame order
    frame_z = [
        float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        for item in enhanced["t1c"].PerFrameFunctionalGroupsSequence
    ]
    order = [int(round((zf - _origin()[2]) / SPACING[0])) for zf in frame_z]
    mask = mask[order]
    segments = [
        hd.seg.SegmentDescription(
            segment_number=1,
            segment_label="Enhancing tumour",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=sample_uid(seed, STUDY, "segment", 1),
            tracking_id="enhancing tumour",
        ),
        hd.seg.SegmentDescription(
            segment_number=2,
            segment_label="Oedema",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Edema,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_uid=sample_uid(seed, STUDY, "segment", 2),
            tracking_id="oedema",
        ),
    ]
    seg = hd.seg.Segmentation(
        source_images=[enhanced["t1c"]],
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments,
        series_instance_uid=sample_uid(seed, STUDY, "seg", "series"),
        series_number=1001,
        sop_instance_uid=sample_uid(seed, STUDY, "seg", "instance"),
        instance_number=1,
        manufacturer="dicomteach",
        manufacturer_model_name="sample library",
        software_versions="0.1",
        device_serial_number="0",
        content_label="TUMOUR",
        content_description="Reference: enhancing tumour and oedema",
        content_creator_name="TEACHER^REFERENCE",
        series_description="Reference tumour segmentation",
        content_date=DATE,
        content_time="120000",
        series_date=DATE,
        series_time="120000",
    )
    _freeze(seg, seed, "seg")
    written.append(save_atomically(seg, dest / "seg-tumour.dcm"))
    return written


__all__ = ["PROTOCOL", "SHAPE", "SIGNAL", "SPACING", "brain_labels", "write"]
