"""Colour fundus photograph of a right eye, Carl Zeiss Meditec VISUCAM style.

An Ophthalmic Photography 8 Bit Image (PS3.3 A.41), Modality OP, RGB,
uncompressed: orange-red fundus in a circular field, the optic disc on the
nasal side (the viewer's right for a right eye) with its paler cup, the darker
macula with the foveal reflex two and a half disc diameters temporal to it,
and the retinal arteries (thinner, lighter) and veins (wider, darker)
branching from the disc in superior and inferior arcades.

Layout::

    dest/IM000001.dcm   800×800 RGB, 45° field, right eye (Image Laterality R)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from pydicom.uid import OphthalmicPhotography8BitImageStorage

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import new_instance
from dicomteach.samples._common import Patient, code, patient_module, sample_uid
from dicomteach.samples._shapes import gaussian_blur, smooth_noise

STUDY = "op-fundus"
SIZE = 800
FIELD_OF_VIEW_DEG = 45.0
PATIENT = Patient("TEACHING^FUNDUS", "DT-OP-0006", "19740218", "F")
DATE = "20260310"
DISC = (560.0, 390.0)
"""Optic disc centre (column, row) in pixels: nasal side of a right eye."""
DISC_RADIUS = 52.0
FOVEA = (300.0, 410.0)
"""Fovea (column, row): temporal to the disc, slightly below it."""


def _vessel_tree(draw: ImageDraw.ImageDraw, rng: np.random.Generator, kind: str) -> None:
    """Draw the vessels of one kind: two temporal arcades around the macula, nasal branches."""
    width0 = 9.0 if kind == "vein" else 6.5
    shift = 7.0 if kind == "vein" else -7.0  # arteries and veins leave the disc side by side
    branches = []
    for sign in (-1, 1):  # superior (−1: up in the image), inferior arcade
        centre = np.array([FOVEA[0] + 25.0, DISC[1] + sign * 8.0])
        rx, ry = DISC[0] - centre[0], 165.0 + 15.0 * rng.random()
        ts = np.linspace(0.0, np.deg2rad(175.0), 70)
        points = np.stack(
            [centre[0] + rx * np.cos(ts) + shift, centre[1] + sign * ry * np.sin(ts)], axis=1
        )
        points += np.cumsum(rng.normal(0, 0.8, points.shape), axis=0)
        width = width0
        for i in range(len(points) - 1):
            draw.line([tuple(points[i]), tuple(points[i + 1])], fill=255, width=round(width))
            width *= 0.985
            if i > 3 and rng.random() < 0.16:
                direction = points[i + 1] - points[i]
                heading = np.arctan2(direction[1], direction[0])
                outward = -sign if rng.random() < 0.7 else sign  # most run away from the macula
                turn = outward * rng.uniform(0.5, 1.1) * (1 if np.cos(heading) < 0 else -1)
                branches.append((points[i].copy(), heading + turn, width * 0.6))
    for angle in (-0.35, 0.35, -1.1, 1.2, 0.0):  # nasal and vertical vessels from the disc
        start = np.array(DISC) + np.array([0.0, shift])
        branches.append((start, angle + rng.normal(0, 0.1), width0 * 0.65))
    while branches:
        point, heading, width = branches.pop()
        while width > 1.3:
            heading += rng.normal(0, 0.06)
            nxt = point + 6.0 * np.array([np.cos(heading), np.sin(heading)])
            draw.line([tuple(point), tuple(nxt)], fill=255, width=max(1, round(width)))
            point = nxt
            width *= 0.975
            if np.hypot(*(point - SIZE / 2)) > SIZE / 2:
                break
            if rng.random() < 0.05 and width > 2.5:
                branches.append((point.copy(), heading + rng.choice([-1, 1]) * 0.7, width * 0.7))
                width *= 0.9


def render(seed: int) -> np.ndarray:
    """The photograph, ``(SIZE, SIZE, 3)`` uint8 RGB."""
    rng = np.random.default_rng([seed, 6])
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    radius = np.hypot(cols - SIZE / 2 + 0.5, rows - SIZE / 2 + 0.5) / (SIZE / 2)
    field = radius < 0.97

    # choroidal background: orange-red, darker towards the edge, mottled
    texture = smooth_noise((SIZE, SIZE), 2.5, rng)
    coarse = smooth_noise((SIZE, SIZE), 40.0, rng)
    shade = (1.0 - 0.45 * radius**2.2) * (1.0 + 0.03 * texture + 0.03 * coarse)
    rgb = np.stack([205 * shade, 88 * shade, 38 * shade], axis=-1)

    # macula: darker, more pigmented, with the bright foveal reflex
    d_fovea = np.hypot(cols - FOVEA[0], rows - FOVEA[1])
    macula = np.exp(-((d_fovea / 85.0) ** 2))
    rgb *= (1.0 - 0.35 * macula)[..., None] * np.array([1.0, 0.85, 0.8])
    reflex = np.exp(-((d_fovea / 5.0) ** 2))
    rgb += reflex[..., None] * np.array([60, 50, 35])

    # optic disc: pale yellow-pink rim, whiter central cup, vessels on top stay visible
    d_disc = np.hypot((cols - DISC[0]) / 0.92, rows - DISC[1])
    disc = np.clip((DISC_RADIUS + 3 - d_disc) / 6.0, 0, 1)
    cup = np.clip(
        (DISC_RADIUS * 0.35 + 4 - np.hypot(cols - DISC[0] - 6, rows - DISC[1])) / 8.0, 0, 1
    )
    disc_colour = np.array([238, 168, 100], np.float32)
    rgb = rgb * (1 - 0.8 * disc[..., None]) + 0.8 * disc[..., None] * (
        disc_colour * (0.88 + 0.12 * (1 - radius))[..., None]
    )
    rgb = rgb * (1 - 0.7 * cup[..., None]) + 0.6 * cup[..., None] * np.array([250, 215, 165])

    # vessels: veins darker and wider than arteries; drawn, then softened
    for kind, colour, strength in (("vein", (95, 18, 14), 0.85), ("artery", (165, 38, 24), 0.75)):
        canvas = Image.new("L", (SIZE, SIZE), 0)
        _vessel_tree(ImageDraw.Draw(canvas), rng, kind)
        mask = np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.2)), np.float32) / 255.0
        mask *= strength
        rgb = rgb * (1 - mask[..., None]) + np.array(colour, np.float32) * mask[..., None]
        if kind == "artery":  # the light reflex along the artery wall
            core = np.asarray(canvas.filter(ImageFilter.GaussianBlur(0.6)), np.float32) / 255.0
            rgb += 18.0 * (core > 0.95)[..., None]

    rgb = gaussian_blur(rgb, (1.0, 1.0, 0.0))
    rgb += rng.normal(0, 2.0, rgb.shape)
    rgb *= field[..., None]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def write(dest: Path, *, seed: int) -> list[Path]:
    """Write the fundus photograph under ``dest``; return the path written."""
    dest = Path(dest)
    pixels = render(seed)
    uid = sample_uid(seed, STUDY, "image")
    ds = new_instance(OphthalmicPhotography8BitImageStorage, uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = DATE
    ds.StudyTime = "140500"
    ds.SeriesTime = ds.ContentTime = "141233"
    ds.AcquisitionDateTime = DATE + "141233.120"
    ds.AccessionNumber = "DT26031006"
    ds.Modality = "OP"
    ds.Manufacturer = "Carl Zeiss Meditec"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Fundus photography"
    ds.SeriesDescription = "Color 45 OD"
    ds.ManufacturerModelName = "VISUCAM 500"
    ds.DeviceSerialNumber = "5011234"
    ds.SoftwareVersions = "5.3.1"
    patient_module(ds, PATIENT)
    ds.StudyInstanceUID = sample_uid(seed, STUDY, "study")
    ds.SeriesInstanceUID = sample_uid(seed, STUDY, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.ImageLaterality = "R"
    ds.AnatomicRegionSequence = [code("81745001", "SCT", "Eye")]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.NumberOfFrames = 1
    ds.FrameIncrementPointer = 0x00181063  # Frame Time, as the IOD asks of a multi-frame
    ds.FrameTime = "0"
    ds.Rows = ds.Columns = SIZE
    ds.PixelSpacing = ["0.0146", "0.0146"]  # ~11.7 mm of retina in the 45° field
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    # Synchronization (C.7.4.2): the single frame is tied to no other clock
    ds.SynchronizationFrameOfReferenceUID = sample_uid(seed, STUDY, "synchronization")
    ds.SynchronizationTrigger = "NO TRIGGER"
    ds.AcquisitionTimeSynchronized = "N"
    # Ophthalmic Photography Acquisition Parameters (C.8.17.4)
    ds.PatientEyeMovementCommanded = "NO"
    ds.HorizontalFieldOfView = FIELD_OF_VIEW_DEG
    ds.RefractiveStateSequence = []
    ds.EmmetropicMagnification = None
    ds.IntraOcularPressure = None
    ds.PupilDilated = "YES"
    ds.DegreeOfDilation = None
    ds.MydriaticAgentSequence = []
    # Ophthalmic Photographic Parameters (C.8.17.5)
    ds.AcquisitionDeviceTypeCodeSequence = [code("R-1021A", "SRT", "Fundus Camera")]
    ds.IlluminationTypeCodeSequence = []
    ds.LightPathFilterTypeStackCodeSequence = []
    ds.ImagePathFilterTypeStackCodeSequence = []
    ds.LensesCodeSequence = []
    ds.DetectorType = "CCD"
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return [save_dataset_atomically(ds, dest / "IM000001.dcm")]


__all__ = ["DISC", "FOVEA", "SIZE", "render", "write"]
