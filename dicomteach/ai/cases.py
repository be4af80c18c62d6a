"""The generated patients the nodule model learns from and is judged on.

Every case is a patient of the sample library's population
(:func:`dicomteach.samples.ct_chest.population`: sex, size, fat, depth of
breath, vessel and airway trees of their own), examined as that patient's
department would (maker, soft or lung kernel, field of view, streaks from the
bones: :func:`~dicomteach.samples.ct_chest.examination_for`), with lung
findings placed in their lungs by the teaching file's code
(:mod:`dicomteach.samples.findings`): solid, part-solid, ground-glass and
spiculated nodules, calcified granulomas, and scars, of sizes drawn per case
(:func:`findings_plan`). Nothing is drawn for the model's sake: the vessels
seen end-on and the scars that it learns to tell from nodules, or fails to,
are the patient's own anatomy and findings.

Two groups never share a patient:

* **training**: patients of population seed :data:`TRAINING_SEED` examined on
  Siemens or GE scanners (:data:`TRAINING_MAKERS`);
* **held-out**: patients of population seed :data:`HELD_OUT_SEED` examined on
  Philips or Canon scanners (:data:`HELD_OUT_MAKERS`): other people, other
  makers' storage and kernels' names and fields of view.

Each case can be made at any matrix (:data:`SIZES`: the same patient,
findings and field of view, larger pixels). Training cases are made in memory (:func:`render_case`: the very values
:func:`~dicomteach.samples.ct_chest.acquire` stores, without files);
held-out cases are written as DICOM with their SEG and manifest
(:func:`write_case`, through :func:`dicomteach.samples.ct_findings.write`) and
read back through :mod:`dicomteach.io`, as a learner's CT is.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from dicomteach.io.writer import VENDORS
from dicomteach.samples import ct_chest, ct_findings
from dicomteach.samples import patient as anatomy
from dicomteach.samples.findings import (
    Drawn,
    Finding,
    FindingsError,
    Kind,
    Mimic,
    place_findings,
)

#: Population seed of the training patients, and the makers of their scanners ...
TRAINING_SEED = 1015
TRAINING_MAKERS = ("siemens", "ge")
#: ... and of the held-out patients.
HELD_OUT_SEED = 2040
HELD_OUT_MAKERS = ("philips", "canon")
#: Groups of cases: population seed and makers (keys of :data:`dicomteach.io.writer.VENDORS`).
GROUPS = {
    "training": (TRAINING_SEED, TRAINING_MAKERS),
    "held-out": (HELD_OUT_SEED, HELD_OUT_MAKERS),
}
#: What a nodule is for the model: every kind but the scar (a calcified granuloma is a
#: calcified nodule; a reader dismisses it as benign, a detector should still find it).
NODULE_KINDS = frozenset(k for k in Kind if k != Kind.SCAR)
#: Each kind's share of a case's findings, and its diameter range (mm; a scar's length).
KIND_MIX: dict[Kind, tuple[float, tuple[float, float]]] = {
    Kind.SOLID: (0.25, (5.0, 20.0)),
    Kind.PART_SOLID: (0.13, (8.0, 22.0)),
    Kind.GROUND_GLASS: (0.2, (6.0, 20.0)),
    Kind.SPICULATED: (0.1, (10.0, 24.0)),
    Kind.CALCIFIED: (0.1, (4.0, 9.0)),
    Kind.SCAR: (0.22, (16.0, 32.0)),
}
#: Slices (2.5 mm) and matrix of a generated case: the teaching file's (apex to bases).
SLICES = ct_findings.SLICES
SIZE = 512
#: The matrices a CT of the sample library comes in: the teaching file's 512 (pixels of
#: 0.6 to 0.9 mm) and the lessons' 256 (1.2 to 1.9 mm, ``size=256``). Every patient is
#: learnt from and judged at both: a model shown only 512 reads the smoother vessels of a
#: 256 CT, put back on its 1.25 mm grid, as dozens of nodules (docs/ai.md).
SIZES = (512, 256)


@dataclasses.dataclass(frozen=True)
class CaseSpec:
    """One generated case: who, how examined, and what findings to place."""

    group: str
    number: int
    person_seed: int
    examination: ct_chest.Examination

    @property
    def name(self) -> str:
        """``"held-out-03"``: the case's name in logs, the evaluation and the known-error list."""
        return f"{self.group}-{self.number:02d}"

    @property
    def maker(self) -> str:
        """The scanner's maker as its header names it (``"SIEMENS"``, ``"Philips"``…)."""
        return self.examination.habits.manufacturer

    def person(self) -> anatomy.Patient:
        """The patient (with vessel and airway trees: about two seconds)."""
        return anatomy.make_patient(self.person_seed)


def case_specs(group: str, n: int) -> list[CaseSpec]:
    """The first ``n`` cases of ``group`` (``"training"`` or ``"held-out"``).

    >>> sorted({c.maker for c in case_specs("held-out", 8)})
    ['CANON_MEC', 'Philips']
    >>> training = {c.person_seed for c in case_specs("training", 40)}
    >>> training & {c.person_seed for c in case_specs("held-out", 40)}
    set()
    """
    if group not in GROUPS:
        raise ValueError(f"Argument 'group' must be one of {sorted(GROUPS)}, not {group!r}")
    seed, makers = GROUPS[group]
    wanted = [VENDORS[maker] for maker in makers]
    found: list[CaseSpec] = []
    # about half the population is examined by these makers; a population's first
    # patients are the same whatever its size, so a larger one only adds cases
    for person in anatomy.population(seed, 4 * n + 16, tree=False):
        exam = ct_chest.examination_for(person, person.seed)
        if exam.habits in wanted and len(found) < n:
            found.append(CaseSpec(group, len(found), person.seed, exam))
    if len(found) < n:
        raise ValueError(f"Argument 'n' is too large for group {group!r}: {len(found)} cases")
    return found


def findings_plan(seed: int) -> tuple[tuple[Kind, tuple[str, ...], float], ...]:
    """A case's findings as :func:`~dicomteach.samples.findings.place_findings` takes them.

    Two to six findings, kinds in the shares of :data:`KIND_MIX`, diameters
    drawn within each kind's range, lobes in a random order.

    >>> plan = findings_plan(7)
    >>> 2 <= len(plan) <= 6 and all(isinstance(d, float) for _, _, d in plan)
    True
    """
    rng = np.random.default_rng([seed, 0xA1])
    kinds = list(KIND_MIX)
    shares = np.array([KIND_MIX[k][0] for k in kinds])
    plan = []
    for _ in range(int(rng.integers(2, 7))):
        kind = kinds[int(rng.choice(len(kinds), p=shares / shares.sum()))]
        low, high = KIND_MIX[kind][1]
        lobes = tuple(str(lobe) for lobe in rng.permutation(anatomy.LOBES))
        plan.append((kind, lobes, float(round(rng.uniform(low, high), 1))))
    # larger findings first: they need the most room
    return tuple(sorted(plan, key=lambda item: -item[2]))


def fitted_plan(spec: CaseSpec, person: anatomy.Patient, z_mm: np.ndarray):
    """:func:`findings_plan` less the last findings that find no room in this patient."""
    plan = findings_plan(spec.person_seed)
    z_range = (float(z_mm.min()), float(z_mm.max()))
    while plan:
        try:
            place_findings(person, spec.person_seed, z_range, plan)
            return plan
        except FindingsError:
            plan = plan[:-1]
    return plan


@dataclasses.dataclass
class GeneratedCase:
    """A case made in memory: the CT as stored (in HU), and what it holds."""

    spec: CaseSpec
    hu: np.ndarray
    spacing: tuple[float, float, float]
    findings: list[Finding]
    drawn: list[Drawn]
    mimics: list[Mimic]

    def mask(self, kinds: frozenset[Kind] = NODULE_KINDS) -> np.ndarray:
        """Where findings of ``kinds`` are (their SEG segments' rule: half a voxel or more)."""
        out = np.zeros(self.hu.shape, dtype=bool)
        for finding, drawn in zip(self.findings, self.drawn, strict=True):
            if finding.kind in kinds:
                out[drawn.box] |= drawn.occupancy >= 0.5
        return out


def generator_digest() -> str:
    """A digest of the code that makes a case (the sample library, its writer, this module).

    Cached cases are named with it, so a change to any of them makes them again.
    """
    here = Path(__file__).resolve().parent
    sources = sorted((here.parent / "samples").glob("*.py"))
    sources += [here.parent / "io" / "writer.py", here / "cases.py"]
    h = hashlib.sha256()
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def render_case(spec: CaseSpec, *, size: int = SIZE, slices: int = SLICES) -> GeneratedCase:
    """The case's CT as its scanner would store it, in HU, with its findings; no files.

    ``size`` and ``slices`` make a smaller case (the field of view kept):
    the training script's test uses one.
    """
    person = spec.person()
    exam = spec.examination
    z_mm, x_mm = ct_findings.axes(size, slices, field_of_view=exam.field_of_view)
    plan = fitted_plan(spec, person, z_mm)
    hu, placed, drawn, mimics = ct_findings.teaching_volume(
        person, spec.person_seed, z_mm, x_mm, plan=plan
    )
    # the noise of a teaching file (visit number 2, as ct_findings.write gives it)
    stored = ct_chest.acquire(hu, x_mm, person, exam, (spec.person_seed, 2))
    hu = stored.astype(np.float32) - np.float32(1024.0)
    pixel = float(abs(x_mm[1] - x_mm[0]))
    return GeneratedCase(spec, hu, (ct_chest.SLICE_SPACING, pixel, pixel), placed, drawn, mimics)


def write_case(
    spec: CaseSpec, dest: str | Path, *, size: int = SIZE, slices: int = SLICES
) -> list[Path]:
    """Write the case as a teaching file: ``ct/`` (DICOM), ``seg-findings.dcm``, ``findings.json``.

    The same patient, findings and values as :func:`render_case` gives
    (:func:`dicomteach.samples.ct_findings.write` with the case's patient,
    examination and plan).
    """
    person = spec.person()
    z_mm, _ = ct_findings.axes(size, slices, field_of_view=spec.examination.field_of_view)
    return ct_findings.write(
        dest,
        seed=spec.person_seed,
        size=size,
        slices=slices,
        person=person,
        examination=spec.examination,
        plan=fitted_plan(spec, person, z_mm),
    )
