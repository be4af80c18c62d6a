"""Chest radiograph (CR, PA) with a lung mass, and the prior of a year before without it.

Agfa-style computed radiography: MONOCHROME1 (the lowest stored value is
white), 12 bits, 0.15 mm pixels given as Imager Pixel Spacing and Pixel
Spacing, Patient Orientation ``L\\F`` (a PA film hung as if facing the
patient: columns run to the patient's left, rows to the feet).

* ``current/IM000001.dcm``: a 4 cm mass in the left upper zone; JPEG-LS Lossless;
* ``prior/IM000001.dcm``: a year earlier, no mass; Explicit VR Little Endian.

The image is a projection of the chest phantom along the beam (posterior →
anterior): smooth tissues projected on a 2 mm grid and interpolated, ribs,
clavicles, vessels and airways projected analytically at full resolution,
then the log signal, a large-kernel contrast equalisation as CR processing
does, and quantum noise. High exposure (lungs, air) is stored high, so it is
displayed dark once MONOCHROME1 is inverted.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, JPEGLSLossless

from dicomteach.samples import phantoms
from dicomteach.samples._common import (
    Patient,
    file_meta,
    patient_module,
    sample_uid,
    save_atomically,
)

#: The fictitious patient of both radiographs.
PATIENT = Patient("TEACHING^MASS", "DTCR0001", "19510930", "M")
PIXEL_MM = 0.15


@dataclasses.dataclass(frozen=True)
class _Exam:
    name: str
    study_date: date
    study_time: str
    accession: str
    transfer_syntax: str
    lesion: str | None
    shift_mm: tuple[float, float]


_EXAMS = (
    _Exam(
        "current", date(2025, 5, 12), "101244", "DTA25051201", JPEGLSLossless, "mass", (0.0, 0.0)
    ),
    _Exam(
        "prior",
        date(2024, 5, 14),
        "083011",
        "DTA24051401",
        ExplicitVRLittleEndian,
        None,
        (4.0, -6.0),
    ),
)


def write(dest: str | Path, *, seed: int = 0, rows: int = 2500, columns: int = 2000) -> list[Path]:
    """Write the current and the prior PA chest radiograph under ``dest``; returns the files."""
    dest = Path(dest)
    written = []
    for number, exam in enumerate(_EXAMS):
        chest = phantoms.make_chest(seed, lesion=exam.lesion, scale=0.92)
        image = radiograph(
            chest, rows, columns, exam.shift_mm, np.random.default_rng([seed, number, 0xC2])
        )
        ds = _dataset(image, exam, seed)
        if exam.transfer_syntax != ExplicitVRLittleEndian:
            ds.compress(exam.transfer_syntax, image, generate_instance_uid=False)
        written.append(save_atomically(ds, dest / exam.name / "IM000001.dcm"))
    return written


def radiograph(
    chest: phantoms.Chest,
    rows: int,
    columns: int,
    shift_mm: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Stored values (uint16, 12 bits, MONOCHROME1 sense) of a processed PA chest radiograph."""
    width, height = columns * PIXEL_MM, rows * PIXEL_MM
    top = chest.apex + 55.0 + shift_mm[1]
    x_fine = (np.arange(columns) - (columns - 1) / 2.0) * PIXEL_MM + shift_mm[0]
    z_fine = top - np.arange(rows) * PIXEL_MM
    # smooth tissues on a coarse grid, summed along the beam (y)
    step = 2.0
    x_c = np.arange(-width / 2 - step, width / 2 + 2 * step, step) + shift_mm[0]
    z_c = np.arange(top + step, top - height - 2 * step, -step)
    y_c = np.arange(-140.0, 140.0, 2.5, dtype=np.float32)
    path_c = np.empty((len(z_c), len(x_c)), dtype=np.float32)
    xx, yy = np.meshgrid(x_c.astype(np.float32), y_c, indexing="ij")
    for i, z in enumerate(z_c):
        hu, _ = phantoms.base_hounsfield(chest, xx, yy, np.float32(z))
        path_c[i] = phantoms.attenuation(hu).sum(axis=1) * 2.5
    # large-kernel equalisation computed on the coarse grid (what CR processing does)
    low = _gaussian_fft(path_c, 30.0 / step)
    path = _resample(path_c, z_c, x_c, z_fine, x_fine)
    low = _resample(low, z_c, x_c, z_fine, x_fine)
    # vessels under ~1.4 mm across are below what a radiograph resolves against the lung
    tubes = chest.tubes
    seen = (tubes.kind != phantoms.VESSEL) | (np.maximum(tubes.r0, tubes.r1) >= 0.7)
    phantoms.project_tubes(
        path,
        phantoms.Tubes(
            tubes.p0[seen], tubes.p1[seen], tubes.r0[seen], tubes.r1[seen], tubes.kind[seen]
        ),
        z_fine,
        x_fine,
    )
    if chest.lesion is not None:
        _project_lesion(path, chest.lesion, z_fine, x_fine)
    processed = path - 0.55 * low
    signal = -processed + rng.normal(0.0, 0.025, processed.shape).astype(np.float32)
    stored = 2300.0 + 520.0 * signal
    stored = np.clip(np.rint(stored), 0, 4095).astype(np.uint16)
    # collimator shadow: unexposed border, white on display
    edge = int(round(4.5 / PIXEL_MM))
    for view in (stored[:edge], stored[-edge:], stored[:, :edge], stored[:, -edge:]):
        view[...] = 180
    return stored


def _project_lesion(
    path: np.ndarray, lesion: phantoms.Lesion, z_mm: np.ndarray, x_mm: np.ndarray
) -> None:
    mu_soft = float(phantoms.attenuation(np.array(40.0)))
    mu_lung = float(phantoms.attenuation(np.array(phantoms.HU["lung"])))
    reach = lesion.radius * 1.4
    rs = np.flatnonzero(np.abs(z_mm - lesion.centre[2]) < reach)
    cs = np.flatnonzero(np.abs(x_mm - lesion.centre[0]) < reach)
    if rs.size == 0 or cs.size == 0:
        return
    zz, xx = np.meshgrid(z_mm[rs], x_mm[cs], indexing="ij")
    rn = lesion.normalised_radius(xx, np.full_like(xx, lesion.centre[1]), zz)
    chord = 2.0 * lesion.radius * np.sqrt(np.clip(1.0 - rn * rn, 0.0, 1.0))
    path[rs[0] : rs[-1] + 1, cs[0] : cs[-1] + 1] += ((mu_soft - mu_lung) * chord).astype(path.dtype)
    phantoms.project_tubes(path, lesion.spicule_tubes(), z_mm, x_mm)


def _gaussian_fft(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian low-pass through the FFT, with edge padding to avoid wrap-around."""
    pad = int(3 * sigma_px)
    padded = np.pad(image, pad, mode="edge")
    fy = np.fft.fftfreq(padded.shape[0])[:, None]
    fx = np.fft.rfftfreq(padded.shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fy * fy + fx * fx))
    out = np.fft.irfft2(np.fft.rfft2(padded) * kernel, s=padded.shape)
    return out[pad:-pad, pad:-pad].astype(np.float32)


def _resample(
    image: np.ndarray, z_c: np.ndarray, x_c: np.ndarray, z: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """Bilinear interpolation of a coarse (z, x) grid at finer coordinates (separable)."""
    ri = np.interp(z, z_c[::-1], np.arange(len(z_c))[::-1])
    ci = np.interp(x, x_c, np.arange(len(x_c)))
    r0 = np.clip(np.floor(ri).astype(int), 0, len(z_c) - 2)
    c0 = np.clip(np.floor(ci).astype(int), 0, len(x_c) - 2)
    wr = (ri - r0).astype(np.float32)[:, None]
    wc = (ci - c0).astype(np.float32)[None, :]
    rows = image[r0] * (1 - wr) + image[r0 + 1] * wr
    return (rows[:, c0] * (1 - wc) + rows[:, c0 + 1] * wc).astype(np.float32)


def _dataset(image: np.ndarray, exam: _Exam, seed: int) -> Dataset:
    tag = ("cr-chest", exam.name)
    sop_uid = sample_uid(seed, *tag, "instance")
    ds = Dataset()
    ds.file_meta = file_meta(ComputedRadiographyImageStorage, sop_uid, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.SOPClassUID = ComputedRadiographyImageStorage
    ds.SOPInstanceUID = sop_uid
    day = exam.study_date.strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = day
    ds.StudyTime = ds.SeriesTime = exam.study_time
    ds.ContentTime = ds.AcquisitionTime = exam.study_time
    ds.AccessionNumber = exam.accession
    ds.Modality = "CR"
    ds.Manufacturer = "Agfa"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "ADC_5146"
    ds.StudyDescription = "CHEST PA"
    ds.SeriesDescription = "Thorax PA"
    ds.ManufacturerModelName = "CR 85-X"
    patient_module(ds, PATIENT)
    ds.PatientAge = f"{exam.study_date.year - 1951:03d}Y"
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "125"
    ds.DistanceSourceToDetector = "1800"
    ds.ExposureTime = "12"
    ds.XRayTubeCurrent = 320
    ds.Exposure = 4
    ds.ImagerPixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
    ds.SoftwareVersions = "NX 3.0"
    ds.PlateType = "MD40"
    ds.ViewPosition = "PA"
    ds.StudyInstanceUID = sample_uid(seed, *tag, "study")
    ds.SeriesInstanceUID = sample_uid(seed, *tag, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.Rows, ds.Columns = (int(n) for n in image.shape)
    ds.PixelSpacing = [f"{PIXEL_MM:g}", f"{PIXEL_MM:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    body = image[
        image.shape[0] // 5 : -image.shape[0] // 5, image.shape[1] // 5 : -image.shape[1] // 5
    ]
    low, high = np.percentile(body, [1.0, 99.5])
    ds.WindowCenter = f"{round((low + high) / 2)}"
    ds.WindowWidth = f"{round(high - low)}"
    ds.WindowCenterWidthExplanation = "NORMAL"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.LossyImageCompression = "00"
    block = ds.private_block(0x0019, "AGFA", create=True)
    block.add_new(0x10, "LO", "Thorax PA")  # examination, as Agfa NX writes it
    block.add_new(0x11, "LO", "MUSICA2")  # image processing
    ds.PixelData = np.ascontiguousarray(image, dtype=np.uint16).tobytes()
    return ds
