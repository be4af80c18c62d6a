"""MR brain with a glioblastoma: Philips Ingenia enhanced multi-frame T1, T1+C and FLAIR, and a SEG.

The patient is the MNI152 template's brain (``samples/mni152.py``) in a head,
with a right frontal tumour and its mass effect (``samples/mr_head.py``):
tissue fractions per voxel. This module turns them into images as a 3 T
scanner would (docs/decisions.md, decision 22):

- each tissue's signal from its proton density, T1 and T2
  (:data:`RELAXATION`) through the sequence's equation: spin echo for the
  T1 before contrast and the T1+C after it, when gadolinium shortens the
  tumour rim, dura and sinuses;
  inversion recovery for the FLAIR, which nulls the fluid; a voxel's signal
  is the sum over its tissues (partial volume);
- a smooth receive-coil field, a fine tissue texture;
- acquisition in k-space: complex Gaussian noise, the 205 of 256
  phase-encoding steps sampled and a Riesz filter, then the magnitude, so
  edges ring a little, noise is slightly correlated and the air is Rayleigh
  noise, as on a scanner.

docs/samples.md compares the result with real MR files.

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

    dest/t1/IM000001.dcm      T1-weighted before contrast, 60 frames 256×256, 1×1×2.5 mm
    dest/t1c/IM000001.dcm     T1-weighted post-contrast, same geometry
    dest/flair/IM000001.dcm   FLAIR, same geometry
    dest/seg-tumour.dcm       SEG: 1 enhancing tumour, 2 oedema
    dest/experts/seg-tumour-observer-{a,b,c}.dcm   three observers' outlines of both
                              (samples/experts.py), one SEG each
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
from dicomteach.samples import experts, mni152
from dicomteach.samples._common import Patient, patient_module, sample_uid
from dicomteach.samples._shapes import grid, smooth_field, smooth_noise
from dicomteach.samples.mr_head import Head, head_model

STUDY = "mr-brain"
SHAPE = (60, 256, 256)
"""Slices, rows, columns."""
SPACING = (2.5, 1.0, 1.0)
"""Millimetres between slices, rows, columns."""
PATIENT = Patient("TEACHING^GLIOMA", "DT-MR-0003", "19680412", "M", 82.0, 1.78)
DATE = "20260305"
SERIES_TIMES = {"t1": "100842.07", "t1c": "101522.41", "flair": "100210.18"}

#: Acquisition parameters of each series, as the Ingenia writes them (TR/TE/TI in ms).
PROTOCOL = {
    "t1": {
        "number": 701,
        "description": "T1W_SE_TRA",
        "protocol": "T1W_SE_TRA",
        "pulse_sequence": "SE",
        "tr": 550.0,
        "te": 10.0,
        "ti": None,
        "flip": 90.0,
        "etl": 1,
    },
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
PHILIPS_SCALE_SLOPE = {"t1": 0.0173, "t1c": 0.0173, "flair": 0.0121}

#: Image Type (and Frame Type) of each series: original, primary, image flavour, no derived contrast.
IMAGE_TYPE = {
    "t1": ["ORIGINAL", "PRIMARY", "T1", "NONE"],
    "t1c": ["ORIGINAL", "PRIMARY", "T1", "NONE"],
    "flair": ["ORIGINAL", "PRIMARY", "FLUID_ATTENUATED", "NONE"],
}
#: Acquisition Contrast of each series (PS3.3 C.8.13.3.1.1).
CONTRAST = {"t1": "T1", "t1c": "T1", "flair": "FLUID_ATTENUATED"}
#: Window centre and width of each series, in signal units (after the rescale).
WINDOWS = {"t1": ("700", "1400"), "t1c": ("700", "1400"), "flair": ("620", "1240")}
#: Duration of each acquisition, seconds.
ACQUISITION_DURATION_S = {"t1": 152.4, "t1c": 152.4, "flair": 198.0}


#: Relaxation of each tissue at 3 T: proton density (relative to water), T1 and T2 (ms), and
#: T1 after gadolinium (ms; None: no uptake). Grey and white matter and muscle as Stanisz
#: et al. (Magn Reson Med 2005;54:507) measured them at 3 T; CSF and vitreous near free
#: water; fat and marrow as usually quoted at 3 T (T2 as a turbo spin echo sees it); lesion
#: values within the ranges reported for glioblastoma and vasogenic oedema. The images'
#: grey/white contrast follows from these (docs/samples.md compares it with real files).
RELAXATION: dict[str, tuple[float, float, float, float | None]] = {
    "grey": (0.80, 1820.0, 99.0, None),
    "white": (0.69, 1084.0, 69.0, None),
    "csf": (1.00, 4300.0, 2000.0, None),
    "enhancing": (0.85, 1500.0, 110.0, 520.0),
    "necrosis": (0.90, 2500.0, 300.0, 2200.0),
    "oedema": (0.80, 1750.0, 150.0, None),
    "dura": (0.60, 1000.0, 50.0, 480.0),
    "venous": (0.85, 1650.0, 150.0, 260.0),
    "bone": (0.03, 500.0, 5.0, None),
    "marrow": (0.80, 500.0, 110.0, None),
    "muscle": (0.70, 1412.0, 50.0, 1100.0),
    "fat": (0.95, 380.0, 130.0, None),
    "skin": (0.65, 950.0, 45.0, 700.0),
    "vitreous": (0.98, 4000.0, 1500.0, None),
}
#: Tissues whose flowing blood leaves no signal on a series (flow void): sinuses on FLAIR.
FLOW_VOID = {"flair": ("venous",)}
#: Receiver scale of each series: signal units per unit of the relaxation model.
GAIN = {"t1": 3300.0, "t1c": 3300.0, "flair": 4900.0}
#: Noise (standard deviation of each of the real and imaginary channels, signal units).
NOISE_SIGMA = {"t1": 30.0, "t1c": 30.0, "flair": 22.0}
#: Phase-encoding steps of the 256 columns (MRAcquisitionPhaseEncodingStepsInPlane): the
#: rest of k-space is zero-filled, so edges ring a little along the rows, as on a scanner.
PHASE_STEPS = 205
#: Depth of the Riesz k-space filter (KSpaceFiltering): the signal kept at the edge of k-space is 1 − this.
RIESZ = 0.5
#: Tissue texture: the brain's signal varies by this fraction over about a millimetre (vessels,
#: perivascular spaces, fibre bundles), the same in every series of the patient.
TEXTURE = 0.025


def relaxation_signal(series: str, tissue: str) -> float:
    """Signal of a voxel full of ``tissue`` on ``series``, before the receiver scale and coil.

    Spin echo for the T1 and the T1+C (``PD (1 − e^(−TR/T1)) e^(−TE/T2)``),
    the T1+C with the post-contrast T1; inversion recovery for the FLAIR
    (``PD |1 − 2 e^(−TI/T1) + e^(−TR/T1)| e^(−TE/T2)``), before contrast.

    >>> round(relaxation_signal("flair", "grey") / relaxation_signal("flair", "white"), 2)
    1.35
    >>> relaxation_signal("flair", "csf") < 0.5 * relaxation_signal("flair", "white")
    True
    >>> relaxation_signal("t1c", "enhancing") > 1.5 * relaxation_signal("t1", "enhancing")
    True
    """
    protocol = PROTOCOL[series]
    pd, t1, t2, t1_post = RELAXATION[tissue]
    if tissue in FLOW_VOID.get(series, ()):
        return 0.0
    tr, te, ti = protocol["tr"], protocol["te"], protocol["ti"]
    if ti is None:  # spin echo; the T1+C after gadolinium
        if series == "t1c":
            t1 = t1_post or t1
        return pd * (1.0 - math.exp(-tr / t1)) * math.exp(-te / t2)
    return pd * abs(1.0 - 2.0 * math.exp(-ti / t1) + math.exp(-tr / t1)) * math.exp(-te / t2)


def brain_model(seed: int) -> Head:
    """Tissue fractions of the study's patient (``samples/mr_head.py``) on the study's grid."""
    return head_model(seed, SHAPE, SPACING, _origin())


def signal(head: Head, series: str) -> np.ndarray:
    """Noise-free signal of one series: each tissue's relaxation signal × its fraction (partial volume)."""
    out = np.zeros(SHAPE, np.float32)
    for tissue, fraction in head.fractions.items():
        out += np.float32(GAIN[series] * relaxation_signal(series, tissue)) * fraction
    return out


def _coil_sensitivity(seed: int) -> np.ndarray:
    """Receive field of the 32-channel head coil: brighter near the coil, a smooth random tilt."""
    rng = np.random.default_rng([seed, 3, 20])
    z, y, x = grid(SHAPE, SPACING)
    periphery = (x * x + (y + 8.0) ** 2) / 95.0**2
    tilt = smooth_field(SHAPE, SPACING, 60.0, rng, step_mm=10.0)
    return (0.92 + 0.14 * periphery + 0.03 * tilt - 0.0006 * z).astype(np.float32)


def _texture(head: Head, seed: int) -> np.ndarray:
    """Fine random texture of the brain's tissue (:data:`TEXTURE`), 1 elsewhere."""
    rng = np.random.default_rng([seed, 3, 30])
    brain = sum(head.fractions[name] for name in ("grey", "white", "oedema", "enhancing"))
    grain = smooth_noise(SHAPE, (0.4, 1.0, 1.0), rng)  # about a millimetre in every direction
    return 1.0 + np.float32(TEXTURE) * grain * brain


def _kspace_window() -> np.ndarray:
    """Sampled and filtered part of k-space (rows × columns): Riesz apodisation, zero fill."""
    ky = np.fft.fftfreq(SHAPE[1])[:, None]
    kx = np.fft.fftfreq(SHAPE[2])[None, :]
    edge_x = PHASE_STEPS / SHAPE[2] / 2.0
    along_x = np.where(np.abs(kx) <= edge_x, 1.0 - RIESZ * (kx / edge_x) ** 2, 0.0)
    along_y = 1.0 - RIESZ * (ky / 0.5) ** 2
    return (along_y * along_x).astype(np.float32)


def render(head: Head, series: str, seed: int) -> np.ndarray:
    """Stored values of one series: signal × coil, acquired in k-space with noise, magnitude.

    Complex Gaussian noise is added to the signal and both pass through the
    same k-space window (the phase-encoding steps actually sampled, the
    Riesz filter), so the noise is a little correlated along the rows, edges
    ring as on a scanner, and the magnitude image's background follows the
    Rayleigh distribution (Rician where there is signal). The scanner stores
    ``signal / RESCALE_SLOPE``; :func:`intensities` gives the signal back, as
    a reader applying the Pixel Value Transformation does.
    """
    rng = np.random.default_rng([seed, 3, {"t1c": 1, "flair": 2, "t1": 4}[series]])
    window = _kspace_window()
    # white noise of this σ per channel comes out of the window with NOISE_SIGMA
    sigma = NOISE_SIGMA[series] / float(np.sqrt(np.mean(window.astype(np.float64) ** 2)))
    image = (signal(head, series) * _coil_sensitivity(seed) * _texture(head, seed)).astype(
        np.complex64
    )
    image.real += rng.normal(0.0, sigma, SHAPE).astype(np.float32)
    image.imag += rng.normal(0.0, sigma, SHAPE).astype(np.float32)
    image = np.fft.ifft2(np.fft.fft2(image) * window)
    stored = (np.abs(image) - RESCALE_INTERCEPT) / RESCALE_SLOPE
    return np.clip(np.rint(stored), 0, 4095).astype(np.uint16)


def intensities(head: Head, series: str, seed: int) -> np.ndarray:
    """Signal of one series as a reader should show it: stored values through the rescale (PS3.3 C.7.6.16.2.9)."""
    return render(head, series, seed) * RESCALE_SLOPE + RESCALE_INTERCEPT


def lesion_masks(head: Head) -> tuple[np.ndarray, np.ndarray]:
    """The reference segments: voxels at least half enhancing tumour, and at least half oedema."""
    enhancing = head.fractions["enhancing"] >= 0.5
    oedema = (head.fractions["oedema"] >= 0.5) & ~enhancing
    return enhancing, oedema


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
    # the template's licence: its notice travels with every copy (LICENSES/ICBM152-2009.txt)
    ds.ImageComments = mni152.NOTICE
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
    """Write the T1, T1+C and FLAIR enhanced series and the tumour SEG under ``dest``; return the paths."""
    dest = Path(dest)
    study_uid = sample_uid(seed, STUDY, "study")
    frame_uid = sample_uid(seed, STUDY, "frame-of-reference")
    head = brain_model(seed)
    written = []
    enhanced = {}
    images = {}
    for series in ("t1", "t1c", "flair"):
        stored = images[series] = render(head, series, seed)
        enhanced[series] = enhanced_mr(stored, series, seed, study_uid, frame_uid)
        written.append(save_dataset_atomically(enhanced[series], dest / series / "IM000001.dcm"))

    enhancing, oedema = lesion_masks(head)
    mask = np.zeros(SHAPE, np.uint8)
    mask[enhancing] = 1
    mask[oedema] = 2
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
    core = (head.fractions["enhancing"] + head.fractions["necrosis"]) >= 0.5
    outlines = experts.glioma_outlines(
        enhancing, core, oedema, images["t1c"], images["flair"], SPACING, seed
    )
    in_frame_order = [_slice_of_frame(frame) for frame in range(SHAPE[0])]
    written += experts.write_observer_segs(
        dest / "experts",
        {
            letter: {label: m[in_frame_order] for label, m in masks.items()}
            for letter, masks in outlines.items()
        },
        [enhanced["t1c"]],
        [
            experts.SegmentSpec(
                "Enhancing tumour",
                codes.SCT.MorphologicallyAbnormalStructure,
                codes.SCT.Neoplasm,
                "enhancing tumour",
            ),
            experts.SegmentSpec(
                "Oedema", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Edema, "oedema"
            ),
        ],
        stem="seg-tumour",
        what="Tumour",
        seed=seed,
        tag=(STUDY,),
        created=(DATE, "120000"),
    )
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


def check() -> None:
    """Raise :class:`~dicomteach.samples.mni152.TemplateMissingError` if the template is missing."""
    mni152.check()


__all__ = [
    "GAIN",
    "PROTOCOL",
    "RELAXATION",
    "RESCALE_INTERCEPT",
    "RESCALE_SLOPE",
    "SHAPE",
    "SPACING",
    "brain_model",
    "check",
    "enhanced_mr",
    "intensities",
    "lesion_masks",
    "relaxation_signal",
    "render",
    "signal",
    "write",
]
