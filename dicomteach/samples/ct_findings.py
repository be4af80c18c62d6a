"""The chest CT teaching file: one patient's CT holding a lung finding of each kind, and their SEG.

``ct-chest-findings`` of the sample library. Another patient than the nodule
study's (:mod:`dicomteach.samples.ct_chest`), a woman, is imaged as its
baseline is (Siemens habits, 2.5 mm slices, 512×512 at 0.7 mm, JPEG 2000
Lossless), from the lung apices to the bases (:data:`SLICES` slices), with the
findings of :mod:`dicomteach.samples.findings` drawn in her lungs: a spiculated nodule with a pleural tag, a part-solid, a pure
ground-glass and a solid nodule, a calcified granuloma and a scar. Files:

* ``ct/IM000001.dcm…`` the CT;
* ``seg-findings.dcm``: one DICOM SEG, a segment per finding, each labelled
  as a report names it (``"part-solid nodule LUL 14 mm"``);
* ``findings.json`` (:data:`MANIFEST`): what the study holds and where, in
  the CT's patient millimetres, findings and their nodule mimics (vessels
  seen end-on) alike, for lessons and models; :func:`read_manifest` reads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import JPEG2000Lossless

from dicomteach.io.atomic import write_atomically
from dicomteach.io.versioned import read_versioned
from dicomteach.io.writer import StudyInfo
from dicomteach.roi.seg import write_seg
from dicomteach.samples import ct_chest
from dicomteach.samples import patient as anatomy
from dicomteach.samples._common import Patient, sample_uid
from dicomteach.samples.findings import (
    PLAN,
    Drawn,
    Finding,
    FindingsError,
    Kind,
    Mimic,
    draw_finding,
    end_on_vessels,
    finding_box,
    place_findings,
)

#: Folder of the teaching file in the sample library (:data:`dicomteach.samples.STUDIES`).
STUDY = "ct-chest-findings"
#: The fictitious patient of the teaching file: another person than the nodule study's ...
PATIENT = Patient("TEACHING^FINDINGS", "DTCT0002", "19640917", "F", 64.0, 1.63)
#: ... whose body is ``make_patient(seed + PATIENT_SEED)``.
PATIENT_SEED = 101
STUDY_DATE = date(2025, 4, 14)
#: The manifest beside the study: what it holds and where (:func:`read_manifest`).
MANIFEST = "findings.json"
#: Version of the manifest's layout; :func:`read_manifest` refuses others.
MANIFEST_VERSION = 1
SEG_NAME = "seg-findings.dcm"
#: Slices (2.5 mm) and the height of the top one (mm above the carina): the lungs, apex to
#: the posterior recesses, and little else (fewer slices than the nodule study: a shorter write).
SLICES = 100
TOP_MM = 85.0


def write(
    dest: str | Path,
    *,
    seed: int = 0,
    size: int = 512,
    slices: int = SLICES,
    person: anatomy.Patient | None = None,
    examination: ct_chest.Examination | None = None,
    plan: tuple[tuple[Kind, tuple[str, ...], float], ...] | None = None,
) -> list[Path]:
    """Write the teaching-file chest CT, its findings' SEG and its manifest under ``dest``.

    The CT is written as the nodule study's baseline is (:mod:`dicomteach.samples.ct_chest`:
    Siemens habits, 2.5 mm slices, JPEG 2000 Lossless); ``size`` (even) and
    ``slices`` make a smaller variant for quick tests. ``person`` (a patient of
    :func:`dicomteach.samples.ct_chest.population`), ``examination`` and
    ``plan`` (findings as :data:`dicomteach.samples.findings.PLAN` lists them)
    make another patient's case, with its own UIDs; by default the library's.
    Returns the files written (example: :func:`read_manifest`).
    """
    if size % 2 or size < 64:
        raise ValueError(f"Argument 'size' must be an even number >= 64, not {size!r}")
    dest = Path(dest)
    library = person is None and examination is None and plan is None
    person = person or anatomy.make_patient(seed + PATIENT_SEED, sex=PATIENT.sex)
    examination = examination or ct_chest.Examination()
    header, tag = PATIENT, (STUDY,)
    if not library:
        header = ct_chest._header_patient(person, seed)
        habits = examination.habits
        tag = (STUDY, habits.manufacturer, examination.kernel, f"{examination.field_of_view:g}")
        tag += (repr(person.habitus), repr(plan), str(examination.streaks))
    z_mm, x_mm = axes(size, slices, field_of_view=examination.field_of_view)
    hu, placed, drawn, mimics = teaching_volume(person, seed, z_mm, x_mm, plan=plan)
    visit = ct_chest._Visit(
        "teaching",
        STUDY_DATE,
        "101500",
        "DTA25041401",
        JPEG2000Lossless,
        (0.0, 0.0),
        (0.0, 0.0, 0.0),
        1.0,
    )
    # visit number 2: noise of its own, not the nodule study's baseline (0) or follow-up (1)
    plan_ = ct_chest._Plan(person, examination, header, visit, seed, 2, tag)
    study, datasets, written = ct_chest.write_series(dest, hu, z_mm, x_mm, plan_)
    masks = {n: d.mask(hu.shape) for n, d in enumerate(drawn, 1)}
    written.append(_write_seg(dest / SEG_NAME, datasets, masks, placed, study, seed, tag))
    written.append(_write_manifest(dest / MANIFEST, seed, placed, masks, mimics, z_mm))
    return written


def axes(
    size: int, slices: int, *, field_of_view: float = ct_chest.FIELD_OF_VIEW
) -> tuple[np.ndarray, np.ndarray]:
    """Heights of the slices and the in-plane axis (mm) of the teaching file's grid.

    >>> z, x = axes(512, SLICES)
    >>> float(z[0]), float(z[-1]), round(float(x[1] - x[0]), 3)
    (-162.5, 85.0, 0.7)
    """
    pixel = field_of_view / size
    x_mm = ((np.arange(size) - (size - 1) / 2.0) * pixel).astype(np.float32)
    spacing = ct_chest.SLICE_SPACING
    z_mm = (TOP_MM - spacing * (slices - 1) + spacing * np.arange(slices)).astype(np.float32)
    return z_mm, x_mm


def teaching_volume(
    person: anatomy.Patient,
    seed: int,
    z_mm: np.ndarray,
    x_mm: np.ndarray,
    *,
    draw: bool = True,
    plan: tuple[tuple[Kind, tuple[str, ...], float], ...] | None = None,
) -> tuple[np.ndarray, list[Finding], list[Drawn], list[Mimic]]:
    """The teaching file's noise-free CT (HU) with its findings drawn, and what it holds.

    ``draw=False`` gives the same patient without the findings (their places
    still decided), for comparison; ``plan`` places other findings than
    :data:`dicomteach.samples.findings.PLAN`'s.
    """
    pixel = float(abs(x_mm[1] - x_mm[0]))
    hu, label = anatomy.render(
        person, z_mm, x_mm, x_mm, slab=ct_chest.SLICE_SPACING, coarse=2 if pixel < 1.0 else 1
    )
    lung = label == anatomy.Tissue.LUNG
    placed = place_findings(person, seed, (float(z_mm.min()), float(z_mm.max())), plan or PLAN)
    drawn = []
    for finding in placed if draw else []:
        # the render's labels come from a grid twice as coarse: at the pleura, where a scar or
        # a tag ends, each voxel's own centre says whether it is lung
        box = finding_box(finding, z_mm, x_mm, x_mm)
        zz, yy, xx = np.meshgrid(z_mm[box[0]], x_mm[box[1]], x_mm[box[2]], indexing="ij")
        lung[box] = anatomy.tissue(person, xx, yy, zz)[1] == anatomy.Tissue.LUNG
        drawn.append(draw_finding(hu, lung, finding, z_mm, x_mm, x_mm, slab=ct_chest.SLICE_SPACING))
    mimics = end_on_vessels(person, hu, z_mm, x_mm, x_mm, placed)
    return hu, placed, drawn, mimics


def _segment_type(finding: Finding) -> tuple[Code, Code]:
    if finding.kind == Kind.SCAR:
        return codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Scar
    return codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Nodule


def _write_seg(
    path: Path,
    datasets: list,
    masks: dict[int, np.ndarray],
    placed: list[Finding],
    study: StudyInfo,
    seed: int,
    tag: tuple[str, ...],
) -> Path:
    """One SEG, a segment per finding, labelled as a report names it."""
    descriptions = []
    for number, finding in enumerate(placed, 1):
        category, property_type = _segment_type(finding)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=finding.label,
                segmented_property_category=category,
                segmented_property_type=property_type,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                tracking_uid=sample_uid(seed, *tag, "segment", number),
                tracking_id=f"Finding {number}",
                anatomic_regions=[codes.SCT.Lung],
            )
        )
    return write_seg(
        masks,
        datasets,
        path,
        descriptions=descriptions,
        series_uid=sample_uid(seed, *tag, "seg", "series"),
        sop_uid=sample_uid(seed, *tag, "seg", "instance"),
        series_number=300,
        series_description="Findings reference SEG",
        content_label="FINDINGS",
        content_creator="REFERENCE^READER",
        content_description="Reference segmentation of the teaching file's lung findings",
        created=(study.study_date, "120000"),
    )


def _write_manifest(
    path: Path,
    seed: int,
    placed: list[Finding],
    masks: dict[int, np.ndarray],
    mimics: list[Mimic],
    z_mm: np.ndarray,
) -> Path:
    findings = []
    for number, finding in enumerate(placed, 1):
        rows = np.flatnonzero(masks[number].any(axis=(1, 2)))
        details: dict[str, object] = {}
        if finding.kind == Kind.PART_SOLID:
            details["solid_diameter_mm"] = float(round(2.0 * finding.solid_radius))
        if finding.kind == Kind.CALCIFIED:
            details["calcification"] = finding.pattern
        if finding.kind == Kind.SPICULATED:
            details["pleural_tag"] = finding.tag is not None
        findings.append(
            {
                "segment": number,
                "label": finding.label,
                "kind": finding.kind.value,
                "lobe": finding.lobe,
                "centre_mm": [round(float(v), 1) for v in finding.centre],
                "diameter_mm": finding.diameter_mm,
                "z_range_mm": [float(z_mm[rows[0]]), float(z_mm[rows[-1]])] if len(rows) else [],
                "details": details,
            }
        )
    manifest = {
        "version": MANIFEST_VERSION,
        "study": STUDY,
        "seed": seed,
        "coordinates": "patient LPS millimetres, the frame of reference of the CT",
        "ct": "ct",
        "seg": SEG_NAME,
        "findings": findings,
        "mimics": [
            {
                "segment": None,
                "label": m.label,
                "kind": "vessel seen end-on",
                "lobe": m.lobe,
                "centre_mm": [round(float(v), 1) for v in m.centre],
                "diameter_mm": m.diameter_mm,
                "z_range_mm": [round(v, 1) for v in sorted(m.z_range)],
                "details": {"vessel": m.vessel},
            }
            for m in mimics
        ],
    }
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode()))


@dataclass(frozen=True)
class Entry:
    """One finding or mimic of a manifest; ``segment`` is its SEG segment (None for a mimic)."""

    kind: str
    label: str
    lobe: str
    centre_mm: tuple[float, float, float]
    diameter_mm: float
    z_range_mm: tuple[float, ...]
    segment: int | None
    details: dict


@dataclass(frozen=True)
class Manifest:
    """What a teaching-file study holds (:data:`MANIFEST`, written by :func:`write`)."""

    folder: Path
    seed: int
    seg: Path
    findings: tuple[Entry, ...]
    mimics: tuple[Entry, ...]


def read_manifest(folder: str | os.PathLike[str]) -> Manifest:
    """Read the manifest of a teaching-file study folder (or the manifest file itself).

    Raises :class:`FindingsError`, naming the file, when it is missing,
    not JSON, of another version or lacks a field.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write(folder, size=64)  # a coarse variant: the same findings, 5.6 mm pixels
    >>> manifest = read_manifest(folder)
    >>> [entry.label for entry in manifest.findings][:2]
    ['spiculated nodule RUL 16 mm', 'part-solid nodule LUL 14 mm']
    >>> manifest.seg.name, manifest.findings[0].segment
    ('seg-findings.dcm', 1)
    """
    path = Path(folder)
    path = path / MANIFEST if path.is_dir() else path
    data = read_versioned(
        path, what="findings manifest", version=MANIFEST_VERSION, error=FindingsError
    )
    try:
        entries = {
            key: tuple(
                Entry(
                    kind=str(item["kind"]),
                    label=str(item["label"]),
                    lobe=str(item["lobe"]),
                    centre_mm=tuple(float(v) for v in item["centre_mm"]),
                    diameter_mm=float(item["diameter_mm"]),
                    z_range_mm=tuple(float(v) for v in item["z_range_mm"]),
                    segment=None if item["segment"] is None else int(item["segment"]),
                    details=dict(item.get("details", {})),
                )
                for item in data[key]
            )
            for key in ("findings", "mimics")
        }
        return Manifest(path.parent, int(data["seed"]), path.parent / str(data["seg"]), **entries)
    except (KeyError, TypeError, ValueError) as exc:
        raise FindingsError(f"findings manifest lacks or garbles a field ({exc})", path) from None
