"""Ultrasound cine loop, GE LOGIQ style: JPEG Baseline frames in YBR_FULL_422, with burned-in text.

An Ultrasound Multi-frame Image (PS3.3 A.7): a curved-array sector through
the liver with speckle, and an anechoic vessel-like chamber whose wall beats
(about 72 per minute) across the 24 frames. Each frame is compressed by
Pillow as baseline JPEG with 4:2:2 chroma subsampling and encapsulated with a
Basic Offset Table, as GE scanners export. The top bar carries burned-in
patient text (``DEMO^PATIENT``), so Burned In Annotation is ``YES``: the
de-identification lesson uses this file.

Layout::

    dest/IM000001.dcm   24 frames 480×640 RGB, JPEG Baseline, Frame Time 41.7 ms,
                        Sequence of Ultrasound Regions: 0.3 mm per pixel
"""

from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, UltrasoundMultiFrameImageStorage

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import new_instance
from dicomteach.samples._common import Patient, patient_module, sample_uid
from dicomteach.samples._shapes import gaussian_blur, smooth_noise

STUDY = "us-cine"
ROWS, COLUMNS = 480, 640
N_FRAMES = 24
FRAME_TIME_MS = 1000.0 / 24.0
MM_PER_PIXEL = 0.3
APEX = (40.0, 320.0)
"""Row and column of the virtual apex of the curved array (above the first image row)."""
SECTOR_HALF_ANGLE = np.deg2rad(34.0)
DEPTH_PX = (55.0, 460.0)
"""Near and far radius of the sector from the apex, in pixels."""
TOP_BAR = 40
PATIENT = Patient("DEMO^PATIENT", "DT-US-0007", "19820615", "M")
DATE = "20260311"
BURNED_IN_TEXT = "DEMO^PATIENT"


def _polar(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dy, dx = rows - APEX[0], cols - APEX[1]
    return np.hypot(dy, dx), np.arctan2(dx, dy)


def frames(seed: int) -> np.ndarray:
    """The cine loop as greyscale RGB, ``(N_FRAMES, ROWS, COLUMNS, 3)`` uint8."""
    rng = np.random.default_rng([seed, 7])
    rows, cols = np.mgrid[0:ROWS, 0:COLUMNS].astype(np.float32)
    radius, angle = _polar(rows, cols)
    sector = (
        (np.abs(angle) <= SECTOR_HALF_ANGLE) & (radius >= DEPTH_PX[0]) & (radius <= DEPTH_PX[1])
    )

    # speckle is fixed to the tissue: elongated across the beam, a little per-frame decorrelation
    base = smooth_noise((ROWS, COLUMNS), 30.0, rng)
    speckle_fixed = rng.rayleigh(1.0, (ROWS, COLUMNS)).astype(np.float32)
    speckle_fixed = gaussian_blur(speckle_fixed, (0.7, 1.8))
    liver_echo = 0.55 + 0.06 * base
    capsule = np.exp(-(((radius - 95.0) / 4.0) ** 2))  # bright liver capsule near the top
    fat = radius < 92.0
    chamber_centre = np.array([270.0, 300.0])

    out = np.zeros((N_FRAMES, ROWS, COLUMNS, 3), np.uint8)
    font = ImageFont.load_default()
    for t in range(N_FRAMES):
        phase = 2 * np.pi * t * FRAME_TIME_MS / 833.0  # 72 beats per minute
        pulse = 0.5 - 0.5 * np.cos(phase)
        r_chamber = 48.0 + 10.0 * pulse
        centre = chamber_centre + np.array([4.0 * pulse, 0.0])
        d = np.hypot(rows - centre[0], (cols - centre[1]) * 1.25)
        echo = np.where(fat, 0.35, liver_echo)
        echo = echo + 0.6 * capsule
        wall = np.exp(-(((d - r_chamber) / 4.0) ** 2))
        echo = np.where(d < r_chamber, 0.03, echo) + 0.5 * wall
        # acoustic enhancement behind the fluid (brighter deep to the chamber)
        behind = (rows > centre[0]) & (np.abs(cols - centre[1]) < r_chamber * 0.8)
        echo = echo * np.where(behind & (d >= r_chamber), 1.25, 1.0)
        jitter = rng.rayleigh(1.0, (ROWS, COLUMNS)).astype(np.float32)
        speckle = 0.8 * speckle_fixed + 0.2 * gaussian_blur(jitter, (0.7, 1.8))
        gain = 1.0 - 0.35 * (radius - DEPTH_PX[0]) / (DEPTH_PX[1] - DEPTH_PX[0])  # attenuation
        image = echo * speckle * gain * 190.0
        image = np.where(sector, image, 0.0)
        grey = np.clip(image, 0, 255).astype(np.uint8)
        canvas = Image.fromarray(np.repeat(grey[..., None], 3, axis=-1), "RGB")
        _annotate(ImageDraw.Draw(canvas), font, t)
        out[t] = np.asarray(canvas)
    return out


def _annotate(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, t: int) -> None:
    draw.rectangle([0, 0, COLUMNS - 1, TOP_BAR - 1], fill=(0, 0, 0))
    draw.text((8, 6), BURNED_IN_TEXT, fill=(255, 255, 255), font=font)
    draw.text((8, 22), "DT-US-0007  11/03/2026 10:42:13", fill=(255, 255, 255), font=font)
    draw.text((380, 6), "LOGIQ E10   C1-6-D", fill=(255, 255, 255), font=font)
    draw.text((380, 22), "ABD  MI 1.1  TIs 0.4", fill=(255, 220, 80), font=font)
    # depth scale: a tick each centimetre down the right side of the sector
    for cm in range(0, 13):
        row = APEX[0] + DEPTH_PX[0] + cm * 10.0 / MM_PER_PIXEL
        if row >= ROWS - 2:
            break
        draw.line([(COLUMNS - 22, row), (COLUMNS - 14, row)], fill=(200, 200, 200), width=1)
    draw.text((COLUMNS - 60, ROWS - 18), f"{t + 1:02d}/{N_FRAMES}", fill=(200, 200, 200), font=font)


def _jpeg(frame: np.ndarray) -> bytes:
    buffer = _io.BytesIO()
    # subsampling=1 is 4:2:2: Pillow stores YCbCr, which DICOM calls YBR_FULL_422
    Image.fromarray(frame, "RGB").save(buffer, format="JPEG", quality=90, subsampling=1)
    return buffer.getvalue()


def _region() -> Dataset:
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2D
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = int(APEX[1] - np.sin(SECTOR_HALF_ANGLE) * DEPTH_PX[1])
    region.RegionLocationMinY0 = TOP_BAR
    region.RegionLocationMaxX1 = int(APEX[1] + np.sin(SECTOR_HALF_ANGLE) * DEPTH_PX[1])
    region.RegionLocationMaxY1 = ROWS - 1
    region.ReferencePixelX0 = int(APEX[1])
    region.ReferencePixelY0 = int(APEX[0] + DEPTH_PX[0])
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.ReferencePixelPhysicalValueX = 0.0
    region.ReferencePixelPhysicalValueY = 0.0
    region.PhysicalDeltaX = MM_PER_PIXEL / 10.0
    region.PhysicalDeltaY = MM_PER_PIXEL / 10.0
    region.TransducerFrequency = 3500
    return region


def write(dest: Path, *, seed: int) -> list[Path]:
    """Write the cine loop under ``dest``; return the path written."""
    dest = Path(dest)
    loop = frames(seed)
    encoded = [_jpeg(frame) for frame in loop]
    uid = sample_uid(seed, STUDY, "cine")
    ds = new_instance(UltrasoundMultiFrameImageStorage, uid, JPEGBaseline8Bit)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL", "0001"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = DATE
    ds.StudyTime = "103800"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "104213"
    ds.AccessionNumber = "DT26031107"
    ds.Modality = "US"
    ds.Manufacturer = "GE Healthcare"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "LOGIQE10-01"
    ds.StudyDescription = "US ABDOMEN"
    ds.SeriesDescription = "Abdomen"
    ds.ManufacturerModelName = "LOGIQE10"
    ds.DeviceSerialNumber = "LE10-991"
    ds.SoftwareVersions = "R3.1.2"
    patient_module(ds, PATIENT)
    ds.BodyPartExamined = "ABDOMEN"
    ds.StudyInstanceUID = sample_uid(seed, STUDY, "study")
    ds.SeriesInstanceUID = sample_uid(seed, STUDY, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.BurnedInAnnotation = "YES"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.NumberOfFrames = N_FRAMES
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = f"{FRAME_TIME_MS:.4g}"
    ds.CineRate = round(1000.0 / FRAME_TIME_MS)
    ds.RecommendedDisplayFrameRate = round(1000.0 / FRAME_TIME_MS)
    ds.FrameDelay = "0"
    ds.ActualFrameDuration = round(FRAME_TIME_MS)
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    raw = N_FRAMES * ROWS * COLUMNS * 3
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = f"{raw / sum(map(len, encoded)):.2f}"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.SequenceOfUltrasoundRegions = [_region()]
    ds.TransducerData = ["C1-6-D", "", ""]
    ds.ProcessingFunction = "ABD"
    ds.MechanicalIndex = "1.1"
    ds.SoftTissueThermalIndex = "0.4"
    ds.DepthOfScanField = int(DEPTH_PX[1] * MM_PER_PIXEL)
    ds.PixelData = encapsulate(encoded, has_bot=True)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return [save_dataset_atomically(ds, dest / "IM000001.dcm")]


__all__ = ["BURNED_IN_TEXT", "FRAME_TIME_MS", "MM_PER_PIXEL", "N_FRAMES", "frames", "write"]
