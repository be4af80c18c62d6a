"""Clean Descriptors (PS3.15 E.3.5): what dicomteach keeps of free-text descriptions.

Two kinds of descriptor get the option's C action:

* **short descriptors** (VR CS, SH, LO: Study Description, Series Description,
  Protocol Name, labels…) are *scrubbed*: only words known to be technical
  (anatomy, modality, sequence and reconstruction terms, in :data:`SAFE_WORDS`)
  and short technical codes (``T1``, ``I30f``, ``2.5``, ``3D``) are kept; every
  other word is dropped, as is any word equal to an identifying value found in the
  same file (names, IDs). An allow-list is chosen over a search for names because a
  name nobody listed (a consulting doctor's, a relative's) is still dropped.
* **long text** (VR ST, LT, UT: Image Comments, Additional Patient History,
  comments, reasons) is *removed*: its content is emptied, never kept.
"""

from __future__ import annotations

import re

#: Words a cleaned short descriptor may keep (compared in upper case).
SAFE_WORDS = frozenset(
    """
    ABDOMEN ABD ACQ ADC AORTA AP ANGIO ANGIOGRAPHY ANKLE ARTERIAL ARM AX AXIAL AXL BODY
    BONE BRAIN BREAST CALCIUM CAP CARDIAC CAROTID CERVICAL CHEST CINE COLON COR CORONAL
    CONTRAST CSPINE CT CTA DELAYED DIFFUSION DWI DX ELBOW ENHANCED EXAM FEMUR FLAIR FOOT
    FOLLOW FOLLOWUP FOREARM FRONTAL FUSED GRE HAND HEAD HEART HIP HIGH HRCT IMAGE IMAGES
    INITIAL KIDNEY KNEE LAT LATERAL LEFT LEG LIVER LOCALIZER LOW LSPINE LUMBAR LUNG LUNGS
    MAMMO MEDIASTINUM MIP MPR MR MRA MRI NECK NM NON NONCON PA PANCREAS PELVIS PERFUSION
    PET PLAIN PORTAL POST PRE PROSTATE PROTOCOL RECON RIGHT ROUTINE SAG SAGITTAL SCOUT
    SEG SEGMENTATION SERIES SHOULDER SINUS SINUSES SKULL SOFT SPINE STANDARD STIR STUDY
    SUMMARY SWI TISSUE THORAX THORACIC TOF TOPOGRAM TRA TRANSVERSE TSE TSPINE UPPER US
    VENOUS VOLUME WB WHOLE WITH WITHOUT WO WRIST XR BASELINE AND OF THE TO W W/O W/ C+ C-
    """.split()
)
_WORD = re.compile(r"[A-Za-z0-9.+/]+")
_CODE = re.compile(r"^[A-Za-z0-9.+]{1,5}$")


def _is_code(word: str) -> bool:
    """A short technical code (T1, I30f, 3D, 2.5): at most 5 characters, with a letter or a
    decimal point, and at most 3 digits. Bare numbers (parts of IDs, phones, dates) are not."""
    digits = sum(c.isdigit() for c in word)
    return (
        bool(_CODE.match(word))
        and 0 < digits <= 3
        and (any(c.isalpha() for c in word) or "." in word.strip("."))
    )


def scrub(text: str, identifying: frozenset[str] = frozenset()) -> str:
    """Keep only the technical words of a short descriptor, separated by single spaces.

    >>> scrub("CT CHEST w/o contrast - DOE JOHN, tel 555-0134, MRN 1234567")
    'CT CHEST w/o contrast'
    >>> scrub("Thorax 2.5 I30f")
    'Thorax 2.5 I30f'
    """
    kept = []
    for word in _WORD.findall(text):
        upper = word.upper()
        if upper in identifying:
            continue
        if upper in SAFE_WORDS:
            kept.append(word)
        elif _is_code(word):
            kept.append(word)
    return " ".join(kept)


def identifying_words(values: list[str]) -> frozenset[str]:
    """The upper-case words of identifying values (names, IDs), to drop from descriptors."""
    words = set()
    for value in values:
        for word in re.split(r"[^A-Za-z0-9]+", value.upper()):
            if len(word) >= 2:
                words.add(word)
    return frozenset(words)
