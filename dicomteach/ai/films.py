"""The generated chest radiographs the triage model learns from and is judged on.

Every film is a PA chest radiograph of a patient of the sample library's
population (:func:`dicomteach.samples.patient.population`: sex, size, fat,
depth of breath, ribs, vessel and airway trees of their own), made the way
the lessons' film is (:mod:`dicomteach.samples.cr_chest`: a divergent-beam
projection of the 3D patient standing, beam hardening, scatter through the
grid, quantum noise for the dose, the plate's blur, multi-scale processing
and a tone curve), at the film's full size (0.15 mm pixels).

Each patient gives two films, taken minutes apart with their own dose and
stance (shifted up to 10 mm, turned up to 2°):

* **normal**: the patient as they are; a scar in one film in three;
* **abnormal**: the same patient with one to three lung findings placed by the
  teaching file's code (:func:`dicomteach.samples.findings.place_findings`):
  solid, part-solid, ground-glass and spiculated nodules and calcified
  granulomas of sizes drawn per film (:data:`KIND_MIX`), a mass (a solid or
  spiculated lesion of 3 to 5.5 cm) in one film in five, and a scar in one
  in three.

A finding is drawn into a box of fine voxels of the patient's own tissue
(:func:`dicomteach.samples.findings.draw_finding`, in the lung only) and
its attenuation over what it replaces is projected through the film's
geometry (:func:`dicomteach.samples.drr.project_volume`), as the lessons'
nodule is. Nothing is drawn for the model's sake: ribs crossing, vessels seen
end-on, the breasts, the hila and the scars that the model learns to tell
from a nodule, or fails to, are the patient's own; a 6 mm ground-glass nodule
behind the heart is as faint here as on a real film.

Two groups never share a patient, and differ in how the film is stored:

* **training**: population seed :data:`TRAINING_SEED`, Agfa-like CR
  (:data:`AGFA_CR`: MONOCHROME1, 12 bits, the library's processing);
* **held-out**: population seed :data:`HELD_OUT_SEED`, a flat-panel DX
  (:data:`PANEL_DX`: MONOCHROME2, 14 bits, a harder tone curve, a taller
  plate, lower doses).
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date
from pathlib import Path

import numpy as np

from dicomteach.samples import cr_chest, drr
from dicomteach.samples import patient as anatomy
from dicomteach.samples.findings import Finding, FindingsError, Kind, draw_finding, place_findings

#: Population seeds of the two groups (other than the CT model's).
TRAINING_SEED = 3031
HELD_OUT_SEED = 4047
#: What makes a film abnormal for triage: a nodule or a mass of any kind (a scar does not).
LESION_KINDS = frozenset(k for k in Kind if k != Kind.SCAR)
#: Each kind's share of an abnormal film's findings and its diameter range (mm).
KIND_MIX: dict[Kind, tuple[float, tuple[float, float]]] = {
    Kind.SOLID: (0.3, (6.0, 30.0)),
    Kind.PART_SOLID: (0.13, (10.0, 28.0)),
    Kind.GROUND_GLASS: (0.12, (8.0, 26.0)),
    Kind.SPICULATED: (0.25, (12.0, 30.0)),
    Kind.CALCIFIED: (0.2, (5.0, 10.0)),
}
#: Share of abnormal films with a mass, and its diameter range (mm).
MASS_SHARE = 0.2
MASS_MM = (30.0, 55.0)
#: Share of films (normal or abnormal) with a scar, and its length range (mm).
SCAR_SHARE = 0.33
SCAR_MM = (16.0, 32.0)


@dataclasses.dataclass(frozen=True)
class FilmHabits:
    """How a department's radiographs are stored: the device, the pixels and the tone."""

    name: str
    modality: str
    manufacturer: str
    photometric: str
    bits: int
    gamma: float
    """Power on the library's processed density (1: the library's own tone curve)."""
    dose: tuple[float, float]
    """Range of exposures relative to the lessons' film."""
    rows: int
    columns: int


AGFA_CR = FilmHabits("agfa-cr", "CR", "Agfa", "MONOCHROME1", 12, 1.0, (0.8, 1.3), 2330, 2330)
PANEL_DX = FilmHabits(
    "panel-dx", "DX", "dicomteach flat panel", "MONOCHROME2", 14, 0.8, (0.5, 0.9), 2600, 2330
)
#: Groups of films: population seed and habits.
GROUPS = {"training": (TRAINING_SEED, AGFA_CR), "held-out": (HELD_OUT_SEED, PANEL_DX)}


@dataclasses.dataclass(frozen=True)
class FilmSpec:
    """One patient of a group, and the habits of the department filming them."""

    group: str
    number: int
    person_seed: int
    habits: FilmHabits

    @property
    def name(self) -> str:
        """``training-007``: the group and the patient's number in it."""
        return f"{self.group}-{self.number:03d}"

    def film_name(self, abnormal: bool) -> str:
        """``training-007-abnormal``."""
        return f"{self.name}-{'abnormal' if abnormal else 'normal'}"


def film_specs(group: str, n: int) -> list[FilmSpec]:
    """The first ``n`` patients of ``group`` (each gives a normal and an abnormal film).

    >>> [s.name for s in film_specs("held-out", 2)]
    ['held-out-000', 'held-out-001']
    >>> training = {s.person_seed for s in film_specs("training", 30)}
    >>> training & {s.person_seed for s in film_specs("held-out", 30)}
    set()
    """
    if group not in GROUPS:
        raise ValueError(f"Argument 'group' must be one of {sorted(GROUPS)}, not {group!r}")
    seed, habits = GROUPS[group]
    people = anatomy.population(seed, n, tree=False)
    return [FilmSpec(group, k, p.seed, habits) for k, p in enumerate(people)]


def findings_plan(
    spec: FilmSpec, abnormal: bool
) -> tuple[tuple[Kind, tuple[str, ...], float], ...]:
    """The film's findings as :func:`~dicomteach.samples.findings.place_findings` takes them.

    >>> spec = film_specs("training", 1)[0]
    >>> all(k != Kind.SCAR for k, _, _ in findings_plan(spec, True)[:1])
    True
    >>> {k for k, _, _ in findings_plan(spec, False)} <= {Kind.SCAR}
    True
    """
    rng = np.random.default_rng([spec.person_seed, int(abnormal), 0xF11])
    plan = []

    def lobes() -> tuple[str, ...]:
        return tuple(str(lobe) for lobe in rng.permutation(anatomy.LOBES))

    if abnormal:
        kinds = list(KIND_MIX)
        shares = np.array([KIND_MIX[k][0] for k in kinds])
        if rng.random() < MASS_SHARE:
            kind = Kind.SPICULATED if rng.random() < 0.5 else Kind.SOLID
            plan.append((kind, lobes(), float(round(rng.uniform(*MASS_MM), 1))))
        for _ in range(int(rng.integers(1, 4)) - len(plan)):
            kind = kinds[int(rng.choice(len(kinds), p=shares / shares.sum()))]
            plan.append((kind, lobes(), float(round(rng.uniform(*KIND_MIX[kind][1]), 1))))
    if rng.random() < SCAR_SHARE:
        plan.append((Kind.SCAR, lobes(), float(round(rng.uniform(*SCAR_MM), 1))))
    return tuple(sorted(plan, key=lambda item: -item[2]))


def placed_findings(spec: FilmSpec, person: anatomy.Patient, abnormal: bool) -> list[Finding]:
    """The plan's findings placed in ``person``'s lungs, less the last ones that find no room."""
    z_range = (person.dome_left - 90.0, person.apex)
    plan = findings_plan(spec, abnormal)
    while plan:
        try:
            return place_findings(person, spec.person_seed * 2 + int(abnormal), z_range, plan)
        except FindingsError:
            plan = plan[:-1]
    return []


@dataclasses.dataclass
class Film:
    """A generated film: the stored pixels, how they are stored, and what the patient holds."""

    spec: FilmSpec
    abnormal: bool
    pixels: np.ndarray
    """Stored values (uint16), rows × columns, in the sense of ``spec.habits.photometric``."""
    findings: list[Finding]
    pixel_mm: float
    lesion_maps: list[np.ndarray]
    """Each finding's projected thickness (mm) at the film's pixels, in the order of ``findings``."""
    dose: float

    @property
    def name(self) -> str:
        return self.spec.film_name(self.abnormal)

    @property
    def lesions(self) -> list[Finding]:
        """The findings that make the film abnormal (nodules and masses)."""
        return [f for f in self.findings if f.kind in LESION_KINDS]

    @property
    def holds_lesion(self) -> bool:
        """The truth triage is judged against: a nodule or mass is in the film.

        An ``abnormal`` film (one planned with lesions) whose lesions all found
        no room in the patient's lungs holds none, and counts as normal.
        """
        return bool(self.lesions)

    def lesion_pixel(self, finding: Finding) -> tuple[float, float]:
        """(row, column) of the film where the finding's shadow is thickest."""
        thickness = self.lesion_maps[self.findings.index(finding)]
        return tuple(float(v) for v in np.unravel_index(int(np.argmax(thickness)), thickness.shape))  # type: ignore[return-value]


def generator_digest() -> str:
    """A digest of the code that makes a film (the sample library and this module)."""
    here = Path(__file__).resolve().parent
    sources = sorted((here.parent / "samples").glob("*.py")) + [here / "films.py"]
    h = hashlib.sha256()
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def render_films(
    spec: FilmSpec, *, rows: int | None = None, columns: int | None = None
) -> tuple[Film, Film]:
    """The patient's normal and abnormal film, as stored; no files.

    ``rows`` and ``columns`` smaller than the plate give its middle (for quick tests).
    """
    habits = spec.habits
    rows, columns = rows or habits.rows, columns or habits.columns
    person = anatomy.make_patient(spec.person_seed)
    projection = cr_chest.projection_for(person)
    work = cr_chest._working_grid(rows, columns)
    coarse = cr_chest._coarse(work)
    base = drr.smooth_integrals(
        person, projection, coarse, voxel=cr_chest.VOXEL, posture=cr_chest.upright(person)
    )
    integrals = drr.resample(base, coarse, work) + drr.tube_integrals(person, projection, work)
    films = []
    for abnormal in (False, True):
        rng = np.random.default_rng([spec.person_seed, int(abnormal), 0xF12])
        exam = cr_chest._Exam(
            spec.film_name(abnormal),
            date(2025, 2, 10),
            "101244",
            "",
            "",
            abnormal,
            (float(rng.uniform(-10, 10)), float(rng.uniform(-10, 10))),
            float(rng.uniform(-2, 2)),
            float(rng.uniform(*habits.dose)),
        )
        findings = placed_findings(spec, person, abnormal)
        seen = integrals.copy()
        maps = []
        for number, finding in enumerate(findings):
            delta, thickness = _finding_integrals(person, projection, work, finding, number)
            seen += delta
            maps.append(cr_chest._film_integrals(thickness, work, exam, rows, columns))
        film = cr_chest._film_integrals(seen, work, exam, rows, columns)
        stored = cr_chest.radiograph(film, exam.dose, rng)
        films.append(
            Film(
                spec,
                abnormal,
                _store(stored, habits),
                findings,
                cr_chest.PIXEL_MM,
                maps,
                exam.dose,
            )
        )
    return films[0], films[1]


def _finding_integrals(
    person: anatomy.Patient,
    projection: drr.Projection,
    work: drr.Grid,
    finding: Finding,
    number: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The finding's attenuation over what it replaces, and its thickness (mm), on ``work``."""
    reach = finding.reach + 2.0
    voxel = float(np.clip(reach / 28.0, 0.4, 1.0))
    axes = [np.arange(c - reach, c + reach + voxel, voxel) for c in finding.centre[::-1]]
    z_mm, y_mm, x_mm = axes
    zz, yy, xx = np.meshgrid(*(a.astype(np.float32) for a in axes), indexing="ij")
    hu, label = anatomy.tissue(person, xx.ravel(), yy.ravel(), zz.ravel())
    hu = hu.reshape(zz.shape).astype(np.float32)
    lung = label.reshape(zz.shape) == anatomy.Tissue.LUNG
    before = drr.attenuation(hu)
    drawn = draw_finding(hu, lung, finding, z_mm, y_mm, x_mm, slab=voxel, supersample=(2, 2, 2))
    occupancy = np.zeros(hu.shape, dtype=np.float32)
    occupancy[drawn.box] = drawn.occupancy
    delta = drr.attenuation(hu) - before
    out_delta = np.zeros(work.shape, dtype=np.float32)
    out_thick = np.zeros(work.shape, dtype=np.float32)
    corners = np.array(
        [[x, y, z] for x in x_mm[[0, -1]] for y in y_mm[[0, -1]] for z in z_mm[[0, -1]]]
    )
    u, v = projection.project(corners)
    window = work.window(u.min() - 1, u.max() + 1, v.min() - 1, v.max() + 1)
    if window is not None:
        sub, box = window
        out_delta[box] = drr.project_volume(delta, (z_mm, y_mm, x_mm), projection, sub)
        out_thick[box] = drr.project_volume(occupancy, (z_mm, y_mm, x_mm), projection, sub)
    return out_delta, out_thick


def _store(stored: np.ndarray, habits: FilmHabits) -> np.ndarray:
    """The library's film (12 bits, MONOCHROME1) as ``habits`` store it.

    >>> film = np.array([[200, 4000]], np.uint16)
    >>> _store(film, PANEL_DX).tolist()  # lighter on the library's film: higher in MONOCHROME2
    [[16383, 0]]
    """
    if habits.bits == 12 and habits.photometric == "MONOCHROME1" and habits.gamma == 1.0:
        return stored
    density = np.clip((4000.0 - stored.astype(np.float32)) / 3800.0, 0.0, 1.0) ** habits.gamma
    top = float(2**habits.bits - 1)
    value = density if habits.photometric == "MONOCHROME2" else 1.0 - density
    return np.rint(value * top).astype(np.uint16)


def write_film(film: Film, path: str | Path) -> Path:
    """The film as a DICOM file (CR or DX storage, as its habits say), written atomically."""
    from pydicom.uid import (
        ComputedRadiographyImageStorage,
        DigitalXRayImageStorageForPresentation,
    )

    from dicomteach.io.atomic import save_dataset_atomically
    from dicomteach.io.writer import new_instance
    from dicomteach.samples._common import sample_uid

    habits = film.spec.habits
    sop_class = (
        ComputedRadiographyImageStorage
        if habits.modality == "CR"
        else DigitalXRayImageStorageForPresentation
    )
    tag = ("ai-film", film.name)
    ds = new_instance(sop_class, sample_uid(film.spec.person_seed, *tag, "instance"))
    ds.Modality = habits.modality
    ds.Manufacturer = habits.manufacturer
    ds.PatientID = f"DT{film.spec.person_seed}"
    ds.PatientName = f"Film^{film.spec.name}"
    ds.StudyInstanceUID = sample_uid(film.spec.person_seed, *tag, "study")
    ds.SeriesInstanceUID = sample_uid(film.spec.person_seed, *tag, "series")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20250210"
    ds.SeriesNumber = ds.InstanceNumber = 1
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    if habits.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = habits.photometric
    ds.Rows, ds.Columns = (int(n) for n in film.pixels.shape)
    spacing = f"{film.pixel_mm:g}"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [spacing, spacing]
    ds.BitsAllocated = 16
    ds.BitsStored = habits.bits
    ds.HighBit = habits.bits - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
    ds.PixelData = np.ascontiguousarray(film.pixels, dtype=np.uint16).tobytes()
    return save_dataset_atomically(ds, Path(path))
