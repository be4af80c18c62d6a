"""PS3.15 Table E.1-1 as data, and the action it gives an attribute under the chosen options.

The table is ``table_e1_1.csv`` beside this module (provenance in ``README.md``).
"""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources


class Option(enum.Enum):
    """PS3.15 E.3 options dicomteach implements, with their CID 7050 code and table column."""

    RETAIN_MODIFIED_DATES = (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
        "rtnLongModifDatesOpt",
    )
    CLEAN_DESCRIPTORS = ("113105", "Clean Descriptors Option", "cleanDescOpt")
    RETAIN_SAFE_PRIVATE = ("113111", "Retain Safe Private Option", "rtnSafePrivOpt")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def meaning(self) -> str:
        return self.value[1]

    @property
    def column(self) -> str:
        return self.value[2]


#: CID 7050 code of the Basic Application Confidentiality Profile itself.
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
#: CID 7050 code written when the instructor blanked the burned-in text regions.
CLEAN_PIXEL_CODE = ("113101", "Clean Pixel Data Option")
#: Options in the order their column overrides the Basic Profile when two apply.
PRECEDENCE = (Option.RETAIN_MODIFIED_DATES, Option.RETAIN_SAFE_PRIVATE, Option.CLEAN_DESCRIPTORS)


@dataclass(frozen=True)
class Row:
    """One row of Table E.1-1."""

    tag: str
    """``"GGGG,EEEE"``, or a pattern ``"50xx,xxxx"``, ``"60xx,3000"``, ``"gggg,eeee"`` (private)."""
    name: str
    basic: str
    options: dict[str, str]


@cache
def table() -> dict[str, Row]:
    """Every row of Table E.1-1, keyed by tag (``"0010,0010"``) or pattern."""
    text = resources.files(__package__).joinpath("table_e1_1.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    rows = {}
    for rec in csv.DictReader(lines):
        tag, name, basic = rec.pop("tag"), rec.pop("name"), rec.pop("basicProfile")
        rows[tag] = Row(tag, name, basic, {k: v for k, v in rec.items() if v})
    return rows


def row_for(tag: int) -> Row | None:
    """The row of Table E.1-1 that governs ``tag`` (an int ``0xGGGGEEEE``), if any."""
    group, element = tag >> 16, tag & 0xFFFF
    rows = table()
    exact = rows.get(f"{group:04X},{element:04X}")
    if exact is not None:
        return exact
    if group % 2:
        return rows["gggg,eeee"]
    if 0x5000 <= group <= 0x50FF and group % 2 == 0:
        return rows["50xx,xxxx"]
    if 0x6000 <= group <= 0x60FF and group % 2 == 0:
        return rows.get(f"60xx,{element:04X}")
    return None


def resolve(row: Row, options: frozenset[Option], vr: str) -> str:
    """The single action (K, X, Z, D, U or C) for one element under ``options``.

    An option's column, where it has an entry, replaces the Basic Profile action
    (PS3.15 E.3). Compound Basic Profile actions let the implementation choose by
    the attribute's Type; without the IOD at hand dicomteach takes, for
    ``X/Z`` → Z (the element stays, empty: valid for Type 2 and 3), ``X/D``, ``Z/D``
    and ``X/Z/D`` → D (a dummy value: valid even for Type 1), ``X/Z/U*`` → U for a UID
    and Z otherwise.

    >>> resolve(row_for(0x00081030), frozenset({Option.CLEAN_DESCRIPTORS}), "LO")
    'C'
    >>> resolve(row_for(0x00081030), frozenset(), "LO")
    'X'
    >>> resolve(row_for(0x00080023), frozenset(), "DA")
    'D'
    """
    for option in PRECEDENCE:
        if option in options and option.column in row.options:
            return row.options[option.column]
    action = row.basic
    if action in ("K", "X", "Z", "D", "U", "C"):
        return action
    if action == "X/Z":
        return "Z"
    if action in ("X/D", "Z/D", "X/Z/D"):
        return "D"
    if action == "X/Z/U*":
        return "U" if vr in ("UI", "SQ") else "Z"
    raise ValueError(f"Table E.1-1 row {row.tag} has an unknown action '{action}'.")
