"""CT chest with a spiculated part-solid nodule, and its follow-up six months later.

Two studies of one fictitious patient, Siemens SOMATOM style (unsigned 12-bit,
Rescale Intercept −1024, two named header windows, kernel, private block):

* ``baseline/ct/IM000001.dcm…`` 120 axial slices of 2.5 mm, 512×512 at
  0.7 mm, JPEG 2000 Lossless; ``baseline/seg-nodule.dcm``: the reference
  segmentation of the nodule (DICOM SEG, binary, one segment);
* ``followup/ct/…`` 182 days later: new Study Instance UID and Frame of
  Reference, the patient lying a few millimetres and about 1.5° differently,
  the nodule 30 % larger in diameter; RLE Lossless; ``followup/seg-nodule.dcm``.

The patient is the 3D model of :mod:`dicomteach.samples.patient` (the same
person at both visits, moved rigidly at the follow-up); the noise has the
power spectrum of the soft kernel the header names (:data:`KERNEL`).

The nodule (right upper lobe, ~15 mm) has a solid core of ~7 mm in a
ground-glass halo with spicules: on the lung window (W1500 L−600) it is
obvious; on the mediastinal window (W350 L50) only the solid core shows, as a
faint density — the teaching point that lungs are read on the lung window
and a part-solid nodule's solid component is measured on the mediastinal one.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import highdicom as hd
import numpy as np
import scipy.fft
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import JPEG2000Lossless, RLELossless

from dicomteach.io.atomic import save_dataset_atomically
from dicomteach.io.writer import StudyInfo, ct_slice, hu_to_stored
from dicomteach.samples import _shapes, patient, phantoms
from dicomteach.samples._common import Patient, sample_uid

#: The fictitious patient of both studies.
PATIENT = Patient("TEACHING^NODULE", "DTCT0001", "19580412", "M", 78.0, 1.76)

#: Baseline study date; the follow-up is :data:`FOLLOW_UP_DAYS` later.
BASELINE_DATE = date(2025, 3, 10)
FOLLOW_UP_DAYS = 182
#: Growth of the nodule's diameter between the two studies.
GROWTH = 1.3
#: Field of view (mm) of the 512×512 reconstruction: 0.7 mm pixels.
FIELD_OF_VIEW = 358.4
SLICE_SPACING = 2.5
#: CT noise (HU, standard deviation) of a soft-kernel slice of an average-sized patient.
NOISE_HU = 13.0
#: The reconstruction kernel named in the header (Siemens: iterative, soft body kernel) ...
KERNEL = "I30f"
#: ... and where its noise power spectrum peaks (cycles/mm), as a B30-like soft kernel does.
KERNEL_PEAK = 0.3


@dataclasses.dataclass(frozen=True)
class _Visit:
    name: str
    study_date: date
    study_time: str
    accession: str
    transfer_syntax: str
    rotation_deg: tuple[float, float]
    shift_mm: tuple[float, float, float]
    growth: float


_VISITS = (
    _Visit(
        "baseline",
        BASELINE_DATE,
        "091502",
        "DTA25031001",
        JPEG2000Lossless,
        (0.0, 0.0),
        (0.0, 0.0, 0.0),
        1.0,
    ),
    _Visit(
        "followup",
        BASELINE_DATE + timedelta(days=FOLLOW_UP_DAYS),
        "143318",
        "DTA25090801",
        RLELossless,
        (1.6, -1.1),
        (3.5, -4.0, 6.0),
        GROWTH,
    ),
)


def write(dest: str | Path, *, seed: int = 0, size: int = 512, slices: int = 120) -> list[Path]:
    """Write the baseline and follow-up CT with their nodule SEGs under ``dest``; returns the files.

    ``size`` (even) and ``slices`` make a smaller variant for quick tests: the
    field of view stays 358.4 mm, so pixels grow.
    """
    if size % 2 or size < 64:
        raise ValueError(f"Argument 'size' must be an even number >= 64, not {size!r}")
    dest = Path(dest)
    person = patient.make_patient(seed, sex=PATIENT.sex)
    nodule = phantoms.make_nodule(seed)
    written: list[Path] = []
    for number, visit in enumerate(_VISITS):
        written += _write_visit(
            dest / visit.name, person, nodule, visit, seed, number, size, slices
        )
    return written


def noise_sd(person: patient.Patient) -> float:
    """Noise (HU) of a soft-kernel slice for this patient's size.

    Automatic exposure control keeps noise nearly level, but not quite: a
    larger patient still gets noisier images (about ×1.3 for 6 cm more width).

    >>> noise_sd(patient.make_patient(0, sex="M", tree=False)) > 10.0
    True
    """
    width = 2.0 * float(np.sqrt(person.half_width * person.half_depth))
    return float(NOISE_HU * np.exp(0.0045 * (width - 262.0)))


def _write_visit(
    dest: Path,
    person: patient.Patient,
    nodule: phantoms.Lesion,
    visit: _Visit,
    seed: int,
    number: int,
    size: int,
    slices: int,
) -> list[Path]:
    pixel = FIELD_OF_VIEW / size
    x_mm = ((np.arange(size) - (size - 1) / 2.0) * pixel).astype(np.float32)
    top = 95.0
    z_mm = (top - SLICE_SPACING * (slices - 1) + SLICE_SPACING * np.arange(slices)).astype(
        np.float32
    )
    rotation = phantoms.rigid_motion(*visit.rotation_deg)
    shift = np.array(visit.shift_mm)
    hu, label = patient.render(
        person,
        z_mm,
        x_mm,
        x_mm,
        rotation=rotation,
        shift=shift,
        slab=SLICE_SPACING,
        coarse=2 if pixel < 1.0 else 1,
    )
    lung = label == patient.Tissue.LUNG
    grown = nodule.scaled(visit.growth)
    spicules = grown.spicule_tubes().moved(rotation, shift)
    phantoms.draw_tubes(hu, lung, spicules, z_mm, x_mm, x_mm, SLICE_SPACING)
    mask, _ = phantoms.draw_lesion(
        hu, lung, grown, (rotation.T, shift), z_mm, x_mm, x_mm, np.random.default_rng(7)
    )
    _add_table(hu, x_mm, person)
    rng = np.random.default_rng([seed, number, 0xC7])
    _add_noise(hu, pixel, noise_sd(person), rng)
    outside = np.hypot(*np.meshgrid(x_mm, x_mm, indexing="ij")) > FIELD_OF_VIEW / 2.0
    hu[:, outside] = -1024.0
    stored = hu_to_stored(hu)

    tag = ("ct-chest", visit.name)
    study = StudyInfo(
        patient_name=PATIENT.name,
        patient_id=PATIENT.patient_id,
        patient_sex=PATIENT.sex,
        patient_birth_date=PATIENT.birth_date,
        study_uid=sample_uid(seed, *tag, "study"),
        study_date=visit.study_date.strftime("%Y%m%d"),
        study_time=visit.study_time,
        study_description="CT THORAX",
        accession=visit.accession,
        frame_of_reference_uid=sample_uid(seed, *tag, "frame-of-reference"),
    )
    series_uid = sample_uid(seed, *tag, "series", 2)
    datasets: list[Dataset] = []
    written: list[Path] = []
    for k in range(slices):
        instance = slices - k  # Siemens numbers from the head down
        ds = ct_slice(
            stored[k],
            study=study,
            series_uid=series_uid,
            position=(float(x_mm[0]), float(x_mm[0]), float(z_mm[k])),
            pixel_spacing=(pixel, pixel),
            slice_thickness=SLICE_SPACING,
            instance_number=instance,
            series_description=f"Thorax 2.5 {KERNEL} 3",
            kernel=KERNEL,
            sop_uid=sample_uid(seed, *tag, "ct", instance),
        )
        ds.PatientAge = f"{(visit.study_date.year - 1958):03d}Y"
        ds.PatientWeight = f"{PATIENT.weight_kg:g}"
        ds.PatientSize = f"{PATIENT.size_m:g}"
        ds.BodyPartExamined = "CHEST"
        ds.ContrastBolusAgent = ""
        ds.compress(
            visit.transfer_syntax,
            stored[k],
            encoding_plugin=_plugin(visit.transfer_syntax),
            generate_instance_uid=False,
        )
        written.append(save_dataset_atomically(ds, dest / "ct" / f"IM{instance:06d}.dcm"))
        datasets.append(ds)
    written.append(_write_seg(dest / "seg-nodule.dcm", datasets, mask, study, seed, tag))
    return written


def _plugin(syntax: str) -> str:
    return "pylibjpeg" if syntax == JPEG2000Lossless else ""


def _add_noise(hu: np.ndarray, pixel: float, sd: float, rng: np.random.Generator) -> None:
    """Quantum noise with the power spectrum of the soft kernel :data:`KERNEL` (peak ``KERNEL_PEAK``).

    The air around the patient is left noise-free (−1000 exactly): it keeps
    the lossless files small (RLE only compresses runs) and no lesson looks there.
    Noise is made only for the box round the patient and the table.
    """
    dense = np.any(hu > -995.0, axis=0)
    rows, cols = np.flatnonzero(dense.any(1)), np.flatnonzero(dense.any(0))
    if not rows.size:
        return
    r0, c0 = rows[0], cols[0]
    r1 = min(r0 + scipy.fft.next_fast_len(int(rows[-1] + 1 - r0), real=False), hu.shape[1])
    c1 = min(c0 + scipy.fft.next_fast_len(int(cols[-1] + 1 - c0), real=False), hu.shape[2])
    for k0 in range(0, hu.shape[0], 16):
        box = hu[k0 : k0 + 16, r0:r1, c0:c1]
        noise = _shapes.kernel_noise(box.shape, pixel, sd, KERNEL_PEAK, rng)
        box += np.where(box > -995.0, noise, np.float32(0.0))


def _add_table(hu: np.ndarray, x_mm: np.ndarray, person: patient.Patient) -> None:
    """The patient table under the back: a carbon shell around foam (where there is air)."""
    back = person.half_depth * 0.903 + 4.0
    yy, xx = np.meshgrid(x_mm, x_mm, indexing="ij")
    top = back + 25.0 * (xx / 200.0) ** 2 * -1.0 + 3.0
    inside = (yy > top) & (yy < top + 22.0) & (np.abs(xx) < 190.0)
    shell = inside & ((yy < top + 2.0) | (yy > top + 20.0))
    table = np.where(shell, 250.0, np.where(inside, -900.0, np.nan)).astype(np.float32)
    where = ~np.isnan(table)
    hu[:, where] = np.maximum(hu[:, where], table[where])


def _write_seg(
    path: Path,
    datasets: list[Dataset],
    mask: np.ndarray,
    study: StudyInfo,
    seed: int,
    tag: tuple[str, ...],
) -> Path:
    """The reference segmentation of the nodule as DICOM SEG referencing every CT slice."""
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Lung nodule",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Nodule,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_uid=sample_uid(seed, *tag, "seg", "tracking"),
        tracking_id="Nodule 1",
    )
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=sample_uid(seed, *tag, "seg", "series"),
        series_number=300,
        sop_instance_uid=sample_uid(seed, *tag, "seg", "instance"),
        instance_number=1,
        manufacturer="dicomteach",
        manufacturer_model_name="dicomteach sample library",
        software_versions="0.1",
        device_serial_number="0",
        content_description="Reference segmentation of the lung nodule",
        content_creator_name="REFERENCE^READER",
        content_label="NODULE",
        series_description="Nodule reference SEG",
    )
    _freeze_times(seg, study, sample_uid(seed, *tag, "seg", "dimension-organization"))
    return save_dataset_atomically(seg, path)


def _freeze_times(seg: Dataset, study: StudyInfo, dimension_uid: str) -> None:
    """highdicom stamps the clock and a random UID: fix them so the same seed writes the same bytes."""
    for keyword in ("SeriesDate", "ContentDate", "InstanceCreationDate"):
        if keyword in seg:
            setattr(seg, keyword, study.study_date)
    for keyword in ("SeriesTime", "ContentTime", "InstanceCreationTime"):
        if keyword in seg:
            setattr(seg, keyword, "120000")
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = f"{study.study_date}120000"
    for item in seg.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = dimension_uid
    for item in seg.get("DimensionIndexSequence", []):
        if "DimensionOrganizationUID" in item:
            item.DimensionOrganizationUID = dimension_uid
