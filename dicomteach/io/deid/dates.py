"""Shift DA and DT values by whole days (PS3.15 E.3.6, Modified Dates option).

A shift by whole days leaves every time of day (TM) and every interval as it was,
so TM values need no change; a DT keeps its time and UTC offset.
"""

from __future__ import annotations

import datetime as dt
import re

_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(.*)$")


def shift_da(value: str, days: int) -> str:
    """A DA value (``YYYYMMDD``, or the old ``YYYY.MM.DD``) moved by ``days``.

    Values that are not a full date (empty, partial, malformed) are returned empty:
    they cannot be shifted, and left alone they would leak the original.

    >>> shift_da("20260301", -10)
    '20260219'
    >>> shift_da("junk", -10)
    ''
    """
    text = value.strip().replace(".", "")
    if "-" in text:  # a range query value "A-B": shift both ends
        return "-".join(shift_da(part, days) if part else "" for part in text.split("-", 1))
    try:
        day = dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return ""
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d")


def shift_dt(value: str, days: int) -> str:
    """A DT value (``YYYYMMDDHHMMSS.FFFFFF&ZZXX``, any precision) moved by ``days``.

    >>> shift_dt("20260301093000.5+0100", -1)
    '20260228093000.5+0100'
    >>> shift_dt("2026", -400)
    '2024'
    """
    text = value.strip()
    m = _DT.match(text)
    if not m:
        return ""
    year, month, day, rest = m.groups()
    try:
        base = dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return ""
    moved = base + dt.timedelta(days=days)
    # keep the value's precision: a year stays a year (it is then shifted by whole years' worth)
    if month is None:
        return f"{moved.year:04d}{rest}"
    if day is None:
        return f"{moved.year:04d}{moved.month:02d}{rest}"
    return moved.strftime("%Y%m%d") + rest
