"""Myocardial perfusion SPECT, Siemens Symbia T16 style: one NM multi-frame reconstruction.

A Tc-99m tetrofosmin rest study reconstructed as transaxial slices (Image
Type ``ORIGINAL\\PRIMARY\\RECON TOMO\\EMISSION``), stored as a classic NM
Image (PS3.3 A.5): one file, the frames indexed by Slice Vector (0054,0080),
geometry in the Detector Information Sequence. The left ventricle has a fixed
inferior-wall perfusion defect; liver and bowel take up tracer below the heart.

Layout::

    dest/IM000001.dcm   NM Image Storage, 64 slices of 64×64, 4.7952 mm voxels, counts
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import NuclearMedicineImageStorage

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import new_instance
from dicomteach.samples._common import Patient, code, patient_module, sample_uid
from dicomteach.samples._shapes import ellipsoid, gaussian_blur, grid

STUDY = "nm-spect"
MATRIX = 64
VOXEL_MM = 4.7952
PATIENT = Patient("TEACHING^PERFUSION", "DT-NM-0005", "19510922", "F", 71.0, 1.64)
DATE = "20260309"
LV_CENTRE_MM = (25.0, -15.0, 0.0)
"""Centre of the left ventricle (LPS, mm, relative to the centre of the volume)."""
LV_AXIS = np.array([0.62, -0.55, -0.56])
"""Base-to-apex direction of the left ventricle in LPS: to the left, anterior, inferior."""


def perfusion_counts(seed: int) -> np.ndarray:
    """Reconstructed counts, ``(slice, row, column)`` with slice 0 the most caudal."""
    rng = np.random.default_rng([seed, 5])
    shape = (MATRIX,) * 3
    z, y, x = grid(shape, (VOXEL_MM,) * 3)
    activity = np.zeros(shape, np.float32)
    body = ellipsoid((y, x), (10.0, 0.0), (105.0, 150.0)) <= 1
    activity += 6.0 * np.broadcast_to(body, shape)

    axis = LV_AXIS / np.linalg.norm(LV_AXIS)
    dz, dy, dx = z - LV_CENTRE_MM[2], y - LV_CENTRE_MM[1], x - LV_CENTRE_MM[0]
    along = dx * axis[0] + dy * axis[1] + dz * axis[2]
    across = np.sqrt(np.maximum(dx**2 + dy**2 + dz**2 - along**2, 0.0))
    # prolate shell: apex at +38 mm along the axis, open valve plane at −28 mm
    outer = np.sqrt((across / 30.0) ** 2 + (np.maximum(along, 0) / 40.0) ** 2)
    outer = np.where(along < 0, across / 30.0, outer)
    inner = np.sqrt((across / 19.0) ** 2 + (np.maximum(along, 0) / 29.0) ** 2)
    inner = np.where(along < 0, across / 19.0, inner)
    wall = (outer <= 1) & (inner > 1) & (along > -28.0)
    uptake = np.full(shape, 100.0, np.float32)
    # fixed inferior defect (right coronary territory): the wall facing the feet
    inferior = -dz / np.maximum(np.sqrt(dx**2 + dy**2 + dz**2), 1e-3)
    uptake *= np.where(inferior > 0.45, 0.45, 1.0) * np.where(along > 30.0, 0.85, 1.0)
    activity = np.where(wall, uptake, activity)
    rv = ellipsoid((z, y, x), (5.0, -40.0, -10.0), (30.0, 14.0, 30.0))
    activity = np.where((rv <= 1) & (rv > 0.7) & ~wall, 28.0, activity)
    liver = ellipsoid((z, y, x), (-75.0, 0.0, -70.0), (45.0, 70.0, 70.0)) <= 1
    activity = np.where(liver, 45.0, activity)
    bowel = ellipsoid((z, y, x), (-95.0, -30.0, 30.0), (25.0, 20.0, 40.0)) <= 1
    activity = np.where(bowel, 60.0, activity)

    # system resolution (~12 mm FWHM at this distance), Poisson noise, post-filter
    blurred = gaussian_blur(activity, 12.0 / 2.355 / VOXEL_MM)
    noisy = rng.poisson(np.clip(blurred, 0, None) * 1.6).astype(np.float32)
    smoothed = gaussian_blur(noisy, 0.8)
    return np.clip(np.rint(smoothed), 0, 65535).astype(np.uint16)


def write(dest: Path, *, seed: int) -> list[Path]:
    """Write the reconstructed SPECT under ``dest``; return the path written."""
    dest = Path(dest)
    counts = perfusion_counts(seed)
    uid = sample_uid(seed, STUDY, "recon")
    ds = new_instance(NuclearMedicineImageStorage, uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = DATE
    ds.StudyTime = "081500"
    ds.SeriesTime = "093512"
    ds.AcquisitionTime = "091005"
    ds.ContentTime = "093512"
    ds.AccessionNumber = "DT26030905"
    ds.Modality = "NM"
    ds.Manufacturer = "SIEMENS NM"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "SYMBIA01"
    ds.StudyDescription = "Myocardial Perfusion Rest"
    ds.SeriesDescription = "Rest Transaxials IRAC"
    ds.ManufacturerModelName = "Symbia T16"
    ds.DeviceSerialNumber = "1205"
    ds.SoftwareVersions = "VA60A"
    patient_module(ds, PATIENT)
    ds.BodyPartExamined = "HEART"
    ds.SliceThickness = f"{VOXEL_MM:g}"
    ds.SpacingBetweenSlices = f"{VOXEL_MM:g}"
    ds.StudyInstanceUID = sample_uid(seed, STUDY, "study")
    ds.SeriesInstanceUID = sample_uid(seed, STUDY, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 3
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.FrameOfReferenceUID = sample_uid(seed, STUDY, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.ImageID = "Rest_IRAC"
    ds.LossyImageCompression = "00"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = MATRIX
    ds.FrameIncrementPointer = 0x00540080  # Slice Vector
    ds.Rows = ds.Columns = MATRIX
    ds.PixelSpacing = [f"{VOXEL_MM:g}", f"{VOXEL_MM:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.SmallestImagePixelValue = int(counts.min())
    ds.LargestImagePixelValue = int(counts.max())
    ds.WindowCenter = str(int(counts.max()) // 2)
    ds.WindowWidth = str(int(counts.max()))
    ds.CorrectedImage = ["UNIF", "COR", "ATTN", "SCAT"]
    ds.CountsAccumulated = int(counts.sum())

    window = Dataset()
    window.EnergyWindowName = "Tc99m"
    energy_range = Dataset()
    energy_range.EnergyWindowLowerLimit = "126.45"
    energy_range.EnergyWindowUpperLimit = "154.55"
    window.EnergyWindowRangeSequence = [energy_range]
    ds.EnergyWindowInformationSequence = [window]
    ds.NumberOfEnergyWindows = 1
    drug = Dataset()
    drug.RadionuclideCodeSequence = [code("C-163A8", "SRT", "^99m^Technetium")]
    drug.RadiopharmaceuticalRoute = "Intravenous"
    drug.RadiopharmaceuticalStartTime = "082500"
    drug.RadionuclideTotalDose = "370"  # MBq, as NM writes it (PS3.3 C.8.4.10.1)
    drug.RadionuclideHalfLife = "21624.12"
    drug.Radiopharmaceutical = "Tc99m Tetrofosmin"
    drug.RadiopharmaceuticalCodeSequence = [code("C-B1046", "SRT", "Tc-99m tetrofosmin")]
    ds.RadiopharmaceuticalInformationSequence = [drug]

    detector = Dataset()
    detector.CollimatorGridName = "LEHR"
    detector.CollimatorType = "PARA"
    detector.ZoomFactor = ["1.45", "1.45"]
    detector.ImagePositionPatient = [
        f"{v:.4f}" for v in (-(MATRIX - 1) / 2 * VOXEL_MM,) * 2 + (-(MATRIX - 1) / 2 * VOXEL_MM,)
    ]
    detector.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.DetectorInformationSequence = [detector]
    ds.NumberOfDetectors = 1

    rotation = Dataset()
    rotation.StartAngle = "180"
    rotation.AngularStep = "2.8125"
    rotation.RotationDirection = "CW"
    rotation.ScanArc = "180"
    rotation.ActualFrameDuration = 25000
    rotation.NumberOfFramesInRotation = 32
    rotation.TableTraverse = "0"
    rotation.TableHeight = "152"
    rotation.RadialPosition = ["260", "260"]
    ds.RotationInformationSequence = [rotation]
    ds.NumberOfRotations = 1
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.NumberOfSlices = MATRIX
    ds.SliceVector = list(range(1, MATRIX + 1))
    ds.ReconstructionDiameter = f"{MATRIX * VOXEL_MM:.1f}"
    ds.ConvolutionKernel = "BW 0.5 10"
    ds.ReconstructionMethod = "Flash3D 10i8s"
    ds.AttenuationCorrectionMethod = "CT"

    orientation = code("F-10450", "SRT", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = [code("F-10340", "SRT", "supine")]
    ds.PatientOrientationCodeSequence = [orientation]
    ds.PatientGantryRelationshipCodeSequence = [code("F-10470", "SRT", "headfirst")]

    ds.PixelData = np.ascontiguousarray(counts).tobytes()
    return [save_dataset_atomically(ds, dest / "IM000001.dcm")]


__all__ = ["LV_AXIS", "LV_CENTRE_MM", "MATRIX", "VOXEL_MM", "perfusion_counts", "write"]
