"""CT chest with a spiculated part-solid nodule, and its follow-up six months later.

Two studies of one fictitious patient, Siemens SOMATOM style (unsigned 12-bit,
Rescale Intercept −1024, two named header windows, kernel, private block):

* ``baseline/ct/IM000001.dcm…`` 120 axial slices of 2.5 mm, 512×512 at
  0.7 mm, JPEG 2000 Lossless; ``baseline/seg-nodule.dcm``: the reference
  segmentation of the nodule (DICOM SEG, binary, one segment);
  ``baseline/experts/seg-nodule-observer-{a,b,c}.dcm``: three observers'
  outlines of it, one SEG each (:mod:`dicomteach.samples.experts`);
* ``followup/ct/…`` 182 days later: new Study Instance UID and Frame of
  Reference, the patient lying a few millimetres and about 1.5° differently,
  the nodule 30 % larger in diameter; RLE Lossless; ``followup/seg-nodule.dcm``.

The patient is the 3D model of :mod:`dicomteach.samples.patient` (the same
person at both visits, moved rigidly at the follow-up); the noise has the
power spectrum of the soft kernel the header names (:data:`KERNEL`).

That is the library's case. :func:`population` draws others (patients of
both sexes and several builds, examined by a Siemens, GE, Philips or Canon
scanner with a soft or a lung kernel and a field of view fitted to the body,
docs/decisions.md, decision 25), and ``write(..., person=, examination=)``
writes one.

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
from dicomteach.io.writer import SIEMENS, VENDORS, CTHabits, StudyInfo, ct_slice, hu_to_stored
from dicomteach.samples import _shapes, experts, patient, phantoms, streaks
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
#: The reconstruction kernel named in the library's header (Siemens: iterative, soft body) ...
KERNEL = "I30f"
#: ... and where its noise power spectrum peaks (cycles/mm), as a B30-like soft kernel does.
KERNEL_PEAK = 0.3
#: Each kind of kernel: where its noise power spectrum peaks (cycles/mm), and its noise
#: relative to the soft kernel's at the same dose (a lung kernel's is 2 to 3 times higher).
KERNEL_NOISE: dict[str, tuple[float, float]] = {"soft": (KERNEL_PEAK, 1.0), "sharp": (0.65, 2.6)}
#: A lung kernel's edge enhancement: the width (mm) of the blur it subtracts, and its gain.
SHARP_EDGE_MM = 0.9
SHARP_EDGE_GAIN = 0.7


@dataclasses.dataclass(frozen=True)
class Examination:
    """How one chest CT was made: the maker's header habits, the kernel and the field of view.

    ``kernel`` is ``"soft"`` (body) or ``"sharp"`` (lung); its name in the
    header is the maker's (:meth:`CTHabits.kernel`), and the image's noise has
    that kernel's spectrum (:data:`KERNEL_NOISE`). ``streaks`` adds what the
    bones do to the projections (beam hardening and photon starvation,
    :mod:`dicomteach.samples.streaks`), as on a scanner without a bone
    correction. The default is the library's study: Siemens, soft kernel
    ``I30f``, 358.4 mm, no streaks.

    >>> Examination(habits=VENDORS["ge"], kernel="sharp").kernel_name
    'LUNG'
    """

    habits: CTHabits = SIEMENS
    kernel: str = "soft"
    field_of_view: float = FIELD_OF_VIEW
    streaks: bool = False

    def __post_init__(self) -> None:
        if self.kernel not in KERNEL_NOISE:
            raise ValueError(
                f"Argument 'kernel' must be one of {sorted(KERNEL_NOISE)}, not {self.kernel!r}"
            )
        if not 200.0 <= self.field_of_view <= 500.0:
            raise ValueError(
                f"Argument 'field_of_view' must be 200 to 500 mm, not {self.field_of_view!r}"
            )

    @property
    def kernel_name(self) -> str:
        return self.habits.kernel(self.kernel)


def examination_for(person: patient.Patient, seed: int) -> Examination:
    """The examination a department would give ``person``: a maker, a kernel, a field of view.

    The field of view is the body's width and a margin, rounded up to 10 mm,
    as a radiographer sets it; the maker and kernel are the seed's choice (a
    lung kernel in about two cases of five), and so are streaks from the bones
    (about one case in three).

    >>> person = patient.make_patient(3, tree=False)
    >>> exam = examination_for(person, 3)
    >>> exam.field_of_view >= 2 * person.half_width
    True
    """
    rng = np.random.default_rng([seed, 0xE7A])
    habits = list(VENDORS.values())[int(rng.integers(len(VENDORS)))]
    kernel = "sharp" if rng.random() < 0.4 else "soft"
    width = 2.0 * person.half_width + rng.uniform(20.0, 60.0)
    field = float(np.clip(np.ceil(width / 10.0) * 10.0, 300.0, 500.0))
    return Examination(habits, kernel, field, streaks=bool(rng.random() < 0.3))


def population(seed: int, n: int) -> list[tuple[patient.Patient, Examination]]:
    """``n`` chest CT patients drawn from ``seed``, each with the examination they had.

    Patients differ in sex, size, fat and depth of breath
    (:func:`dicomteach.samples.patient.population`), examinations in maker,
    kernel and field of view (:func:`examination_for`). Write one with
    ``write(dest, seed=person.seed, person=person, examination=exam)``.

    >>> cases = population(0, 3)
    >>> len({(exam.habits.manufacturer, exam.kernel, exam.field_of_view) for _, exam in cases}) > 1
    True
    """
    return [
        (person, examination_for(person, person.seed)) for person in patient.population(seed, n)
    ]


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


def write(
    dest: str | Path,
    *,
    seed: int = 0,
    size: int = 512,
    slices: int = 120,
    person: patient.Patient | None = None,
    examination: Examination | None = None,
) -> list[Path]:
    """Write the baseline and follow-up CT with their nodule SEGs under ``dest``; returns the files.

    ``size`` (even) and ``slices`` make a smaller variant for quick tests: the
    field of view stays the same, so pixels grow. ``person`` (a patient of
    :func:`population`, or :func:`~dicomteach.samples.patient.make_patient`'s)
    and ``examination`` make another case of the population; by default the
    library's: seed ``seed``'s man, examined as :class:`Examination` says.
    """
    if size % 2 or size < 64:
        raise ValueError(f"Argument 'size' must be an even number >= 64, not {size!r}")
    dest = Path(dest)
    library = person is None and examination is None
    person = person or patient.make_patient(seed, sex=PATIENT.sex)
    examination = examination or Examination()
    header = PATIENT if library else _header_patient(person, seed)
    # another case of the same seed is another study: its own UIDs
    tag: tuple[str, ...] = ("ct-chest",)
    if not library:
        habits, fov = examination.habits, f"{examination.field_of_view:g}"
        tag = ("ct-chest", habits.manufacturer, examination.kernel, fov, repr(person.habitus))
        if examination.streaks:
            tag += ("streaks",)
    nodule = phantoms.make_nodule(seed)
    written: list[Path] = []
    for number, visit in enumerate(_VISITS):
        plan = _Plan(person, examination, header, visit, seed, number, (*tag, visit.name))
        written += _write_visit(dest / visit.name, plan, nodule, size, slices)
    return written


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything one visit's series is written from, apart from the matrix."""

    person: patient.Patient
    examination: Examination
    header: Patient
    visit: _Visit
    seed: int
    number: int
    tag: tuple[str, ...]


def _header_patient(person: patient.Patient, seed: int) -> Patient:
    """The name, birth date, height and weight a case's header gives its (fictitious) patient."""
    rng = np.random.default_rng([seed, 0x4EAD])
    habitus = person.habitus
    male = habitus.sex == "M"
    height = (1.76 if male else 1.64) * habitus.size / (1.0 if male else 0.93)
    weight = 22.0 * height**2 * (1.0 + (habitus.fat_mm - 12.0) / 30.0)
    born = date(BASELINE_DATE.year - int(rng.integers(45, 83)), int(rng.integers(1, 13)), 15)
    return Patient(
        f"TEACHING^CHEST{seed % 10000:04d}",
        f"DTCT{seed % 1000000:06d}",
        born.strftime("%Y%m%d"),
        habitus.sex,
        round(weight),
        round(height, 2),
    )


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
    dest: Path, plan: _Plan, nodule: phantoms.Lesion, size: int, slices: int
) -> list[Path]:
    person, visit, exam, seed = plan.person, plan.visit, plan.examination, plan.seed
    pixel = exam.field_of_view / size
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
    study, datasets, written = write_series(dest, hu, z_mm, x_mm, plan)
    written.append(_write_seg(dest / "seg-nodule.dcm", datasets, mask, study, seed, plan.tag))
    if visit.name == "baseline":  # the written image (noise included) is what observers read
        outlines = experts.nodule_outlines(mask, hu, (SLICE_SPACING, pixel, pixel), seed)
        written += experts.write_observer_segs(
            dest / "experts",
            {letter: {NODULE_SEGMENT.label: m} for letter, m in outlines.items()},
            datasets,
            [NODULE_SEGMENT],
            stem="seg-nodule",
            what="Nodule",
            seed=seed,
            tag=plan.tag,
            created=(study.study_date, "120000"),
        )
    return written


def write_series(
    dest: Path, hu: np.ndarray, z_mm: np.ndarray, x_mm: np.ndarray, plan: _Plan
) -> tuple[StudyInfo, list[Dataset], list[Path]]:
    """What :func:`acquire` makes of ``hu``, written as one CT series under ``dest``.

    ``z_mm`` and ``x_mm`` are the heights of the slices and the in-plane axis
    (mm); also used by the teaching file (:mod:`dicomteach.samples.ct_findings`).
    """
    person, visit, exam, seed = plan.person, plan.visit, plan.examination, plan.seed
    pixel = exam.field_of_view / len(x_mm)
    slices = len(z_mm)
    stored = acquire(hu, x_mm, person, exam, (seed, plan.number))

    tag = plan.tag
    header = plan.header
    study = StudyInfo(
        patient_name=header.name,
        patient_id=header.patient_id,
        patient_sex=header.sex,
        patient_birth_date=header.birth_date,
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
            series_description=exam.habits.description.format(
                thickness=SLICE_SPACING, kernel=exam.kernel_name
            ),
            kernel=exam.kernel_name,
            windows=exam.habits.windows_for(exam.kernel),
            habits=exam.habits,
            sop_uid=sample_uid(seed, *tag, "ct", instance),
        )
        ds.PatientAge = f"{_age(header.birth_date, visit.study_date):03d}Y"
        ds.PatientWeight = f"{header.weight_kg:g}"
        ds.PatientSize = f"{header.size_m:g}"
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
    return study, datasets, written


def acquire(
    hu: np.ndarray,
    x_mm: np.ndarray,
    person: patient.Patient,
    examination: Examination,
    noise_seed: tuple[int, int],
) -> np.ndarray:
    """What the scanner stores of the noise-free slices ``hu`` (HU, changed in place).

    The table under the patient, the examination's streaks from the bones, a
    lung kernel's edges, noise with its kernel's spectrum, the air outside the
    reconstructed circle, then the maker's stored values (12-bit unsigned with
    intercept −1024, or signed 16-bit with its padding value outside the
    circle). ``noise_seed`` (case seed, visit number) decides the noise and the
    streaks. :func:`write_series` writes what this returns; models trained on
    the population (:mod:`dicomteach.ai`) see the same values without the files.

    >>> person = patient.make_patient(0, tree=False)
    >>> x = np.linspace(-179.0, 179.0, 64, dtype=np.float32)
    >>> slab = np.full((2, 64, 64), -1000.0, np.float32)
    >>> stored = acquire(slab, x, person, Examination(), (0, 0))
    >>> stored.dtype.name, int(stored[0, 0, 0])  # outside the circle: -1024 HU
    ('uint16', 0)
    """
    pixel = examination.field_of_view / len(x_mm)
    _add_table(hu, x_mm, person)
    peak, louder = KERNEL_NOISE[examination.kernel]
    seed, number = noise_seed
    if examination.streaks:
        body = hu > -995.0
        error = streaks.bone_streaks(
            hu, pixel, noise_sd(person) * louder, np.random.default_rng([seed, number, 0x57])
        )
        hu += np.where(body, error, np.float32(0.0))
    if examination.kernel == "sharp":
        _sharpen(hu, pixel)
    rng = np.random.default_rng([seed, number, 0xC7])
    _add_noise(hu, pixel, noise_sd(person) * louder, peak, rng)
    outside = np.hypot(*np.meshgrid(x_mm, x_mm, indexing="ij")) > examination.field_of_view / 2.0
    hu[:, outside] = -1024.0
    stored = hu_to_stored(hu)
    if examination.habits.signed:
        stored = stored.astype(np.int16)
        if examination.habits.padding is not None:
            stored[:, outside] = examination.habits.padding
    return stored


def _age(birth_date: str, on: date) -> int:
    born = date(int(birth_date[:4]), int(birth_date[4:6]), int(birth_date[6:]))
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _plugin(syntax: str) -> str:
    return "pylibjpeg" if syntax == JPEG2000Lossless else ""


def _add_noise(
    hu: np.ndarray, pixel: float, sd: float, peak: float, rng: np.random.Generator
) -> None:
    """Quantum noise with the power spectrum of a kernel whose spectrum peaks at ``peak`` cycles/mm.

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
        noise = _shapes.kernel_noise(box.shape, pixel, sd, peak, rng)
        box += np.where(box > -995.0, noise, np.float32(0.0))


def _sharpen(hu: np.ndarray, pixel: float) -> None:
    """What a lung kernel does to edges: each slice's edges lifted, with an overshoot either side.

    A sharp kernel boosts the middle frequencies the soft one rolls off, so a
    rib or a vessel against the lung gets a dark rim outside and a bright one
    inside (the "edge enhancement" readers see in lung-kernel images);
    modelled as unsharp masking of the noise-free slice (gain 0.7 over a
    0.9 mm Gaussian), the soft kernel's edges being those of the supersampled
    drawing itself.
    """
    sigma = SHARP_EDGE_MM / pixel
    hu += SHARP_EDGE_GAIN * (hu - _shapes.gaussian_blur(hu, (0.0, sigma, sigma)))


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


#: The nodule's segment, in the reference SEG and in each observer's.
NODULE_SEGMENT = experts.SegmentSpec(
    "Lung nodule", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Nodule, "Nodule 1"
)


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
        segment_label=NODULE_SEGMENT.label,
        segmented_property_category=NODULE_SEGMENT.category,
        segmented_property_type=NODULE_SEGMENT.property_type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_uid=sample_uid(seed, *tag, "seg", "tracking"),
        tracking_id=NODULE_SEGMENT.tracking_id,
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
