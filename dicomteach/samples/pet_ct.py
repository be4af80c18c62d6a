"""FDG PET/CT, Canon Celesteion style: a low-dose CT and an attenuation-corrected PET in Bq/ml.

The patient has a hot right-lung tumour (SUV about 8) and the normal FDG
uptake a reader learns to look past: the cerebral cortex and deep grey nuclei
(SUV about 9) over a paler white matter (about 3), the left-ventricular
myocardium (about 4.5) around a blood pool of about 1.6, the liver (about 2,
the reference organ), and the excreted tracer: urine in the renal pelves,
along the ureters and in a full bladder (SUV 20 to 30). CT and PET share the
Frame of Reference, as a PET/CT scanner writes them.

Layout::

    dest/ct/IM000001.dcm …   CT Image Storage, 128 slices 256×256, 1.953 mm, 5 mm apart
    dest/pet/IM000001.dcm …  PET Image Storage, 128 slices 128×128, 4 mm, 5 mm apart,
                             int16 with a Rescale Slope per slice, Units BQML
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    PositronEmissionTomographyImageStorage,
)

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import (
    CANON,
    StudyInfo,
    ct_slice,
    ds_text,
    file_meta,
    hu_to_stored,
    new_instance,
)
from dicomteach.samples._common import Patient, code, patient_module, sample_uid
from dicomteach.samples._shapes import ellipsoid, gaussian_blur, segment_distance, smooth_noise

STUDY = "pet-ct"
N_SLICES = 128
SLICE_MM = 5.0
CT_PIXELS, CT_MM = 256, 500.0 / 256
PET_PIXELS, PET_MM = 128, 4.0
PATIENT = Patient("TEACHING^LUNG", "DT-PET-0004", "19571103", "M", 78.0, 1.76)
DATE = "20260306"
INJECTION_TIME = "092800"
PET_SERIES_TIME = "103000"
DOSE_BQ = 300e6
F18_HALF_LIFE_S = 6586.2
BED_SLICES = 36
"""Slices per bed position: each bed is acquired 2 minutes after the previous one."""
LESION_CENTRE_MM = (-70.0, -10.0, 470.0)
"""Centre of the right-lung tumour (LPS, mm): patient's right, upper lobe."""
LESION_RADIUS_MM = 15.0
MANUFACTURER, MODEL = CANON.manufacturer, "Celesteion"

# tissue labels: (CT HU, PET SUV)
AIR, FAT, SOFT, LUNG, BONE, MARROW, LIVER, SPLEEN, KIDNEY, BLADDER = range(10)
HEART, BLOOD, BRAIN, SKULL, LESION, TABLE, MUSCLE = range(10, 17)
WHITE_MATTER, CSF, URINE = range(17, 20)
# Uptake ranges a nuclear medicine reader expects (SUVmean, FDG at 60-70 minutes):
# cortex and deep grey 7-11 and white matter a third of it; myocardium 1.5-10, here a
# moderately fasted 4.5; liver 1.5-2.5; blood pool 1.2-2; urine 10-50.
TISSUES = {
    AIR: (-1000.0, 0.0),
    FAT: (-100.0, 0.35),
    SOFT: (35.0, 0.9),
    MUSCLE: (50.0, 0.8),
    LUNG: (-840.0, 0.45),
    BONE: (700.0, 0.6),
    MARROW: (250.0, 1.6),
    LIVER: (58.0, 2.1),
    SPLEEN: (50.0, 1.8),
    KIDNEY: (35.0, 3.5),
    BLADDER: (8.0, 30.0),
    HEART: (45.0, 4.5),
    BLOOD: (42.0, 1.6),
    BRAIN: (38.0, 9.0),  # grey matter
    WHITE_MATTER: (29.0, 3.0),
    CSF: (6.0, 0.3),
    URINE: (8.0, 22.0),
    SKULL: (1000.0, 0.5),
    LESION: (40.0, 8.0),
    TABLE: (-300.0, 0.0),
}


def body_labels(seed: int) -> np.ndarray:
    """Tissue label of each CT voxel, ``(N_SLICES, CT_PIXELS, CT_PIXELS)``, slice 0 the most caudal."""
    rng = np.random.default_rng([seed, 4])
    shape = (N_SLICES, CT_PIXELS, CT_PIXELS)
    zs = np.arange(N_SLICES, dtype=np.float32)[:, None, None] * SLICE_MM
    axis = (np.arange(CT_PIXELS, dtype=np.float32) - (CT_PIXELS - 1) / 2) * CT_MM
    y = axis[None, :, None]
    x = axis[None, None, :]
    coords = (zs, y, x)
    labels = np.zeros(shape, np.uint8)

    # outline of the body along z: pelvis, abdomen, chest, neck, head (half-axes in mm)
    knots_z = [0, 150, 380, 540, 575, 600, 640]
    knots_ax = [165, 160, 165, 160, 58, 72, 76]
    knots_ay = [110, 115, 120, 115, 60, 88, 94]
    knots_cy = [0, 0, 0, -5, 10, 0, -5]
    z1 = zs[:, 0, 0]
    ax = np.interp(z1, knots_z, knots_ax)[:, None, None]
    ay = np.interp(z1, knots_z, knots_ay)[:, None, None]
    cy = np.interp(z1, knots_z, knots_cy)[:, None, None]
    wobble = 1.0 + 0.015 * smooth_noise(shape, 6.0, rng)
    r_body = np.sqrt((x / ax) ** 2 + ((y - cy) / ay) ** 2) * wobble
    body = r_body <= 1.0
    labels[body] = FAT
    labels[r_body <= 1.0 - 14.0 / ay] = MUSCLE
    trunk = zs < 560
    labels[(r_body <= 1.0 - 30.0 / ay) & trunk] = SOFT

    # lungs and heart in the chest
    for side in (-1, 1):
        lung = ellipsoid(coords, (470.0, 0.0, side * 75.0), (95.0, 85.0, 62.0)) <= 1
        labels[lung & (zs > 400)] = LUNG
    labels[ellipsoid(coords, (440.0, -25.0, 30.0), (55.0, 50.0, 55.0)) <= 1] = BLOOD
    labels[_left_ventricular_wall(coords)] = HEART
    labels[ellipsoid(coords, (470.0, 25.0, 18.0), (120.0, 13.0, 13.0)) <= 1] = BLOOD  # aorta

    # abdomen: liver (patient's right, −x), spleen, kidneys; pelvis: bladder
    labels[ellipsoid(coords, (360.0, -5.0, -60.0), (70.0, 85.0, 85.0)) <= 1] = LIVER
    labels[ellipsoid(coords, (350.0, 45.0, 95.0), (45.0, 35.0, 28.0)) <= 1] = SPLEEN
    for side in (-1, 1):
        labels[ellipsoid(coords, (290.0, 55.0, side * 65.0), (50.0, 25.0, 22.0)) <= 1] = KIDNEY
        # the renal pelvis holds urine, which runs down the ureter to the bladder
        labels[ellipsoid(coords, (290.0, 48.0, side * 50.0), (16.0, 9.0, 8.0)) <= 1] = URINE
        ureter, along = segment_distance(
            coords, (282.0, 45.0, side * 46.0), (90.0, -25.0, side * 30.0)
        )
        labels[(ureter <= 2.5) & (along > 0.0) & (along < 1.0)] = URINE
    labels[ellipsoid(coords, (70.0, -40.0, 0.0), (40.0, 45.0, 55.0)) <= 1] = BLADDER

    # bones: spine, pelvis, ribs in the chest, skull
    spine = ((y - 60.0) ** 2 + x**2 <= 18.0**2) & (zs < 585)
    labels[spine] = BONE
    labels[((y - 60.0) ** 2 + x**2 <= 14.0**2) & (zs < 585)] = MARROW
    for side in (-1, 1):
        wing = ellipsoid(coords, (130.0, 20.0, side * 110.0), (55.0, 55.0, 20.0))
        labels[(wing <= 1) & (wing > 0.75)] = BONE
        labels[wing <= 0.75] = MARROW
    ribs = (np.abs(r_body - (1.0 - 24.0 / ay)) < 5.0 / ay) & (zs > 380) & (zs < 545)
    ribs &= np.sin(zs * 2 * np.pi / 25.0) > 0.55
    labels[ribs] = BONE
    head = zs >= 585
    labels[head & (r_body <= 1.0 - 6.0 / ay)] = SKULL
    brain = head & (r_body <= 1.0 - 13.0 / ay)
    labels[brain] = BRAIN
    # a cortical ribbon about 8 mm deep, folded (gyri), over the white matter; the deep
    # grey nuclei on both sides of the ventricles (own generator: the other shapes of a
    # seed stay where they were)
    folds = smooth_noise(shape, 1.5, np.random.default_rng([seed, 4, 3]))
    depth = (1.0 - r_body) * ay  # mm inside the body outline
    labels[brain & (depth > 21.0 + 3.0 * np.clip(folds, -1.5, 1.5))] = WHITE_MATTER
    for side in (-1, 1):
        nuclei = ellipsoid(coords, (612.0, -2.0, side * 17.0), (11.0, 16.0, 8.0)) <= 1
        labels[brain & nuclei] = BRAIN
    labels[brain & (ellipsoid(coords, (618.0, -4.0, 0.0), (9.0, 18.0, 5.0)) <= 1)] = CSF

    # the tumour, slightly lobulated
    lobules = 1.0 + 0.1 * np.clip(smooth_noise(shape, 3.0, rng), -2, 2)
    tumour = ellipsoid(coords, _lps_to_zyx(LESION_CENTRE_MM), (LESION_RADIUS_MM,) * 3)
    labels[tumour * lobules <= 1.0] = LESION

    # the patient lies on the table (posterior is +y)
    labels[(~body) & (np.abs(y - 140.0) < 4.0) & (np.abs(x) < 220.0)] = TABLE
    return labels


def _left_ventricular_wall(coords: tuple[np.ndarray, ...]) -> np.ndarray:
    """The left ventricle's myocardium: a 10 mm shell around its cavity, open at the base.

    Its long axis runs from the base (posterior, superior, right) to the apex
    (anterior, inferior, left), so a coronal view or MIP shows the horseshoe a
    reader knows; the valve plane is left out, as FDG shows it.
    """
    zs, y, x = coords
    base = np.array([455.0, -10.0, 15.0])  # centre of the valve plane (z, y, x), mm
    axis = np.array([-0.5, -0.55, 0.67])
    axis /= np.linalg.norm(axis)
    along = (zs - base[0]) * axis[0] + (y - base[1]) * axis[1] + (x - base[2]) * axis[2]
    across2 = (zs - base[0]) ** 2 + (y - base[1]) ** 2 + (x - base[2]) ** 2 - along**2
    # half an ellipsoid of revolution from the base plane to the apex, 75 mm long
    outer = (along / 75.0) ** 2 + across2 / 30.0**2 <= 1
    inner = (along / 65.0) ** 2 + across2 / 20.0**2 <= 1
    return outer & ~inner & (along > 0.0)


def _lps_to_zyx(point: tuple[float, float, float]) -> tuple[float, float, float]:
    return (point[2], point[1], point[0])


def _origin(pixels: int, mm: float) -> np.ndarray:
    first = -(pixels - 1) / 2 * mm
    return np.array([first, first, 0.0])


def ct_hu(labels: np.ndarray, seed: int) -> np.ndarray:
    """Hounsfield units of the CT: tissue values, slight blur and low-dose noise."""
    rng = np.random.default_rng([seed, 4, 1])
    lut = np.zeros(32, np.float32)
    for label, (hu, _) in TISSUES.items():
        lut[label] = hu
    hu = gaussian_blur(lut[labels], (0.3, 0.6, 0.6))
    hu += rng.normal(0.0, 18.0, hu.shape).astype(np.float32) * (labels > 0)
    return hu


def pet_suv(labels: np.ndarray, seed: int) -> np.ndarray:
    """SUVbw on the PET grid: uptake per tissue, scanner resolution, noise."""
    rng = np.random.default_rng([seed, 4, 2])
    lut = np.zeros(32, np.float32)
    for label, (_, suv) in TISSUES.items():
        lut[label] = suv
    suv = lut[labels]
    # 256 CT pixels of 1.953 mm cover 500 mm; PET's 128 pixels of 4 mm cover 512 mm
    step = PET_MM / CT_MM
    index = np.clip(
        np.rint((np.arange(PET_PIXELS) - (PET_PIXELS - 1) / 2) * step + (CT_PIXELS - 1) / 2),
        0,
        CT_PIXELS - 1,
    ).astype(int)
    suv = gaussian_blur(suv, (0.2, 1.2, 1.2))[:, index][:, :, index]
    inside = np.abs((np.arange(PET_PIXELS) - (PET_PIXELS - 1) / 2) * PET_MM) < 250
    suv *= inside[None, :, None] & inside[None, None, :]
    fwhm_mm = 6.5
    sigma = fwhm_mm / 2.355
    suv = gaussian_blur(suv, (sigma / SLICE_MM, sigma / PET_MM, sigma / PET_MM))
    noise = gaussian_blur(rng.standard_normal(suv.shape).astype(np.float32), (0.4, 0.7, 0.7))
    suv = suv * (1.0 + 0.10 * noise / noise.std())
    return np.clip(suv, 0.0, None)


def _suv_to_bqml_factor() -> float:
    start = datetime.datetime.strptime(DATE + PET_SERIES_TIME, "%Y%m%d%H%M%S")
    injected = datetime.datetime.strptime(DATE + INJECTION_TIME, "%Y%m%d%H%M%S")
    decayed = DOSE_BQ * 2.0 ** (-(start - injected).total_seconds() / F18_HALF_LIFE_S)
    assert PATIENT.weight_kg is not None
    return decayed / (PATIENT.weight_kg * 1000.0)


def _pet_slice(
    stored: np.ndarray,
    slope: float,
    k: int,
    *,
    seed: int,
    study: StudyInfo,
    series_uid: str,
) -> Dataset:
    uid = sample_uid(seed, STUDY, "pet", k)
    ds = new_instance(PositronEmissionTomographyImageStorage, uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = DATE
    ds.StudyTime = study.study_time
    ds.SeriesTime = PET_SERIES_TIME
    bed = (N_SLICES - 1 - k) // BED_SLICES  # head first: the cranial bed is acquired first
    start = datetime.datetime.strptime(DATE + PET_SERIES_TIME, "%Y%m%d%H%M%S")
    acquired = start + datetime.timedelta(minutes=2 * bed)
    ds.AcquisitionTime = ds.ContentTime = acquired.strftime("%H%M%S")
    ds.AccessionNumber = study.accession
    ds.Modality = "PT"
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "CELESTEION01"
    ds.StudyDescription = study.study_description
    ds.SeriesDescription = "WB FDG AC 3D-OSEM"
    ds.ManufacturerModelName = MODEL
    ds.DeviceSerialNumber = "PCA12345"
    ds.SoftwareVersions = "V8.3SP0002"
    patient_module(ds, PATIENT)
    ds.BodyPartExamined = "WHOLEBODY"
    ds.SliceThickness = ds_text(SLICE_MM)
    # no Patient Position: PET carries the coded Patient Orientation instead (C.8.4.6)
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 3
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = N_SLICES - k  # numbered head to foot, as the scanner does
    position = _origin(PET_PIXELS, PET_MM) + np.array([0.0, 0.0, k * SLICE_MM])
    ds.ImagePositionPatient = [ds_text(v) for v in position]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = ds_text(position[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = PET_PIXELS
    ds.PixelSpacing = [ds_text(PET_MM), ds_text(PET_MM)]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SmallestImagePixelValue = int(stored.min())
    ds.LargestImagePixelValue = int(stored.max())
    ds["SmallestImagePixelValue"].VR = ds["LargestImagePixelValue"].VR = "SS"
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.WindowCenter = "10000"
    ds.WindowWidth = "20000"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = ds_text(slope)
    ds.RescaleType = "BQML"
    ds.LossyImageCompression = "00"
    # PET Series (C.8.9.1)
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.NumberOfSlices = N_SLICES
    ds.RandomsCorrectionMethod = "DLYD"
    ds.DecayCorrection = "START"
    ds.ReconstructionMethod = "3D-OSEM 3i10s TOF"
    ds.ScatterCorrectionMethod = "SSS"
    ds.AttenuationCorrectionMethod = "CT-AC"
    ds.ReconstructionDiameter = "512"
    ds.ConvolutionKernel = "Gaussian 4mm"
    ds.CollimatorType = "NONE"
    ds.AxialAcceptance = "0"
    ds.AxialMash = [0, 0]
    ds.TransverseMash = "0"
    ds.DetectorElementSize = ["4", "4"]
    ds.CoincidenceWindowWidth = "4"
    # PET Isotope (C.8.9.2)
    drug = Dataset()
    drug.RadiopharmaceuticalRoute = "Intravenous route"
    drug.Radiopharmaceutical = "FDG -- fluorodeoxyglucose"
    drug.RadiopharmaceuticalStartTime = INJECTION_TIME
    drug.RadiopharmaceuticalStartDateTime = DATE + INJECTION_TIME
    drug.RadionuclideTotalDose = ds_text(DOSE_BQ)
    drug.RadionuclideHalfLife = ds_text(F18_HALF_LIFE_S)
    drug.RadionuclidePositronFraction = "0.9673"
    drug.RadionuclideCodeSequence = [code("C-111A1", "SRT", "^18^Fluorine")]
    drug.RadiopharmaceuticalCodeSequence = [code("C-B1031", "SRT", "Fluorodeoxyglucose F^18^")]
    ds.RadiopharmaceuticalInformationSequence = [drug]
    # NM/PET Patient Orientation (C.8.4.6)
    orientation = code("F-10450", "SRT", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = [code("F-10340", "SRT", "supine")]
    ds.PatientOrientationCodeSequence = [orientation]
    ds.PatientGantryRelationshipCodeSequence = [code("F-10470", "SRT", "headfirst")]
    # PET Image (C.8.9.4)
    ds.FrameReferenceTime = ds_text((acquired - start).total_seconds() * 1000.0 + 60000.0)
    ds.ActualFrameDuration = 120000
    ds.DecayFactor = ds_text(2.0 ** ((acquired - start).total_seconds() / F18_HALF_LIFE_S))
    ds.DoseCalibrationFactor = "1"
    ds.ScatterFractionFactor = "0.31"
    ds.DeadTimeFactor = "1.02"
    ds.ImageIndex = N_SLICES - k
    ds.PixelData = np.ascontiguousarray(stored, dtype="<i2").tobytes()
    return ds


def write(dest: Path, *, seed: int) -> list[Path]:
    """Write the CT and PET series under ``dest``; return the paths written."""
    dest = Path(dest)
    study = StudyInfo(
        patient_name=PATIENT.name,
        patient_id=PATIENT.patient_id,
        patient_sex=PATIENT.sex,
        patient_birth_date=PATIENT.birth_date,
        study_uid=sample_uid(seed, STUDY, "study"),
        study_date=DATE,
        study_time="101500",
        study_description="PET-CT FDG WHOLE BODY",
        accession="DT26030604",
        frame_of_reference_uid=sample_uid(seed, STUDY, "frame-of-reference"),
    )
    labels = body_labels(seed)
    written = []

    stored = hu_to_stored(ct_hu(labels, seed))
    ct_series = sample_uid(seed, STUDY, "ct", "series")
    for k in range(N_SLICES):
        ds = ct_slice(
            stored[k],
            study=study,
            series_uid=ct_series,
            position=_origin(CT_PIXELS, CT_MM) + np.array([0.0, 0.0, k * SLICE_MM]),
            pixel_spacing=(CT_MM, CT_MM),
            slice_thickness=SLICE_MM,
            instance_number=N_SLICES - k,
            series_number=2,
            series_description="CT AC 5.0 FC08",
            model=MODEL,
            habits=CANON,
        )
        uid = sample_uid(seed, STUDY, "ct", k)
        ds.SOPInstanceUID = uid
        ds.file_meta = file_meta(CTImageStorage, uid, ExplicitVRLittleEndian)
        ds.BodyPartExamined = "WHOLEBODY"
        ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101812"
        ds.KVP = "120"
        ds.XRayTubeCurrent = "40"
        name = f"IM{N_SLICES - k:06d}.dcm"
        written.append(save_dataset_atomically(ds, dest / "ct" / name))

    bqml = pet_suv(labels, seed) * _suv_to_bqml_factor()
    pet_series = sample_uid(seed, STUDY, "pet", "series")
    for k in range(N_SLICES):
        peak = float(bqml[k].max())
        slope = max(peak, 1.0) / 32767.0
        slope = float(ds_text(slope))  # the slope as written is the slope the reader uses
        quantised = np.clip(np.rint(bqml[k] / slope), 0, 32767).astype(np.int16)
        ds = _pet_slice(quantised, slope, k, seed=seed, study=study, series_uid=pet_series)
        written.append(save_dataset_atomically(ds, dest / "pet" / f"IM{N_SLICES - k:06d}.dcm"))
    return written


__all__ = ["DOSE_BQ", "LESION_CENTRE_MM", "LESION_RADIUS_MM", "TISSUES", "body_labels", "write"]
