"""MR brain with a glioma-like lesion: Philips Ingenia enhanced multi-frame T1+C and FLAIR, and a SEG.

Each series is one Enhanced MR Image object (PS3.3 A.36.2, SOP class
1.2.840.10008.5.1.4.1.1.4.1) as a Philips Ingenia writes it: shared Pixel
Measures, Plane Orientation, Frame Anatomy and the MR acquisition groups
(timing, FOV, modifiers, coils, averages); per frame the Frame Content
(Stack ID, In-Stack Position Number, Temporal Position Index, Dimension Index
Values), Plane Position, Pixel Value Transformation (Rescale Slope 1.2, as
Philips scales its stored values), Real World Value Mapping, Frame VOI LUT, MR
Echo and MR Image Frame Type; a Philips private block with the scale slope.

Frames are stored head to foot: frame 1 is the most cranial slice and
In-Stack Position Number rises towards the feet, so a reader has to sort
along the slice normal (LPS +z, foot → head) to stack the volume.

The reference segmentation is a DICOM SEG with two segments, enhancing tumour
and peritumoral oedema, whose frames reference T1+C frames by number.

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
from pydicom.sr.coding import Code
from pydicom.uid import EnhancedMRImageStorage

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import new_instance
from dicomteach.samples._common import Patient, patient_module, sample_uid
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
        "pulse_sequence": "SE",
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
        "pulse_sequence": "IR_TSE",
        "tr": 11000.0,
        "te": 125.0,
        "ti": 2800.0,
        "flip": 90.0,
        "etl": 27,
    },
}


RESCALE_SLOPE = 1.2
"""Rescale Slope of every frame's Pixel Value Transformation: signal = 1.2 × stored value."""
RESCALE_INTERCEPT = 0.0
"""Rescale Intercept of every frame's Pixel Value Transformation."""

#: Philips private creator of the block holding the scale slope (group 2005).
PHILIPS_PRIVATE_CREATOR = "Philips MR Imaging DD 001"
#: Philips private Scale Slope (2005,xx0E): floating-point value = stored value / scale slope.
PHILIPS_SCALE_SLOPE = {"t1c": 0.0173, "flair": 0.0121}

#: Image Type (and Frame Type) of each series: original, primary, image flavour, no derived contrast.
IMAGE_TYPE = {
    "t1c": ["ORIGINAL", "PRIMARY", "T1", "NONE"],
    "flair": ["ORIGINAL", "PRIMARY", "FLUID_ATTENUATED", "NONE"],
}
#: Acquisition Contrast of each series (PS3.3 C.8.13.3.1.1).
CONTRAST = {"t1c": "T1", "flair": "FLUID_ATTENUATED"}
#: Window centre and width of each series, in signal units (after the rescale).
WINDOWS = {"t1c": ("700", "1400"), "flair": ("620", "1240")}
#: Duration of each acquisition, seconds.
ACQUISITION_DURATION_S = {"t1c": 152.4, "flair": 198.0}


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
    """Stored values of one series: tissue signal, partial volume, bias field and Rician noise.

    The scanner stores ``signal / RESCALE_SLOPE``; :func:`intensities` gives the
    signal back, as a reader applying the Pixel Value Transformation does.
    """
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
    stored = (magnitude - RESCALE_INTERCEPT) / RESCALE_SLOPE
    return np.clip(np.rint(stored), 0, 4095).astype(np.uint16)


def intensities(labels: np.ndarray, series: str, seed: int) -> np.ndarray:
    """Signal of one series as a reader should show it: stored values through the rescale (PS3.3 C.7.6.16.2.9)."""
    return render(labels, series, seed) * RESCALE_SLOPE + RESCALE_INTERCEPT


def _origin() -> np.ndarray:
    # image centre on the magnet isocentre, slab centred 20 mm above it; slice 0 is the lowest
    return np.array([-127.5, -135.5, -53.75], float)


def _slice_of_frame(frame: int) -> int:
    """Slice index (0 = most caudal) stored as ``frame`` (0-based): frames run head to foot."""
    return SHAPE[0] - 1 - frame


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _code(code: Code) -> Dataset:
    return _item(
        CodeValue=code.value,
        CodingSchemeDesignator=code.scheme_designator,
        CodeMeaning=code.meaning,
    )


def _datetime(seconds: float) -> str:
    """DICOM DT of ``seconds`` after midnight on ``DATE`` (no time zone, as scanners write)."""
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    return f"{DATE}{int(hours):02d}{int(minutes):02d}{secs:09.6f}"


def _seconds(tm: str) -> float:
    return int(tm[:2]) * 3600 + int(tm[2:4]) * 60 + float(tm[4:])


def _ds(value: float) -> str:
    return f"{value:.6g}"


def _shared_groups(series: str) -> Dataset:
    """Functional groups that are the same for every frame (PS3.3 A.36.2.4)."""
    protocol = PROTOCOL[series]
    inversion = protocol["ti"] is not None
    coil = _item(
        ReceiveCoilName="MULTI COIL",
        ReceiveCoilManufacturerName="Philips",
        ReceiveCoilType="MULTICOIL",
        QuadratureReceiveCoil="NO",
        MultiCoilDefinitionSequence=[
            _item(MultiCoilElementName="HEAD 32", MultiCoilElementUsed="YES")
        ],
    )
    modifier = _item(
        InversionRecovery="YES" if inversion else "NO",
        FlowCompensation="NONE",
        T2Preparation="NO",
        SpectrallySelectedExcitation="NONE",
        SpatialPresaturation="NONE",
        PartialFourier="NO",
        ParallelAcquisition="YES",
        ParallelAcquisitionTechnique="SENSE",
        ParallelReductionFactorInPlane=1.5,
        ParallelReductionFactorOutOfPlane=1.0,
        ParallelReductionFactorSecondInPlane=1.0,
    )
    if inversion:
        modifier.InversionTimes = [float(protocol["ti"])]
    groups = _item(
        PixelMeasuresSequence=[
            _item(
                PixelSpacing=[_ds(SPACING[1]), _ds(SPACING[2])],
                SliceThickness=_ds(SPACING[0]),
                SpacingBetweenSlices=_ds(SPACING[0]),
            )
        ],
        PlaneOrientationSequence=[_item(ImageOrientationPatient=["1", "0", "0", "0", "1", "0"])],
        FrameAnatomySequence=[
            _item(AnatomicRegionSequence=[_code(codes.SCT.Brain)], FrameLaterality="B")
        ],
        MRTimingAndRelatedParametersSequence=[
            _item(
                RepetitionTime=_ds(protocol["tr"]),
                FlipAngle=_ds(protocol["flip"]),
                EchoTrainLength=protocol["etl"],
                RFEchoTrainLength=protocol["etl"],
                GradientEchoTrainLength=0,
                GradientOutputType="DB_DT",
                GradientOutput=21.7,
                SpecificAbsorptionRateSequence=[
                    _item(
                        SpecificAbsorptionRateDefinition="IEC_WHOLE_BODY",
                        SpecificAbsorptionRateValue=0.42,
                    )
                ],
                OperatingModeSequence=[
                    _item(OperatingModeType=kind, OperatingMode="IEC_NORMAL")
                    for kind in ("STATIC FIELD", "RF", "GRADIENT")
                ],
            )
        ],
        MRFOVGeometrySequence=[
            _item(
                InPlanePhaseEncodingDirection="ROW",
                MRAcquisitionFrequencyEncodingSteps=256,
                MRAcquisitionPhaseEncodingStepsInPlane=205,
                PercentSampling="100",
                PercentPhaseFieldOfView="100",
            )
        ],
        MRModifierSequence=[modifier],
        MRImagingModifierSequence=[
            _item(
                MagnetizationTransfer="NONE",
                BloodSignalNulling="NO",
                Tagging="NONE",
                TransmitterFrequency=127.768,
                PixelBandwidth="217",
            )
        ],
        MRReceiveCoilSequence=[coil],
        MRTransmitCoilSequence=[
            _item(
                TransmitCoilName="B",
                TransmitCoilManufacturerName="Philips",
                TransmitCoilType="BODY",
            )
        ],
        MRAveragesSequence=[_item(NumberOfAverages="1")],
    )
    if series == "t1c":
        groups.ContrastBolusUsageSequence = [
            _item(
                ContrastBolusAgentNumber=1,
                ContrastBolusAgentAdministered="YES",
                ContrastBolusAgentDetected="YES",
                ContrastBolusAgentPhase="DELAYED",
            )
        ]
    return groups


def _frame_groups(series: str, frame: int, stored: np.ndarray) -> Dataset:
    """Functional groups of one frame: position, content, rescale, window, echo, frame type."""
    protocol = PROTOCOL[series]
    slice_index = _slice_of_frame(frame)
    position = _origin() + np.array([0.0, 0.0, slice_index * SPACING[0]])
    start = _seconds(SERIES_TIMES[series])
    # multi-slice 2D: slices are excited interleaved within each TR, odd slices first
    order = frame // 2 if frame % 2 == 0 else (SHAPE[0] + 1) // 2 + frame // 2
    acquired = start + order * protocol["tr"] / 1000.0 / SHAPE[0]
    center, width = WINDOWS[series]
    real_world = Dataset()
    real_world.add_new(0x00409216, "US", 0)  # RealWorldValueFirstValueMapped
    real_world.add_new(0x00409211, "US", int(stored.max()))  # RealWorldValueLastValueMapped
    real_world.LUTExplanation = "Philips real world value"
    real_world.LUTLabel = "Philips"
    real_world.MeasurementUnitsCodeSequence = [
        _item(CodeValue="1", CodingSchemeDesignator="UCUM", CodeMeaning="no units")
    ]
    real_world.RealWorldValueIntercept = RESCALE_INTERCEPT
    real_world.RealWorldValueSlope = RESCALE_SLOPE
    return _item(
        FrameContentSequence=[
            _item(
                FrameAcquisitionNumber=protocol["number"] // 100,
                FrameReferenceDateTime=_datetime(acquired),
                FrameAcquisitionDateTime=_datetime(acquired),
                FrameAcquisitionDuration=ACQUISITION_DURATION_S[series] * 1000.0,
                StackID="1",
                InStackPositionNumber=frame + 1,
                TemporalPositionIndex=1,
                DimensionIndexValues=[1, frame + 1],
            )
        ],
        PlanePositionSequence=[_item(ImagePositionPatient=[_ds(v) for v in position])],
        PixelValueTransformationSequence=[
            _item(
                RescaleIntercept=_ds(RESCALE_INTERCEPT),
                RescaleSlope=_ds(RESCALE_SLOPE),
                RescaleType="US",
            )
        ],
        RealWorldValueMappingSequence=[real_world],
        FrameVOILUTSequence=[
            _item(
                WindowCenter=center,
                WindowWidth=width,
                WindowCenterWidthExplanation="Philips",
            )
        ],
        MREchoSequence=[_item(EffectiveEchoTime=float(protocol["te"]))],
        MRImageFrameTypeSequence=[
            _item(
                FrameType=IMAGE_TYPE[series],
                PixelPresentation="MONOCHROME",
                VolumetricProperties="VOLUME",
                VolumeBasedCalculationTechnique="NONE",
                ComplexImageComponent="MAGNITUDE",
                AcquisitionContrast=CONTRAST[series],
            )
        ],
    )


def _contrast_agent() -> Dataset:
    """Enhanced Contrast/Bolus Module item (PS3.3 C.7.6.4b): 15 ml gadoterate, IV."""
    agent = _code(codes.SCT.GadoterateMeglumine)
    agent.ContrastBolusAgentNumber = 1
    agent.ContrastBolusAdministrationRouteSequence = [_code(codes.SCT.IntravenousRoute)]
    agent.ContrastBolusIngredientCodeSequence = [_code(codes.SCT.Gadolinium)]
    agent.ContrastBolusVolume = "15"
    agent.ContrastBolusIngredientConcentration = "279.3"  # mg/ml of Gd in 0.5 mmol/ml gadoterate
    return agent


def enhanced_mr(
    stored: np.ndarray, series: str, seed: int, study_uid: str, frame_uid: str
) -> Dataset:
    """One series as a Philips Ingenia Enhanced MR Image (PS3.3 A.36.2), frames head to foot.

    ``stored`` holds the stored values of the slices, foot to head (``SHAPE``).
    """
    protocol = PROTOCOL[series]
    uid = sample_uid(seed, STUDY, series, "enhanced")
    organization = sample_uid(seed, STUDY, series, "dimension-organization")
    ds = new_instance(EnhancedMRImageStorage, uid)
    ds.ImageType = IMAGE_TYPE[series]
    ds.InstanceCreationDate = DATE
    ds.InstanceCreationTime = "120000"
    # synthetic data must not claim a vendor's UID root: the creator is dicomteach
    ds.InstanceCreatorUID = sample_uid(seed, STUDY, "instance-creator")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = DATE
    ds.AcquisitionDateTime = _datetime(_seconds(SERIES_TIMES[series]))
    ds.StudyTime = "095512"
    ds.SeriesTime = ds.ContentTime = SERIES_TIMES[series]
    ds.AccessionNumber = "DT26030503"
    ds.Modality = "MR"
    ds.Manufacturer = "Philips"
    ds.InstitutionName = "dicomteach teaching hospital"
    ds.ReferringPhysicianName = ""
    ds.StationName = "PHILIPS-INGENIA1"
    ds.StudyDescription = "MR Brain with contrast"
    ds.SeriesDescription = protocol["description"]
    ds.ManufacturerModelName = "Ingenia"
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.ComplexImageComponent = "MAGNITUDE"
    ds.AcquisitionContrast = CONTRAST[series]
    patient_module(ds, PATIENT)
    ds.BodyPartExamined = "BRAIN"
    ds.DeviceSerialNumber = "42311"
    ds.SoftwareVersions = ["5.7.1", "5.7.1.2"]
    ds.ProtocolName = protocol["protocol"]
    ds.PatientPosition = "HFS"
    ds.ContentQualification = "PRODUCT"
    ds.PulseSequenceName = protocol["pulse_sequence"]
    ds.MRAcquisitionType = "2D"
    ds.EchoPulseSequence = "SPIN"
    ds.MultipleSpinEcho = "NO"
    ds.MultiPlanarExcitation = "NO"
    ds.PhaseContrast = "NO"
    ds.TimeOfFlightContrast = "NO"
    ds.SteadyStatePulseSequence = "NONE"
    ds.EchoPlanarPulseSequence = "NO"
    ds.SaturationRecovery = "NO"
    ds.SpectrallySelectedSuppression = "NONE"
    ds.OversamplingPhase = "NONE"
    ds.GeometryOfKSpaceTraversal = "RECTILINEAR"
    ds.RectilinearPhaseEncodeReordering = "LINEAR"
    ds.SegmentedKSpaceTraversal = "SINGLE" if protocol["etl"] == 1 else "PARTIAL"
    ds.NumberOfKSpaceTrajectories = 1
    ds.KSpaceFiltering = "RIESZ"
    ds.ResonantNucleus = "1H"
    ds.MagneticFieldStrength = "3"
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.AcquisitionDuration = ACQUISITION_DURATION_S[series]
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = sample_uid(seed, STUDY, series, "series")
    ds.StudyID = "3"
    ds.SeriesNumber = protocol["number"]
    ds.AcquisitionNumber = protocol["number"] // 100
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.DimensionOrganizationSequence = [_item(DimensionOrganizationUID=organization)]
    ds.DimensionOrganizationType = "3D"
    ds.DimensionIndexSequence = [
        _item(
            DimensionOrganizationUID=organization,
            DimensionIndexPointer=pointer,
            FunctionalGroupPointer=0x00209111,  # Frame Content Sequence
            DimensionDescriptionLabel=label,
        )
        for pointer, label in ((0x00209056, "Stack ID"), (0x00209057, "In-Stack Position Number"))
    ]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = SHAPE[0]
    ds.Rows, ds.Columns = SHAPE[1:]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionContextSequence = []
    if series == "t1c":
        ds.ContrastBolusAgentSequence = [_contrast_agent()]
    ds.SharedFunctionalGroupsSequence = [_shared_groups(series)]
    ds.PerFrameFunctionalGroupsSequence = [
        _frame_groups(series, frame, stored) for frame in range(SHAPE[0])
    ]
    # Philips private scale (floating-point value = stored / scale slope): harmless extras
    block = ds.private_block(0x2005, PHILIPS_PRIVATE_CREATOR, create=True)
    block.add_new(0x0D, "FL", 0.0)  # Scale Intercept
    block.add_new(0x0E, "FL", PHILIPS_SCALE_SLOPE[series])  # Scale Slope
    frames = [stored[_slice_of_frame(frame)] for frame in range(SHAPE[0])]
    ds.PixelData = np.ascontiguousarray(np.stack(frames)).tobytes()
    return ds


def write(dest: Path, *, seed: int) -> list[Path]:
    """Write the T1+C and FLAIR enhanced series and the tumour SEG under ``dest``; return the paths."""
    dest = Path(dest)
    study_uid = sample_uid(seed, STUDY, "study")
    frame_uid = sample_uid(seed, STUDY, "frame-of-reference")
    labels = brain_labels(seed)
    written = []
    enhanced = {}
    for series in ("t1c", "flair"):
        stored = render(labels, series, seed)
        enhanced[series] = enhanced_mr(stored, series, seed, study_uid, frame_uid)
        written.append(save_dataset_atomically(enhanced[series], dest / series / "IM000001.dcm"))

    mask = np.zeros(SHAPE, np.uint8)
    mask[labels == RING] = 1
    mask[labels == OEDEMA] = 2
    # frame k of the mask labels frame k of the T1+C: the same head-to-foot order
    mask = mask[[_slice_of_frame(frame) for frame in range(SHAPE[0])]]
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
    written.append(save_dataset_atomically(seg, dest / "seg-tumour.dcm"))
    return written


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


__all__ = [
    "PROTOCOL",
    "RESCALE_INTERCEPT",
    "RESCALE_SLOPE",
    "SHAPE",
    "SIGNAL",
    "SPACING",
    "brain_labels",
    "enhanced_mr",
    "intensities",
    "render",
    "write",
]
