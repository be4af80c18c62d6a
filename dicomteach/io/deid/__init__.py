"""De-identification: DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile.

With the options a teaching file needs: Retain Longitudinal Temporal Information
with Modified Dates, Clean Descriptors, Retain Safe Private; burned-in text is
blanked where the instructor says (Clean Pixel Data) or accepted explicitly.
"""

from __future__ import annotations

from dicomteach.io.deid.anonymize import (
    AnonymizeResult,
    Settings,
    anonymize,
    deidentify,
    import_study,
)
from dicomteach.io.deid.pixels import BurnedInAnnotationError, Region
from dicomteach.io.deid.profile import Option

__all__ = [
    "AnonymizeResult",
    "BurnedInAnnotationError",
    "Option",
    "Region",
    "Settings",
    "anonymize",
    "deidentify",
    "import_study",
]
