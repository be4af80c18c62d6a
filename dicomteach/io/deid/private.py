"""Retain Safe Private (PS3.15 E.3.10): the few private attributes dicomteach keeps.

A private attribute is kept only when its private creator, group and element
offset are listed here *and* its value is numeric (the listed VR, or bytes of a
length that VR allows). Everything else private is removed. The list is short on
purpose: scaling and diffusion-encoding values that change what the pixels mean,
documented by the vendors' conformance statements and read by common converters;
nothing textual (no Siemens CSA headers, no GE/Philips free-text blocks).
"""

from __future__ import annotations

#: (private creator, group, element offset) → (VR, what it is).
SAFE_PRIVATE: dict[tuple[str, int, int], tuple[str, str]] = {
    ("SIEMENS MR HEADER", 0x0019, 0x0A): ("US", "Number of images in mosaic"),
    ("SIEMENS MR HEADER", 0x0019, 0x0B): ("DS", "Slice measurement duration"),
    ("SIEMENS MR HEADER", 0x0019, 0x0C): ("IS", "Diffusion b-value"),
    ("SIEMENS MR HEADER", 0x0019, 0x0E): ("FD", "Diffusion gradient direction"),
    ("GEMS_PARM_01", 0x0043, 0x39): ("IS", "Slop_int_6..9: b-value first"),
    ("GEMS_ACQU_01", 0x0019, 0xBB): ("DS", "Diffusion direction X"),
    ("GEMS_ACQU_01", 0x0019, 0xBC): ("DS", "Diffusion direction Y"),
    ("GEMS_ACQU_01", 0x0019, 0xBD): ("DS", "Diffusion direction Z"),
    ("Philips MR Imaging DD 001", 0x2005, 0x0D): ("FL", "MR scale intercept"),
    ("Philips MR Imaging DD 001", 0x2005, 0x0E): ("FL", "MR scale slope"),
    ("Philips Imaging DD 001", 0x2001, 0x03): ("FL", "Diffusion b-factor"),
    ("Philips PET Private Group", 0x7053, 0x00): ("DS", "SUV scale factor"),
    ("Philips PET Private Group", 0x7053, 0x09): ("DS", "Activity concentration scale factor"),
}
_NUMERIC_TEXT = ("DS", "IS")
_BINARY_SIZE = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8}


def safe_private_vr(creator: str, tag: int, vr: str, value: object) -> str | None:
    """The VR to keep a private element with, or None to remove it.

    >>> safe_private_vr("Philips MR Imaging DD 001", 0x2005100E, "FL", 1.5)
    'FL'
    >>> safe_private_vr("ACME HOSPITAL", 0x00091010, "LO", "DOE^JOHN") is None
    True
    """
    group, offset = tag >> 16, tag & 0xFF
    entry = SAFE_PRIVATE.get((creator.strip(), group, offset))
    if entry is None:
        return None
    want = entry[0]
    if vr == "UN" or isinstance(value, bytes):
        raw = value if isinstance(value, bytes) else b""
        if want in _BINARY_SIZE and raw and len(raw) % _BINARY_SIZE[want] == 0:
            return want
        if want in _NUMERIC_TEXT and raw and _numbers(raw.decode("ascii", "replace")):
            return want
        return None
    if vr in _BINARY_SIZE:
        return vr if vr == want or want in _BINARY_SIZE else None
    if vr in _NUMERIC_TEXT or vr in ("LO", "SH"):
        many = not isinstance(value, str) and hasattr(value, "__iter__")
        text = "\\".join(str(v) for v in value) if many else str(value)
        return vr if _numbers(text) else None
    return None


def _numbers(text: str) -> bool:
    parts = [p.strip() for p in text.strip(" \0").split("\\")]
    try:
        for p in parts:
            float(p)
    except ValueError:
        return False
    return bool(parts)
