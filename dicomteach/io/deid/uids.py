"""UIDs, pseudonyms and date offsets derived from a project key (HMAC-SHA256).

The same key maps the same original value to the same result in every run, so a
follow-up study de-identified months later still matches its baseline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

#: Keywords whose UIDs name a *kind* of thing (an SOP class, a transfer syntax, a coding
#: scheme): shared by every file in the world, so never identifying and never mapped.
WELL_KNOWN_KEYWORDS = frozenset(
    {
        "TransferSyntaxUID",
        "ReferencedTransferSyntaxUIDInFile",
        "ImplementationClassUID",
        "CodingSchemeUID",
        "ContextUID",
        "ContextGroupExtensionCreatorUID",
        "PrivateInformationCreatorUID",
        "MappingResourceUID",
        "ApplicationSetupCheck",
    }
)
#: Root of the UIDs the DICOM Standard itself defines (PS3.6 Annex A).
DICOM_ROOT = "1.2.840.10008."


def _digest(key: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()


def is_well_known(keyword: str, uid: str) -> bool:
    """True for UIDs that identify a class of things, not a patient, study or image."""
    return (
        uid.startswith(DICOM_ROOT) or keyword.endswith("ClassUID") or keyword in WELL_KNOWN_KEYWORDS
    )


def map_uid(key: bytes, uid: str) -> str:
    """A UID under the ``2.25`` root (PS3.5 B.2) derived from ``uid`` and ``key``.

    >>> map_uid(b"course", "1.2.3") == map_uid(b"course", "1.2.3 ")
    True
    >>> map_uid(b"course", "1.2.3").startswith("2.25.")
    True
    """
    uid = uid.strip().rstrip("\0")
    return "2.25." + str(int.from_bytes(_digest(key, "uid", uid)[:16], "big"))


def pseudonym(key: bytes, patient_id: str) -> str:
    """A patient pseudonym (``DT`` + 10 letters/digits) derived from the original Patient ID.

    >>> pseudonym(b"course", "12345") == pseudonym(b"course", "12345")
    True
    >>> len(pseudonym(b"course", "12345"))
    12
    """
    code = base64.b32encode(_digest(key, "patient", patient_id.strip())).decode()
    return "DT" + code[:10]


def date_offset_days(key: bytes, patient_id: str) -> int:
    """The per-patient date shift, −30 to −365 days, derived from the original Patient ID.

    >>> -365 <= date_offset_days(b"course", "12345") <= -30
    True
    """
    n = int.from_bytes(_digest(key, "dates", patient_id.strip())[:8], "big")
    return -(30 + n % 336)
