"""What every sample study shares: deterministic UIDs, fictitious patients, code items.

Sample studies are written deterministically: the same seed gives the same
bytes. UIDs therefore come from fixed
sources (name-based UUIDs under the 2.25 root, PS3.5 B.2), never from the clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydicom.dataset import Dataset

#: Namespace of the name-based UUIDs behind sample UIDs.
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "dicomteach:sample-library")


def sample_uid(seed: int, *parts: object) -> str:
    """A UID fixed by the seed and the names of what it identifies (study, series, instance…).

    A name-based (version 5) UUID under the 2.25 root (PS3.5 B.2), so that the
    same seed writes the same UIDs.

    >>> sample_uid(0, "ct-chest", "series", 2) == sample_uid(0, "ct-chest", "series", 2)
    True
    >>> sample_uid(0, "a") != sample_uid(1, "a")
    True
    """
    name = "/".join(["seed", str(seed), *map(str, parts)])
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


@dataclass(frozen=True)
class Patient:
    """A fictitious patient: every value here is invented (the library holds no real person)."""

    name: str
    patient_id: str
    birth_date: str
    sex: str
    weight_kg: float | None = None
    size_m: float | None = None


def code(value: str, scheme: str, meaning: str) -> Dataset:
    """A Code Sequence item (PS3.3 8.8): Code Value, Coding Scheme Designator, Code Meaning.

    >>> code("81745001", "SCT", "Eye").CodeMeaning
    'Eye'
    """
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def patient_module(ds: Dataset, patient: Patient) -> None:
    """Patient Module (PS3.3 C.7.1.1) and the general study identifiers learners see."""
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    if patient.weight_kg is not None:
        ds.PatientWeight = f"{patient.weight_kg:g}"
    if patient.size_m is not None:
        ds.PatientSize = f"{patient.size_m:g}"
