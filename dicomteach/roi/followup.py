"""A learner's reading of a baseline and its follow-up, as a small JSON file.

What changed for each finding, and the lines the learner measured on each
date (the longest diameter, as in RECIST), saved on every change beside the
notebook (docs/decisions.md, decision 3). Schema (version 1)::

    {
      "version": 1,
      "activity": "nodule-follow-up",
      "series_uid": "1.2.826…",            # the baseline series
      "followup_series_uid": "1.2.826…",   # the follow-up series
      "changes": {"nodule": "grown"},       # null: not picked yet
      "lines": [
        {
          "date": "followup",
          "image": [[30.9, 140.2, 60.1], [31.1, 141.0, 75.3]],
          "patient_mm": [[-95.1, -12.3, -210.4], [-73.6, -11.2, -210.9]],
          "shown": {"plane": "axial", "slice": 30, "points": [[140.5, 60.5], [141.5, 75.5]],
                    "array": [[30, 140, 60], [30, 141, 75]], "length_mm": 21.0}
        }
      ]
    }

A line's ``image`` holds its two ends in array indices ``(frame, row,
column)`` of *its date's* series (pixel centres whole numbers), which is
what grading measures (docs/decisions.md, decision 30); ``patient_mm`` the
same ends in that series' patient coordinates (LPS), or ``null`` without
geometry. ``shown`` is where the
line was drawn in the :class:`~dicomteach.widgets.Compare` widget, on the
baseline's grid (the follow-up is shown registered onto it), so that the
widget draws it again when it is built again; grading ignores it. Keys
other than these are ignored when reading, so later versions can add some.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomteach.io.atomic import write_atomically
from dicomteach.roi.answers import read_json_object
from dicomteach.roi.errors import AnswerError

__all__ = [
    "DATES",
    "MAX_LINES",
    "READING_VERSION",
    "Line",
    "Reading",
    "load_reading",
    "save_reading",
]

READING_VERSION = 1
"""The schema version written; files of a later version are refused, not misread."""

MAX_READING_BYTES = 256 * 1024
"""A reading is a few kilobytes: a larger file is refused unread (docs/decisions.md, decision 16)."""

MAX_LINES = 100
"""More lines than this is not a reading of a few findings: the file is refused."""

DATES = ("baseline", "followup")
"""The two studies a line can be measured on."""

_MAX_NAME = 200

Ends = tuple[tuple[float, float, float], tuple[float, float, float]]


@dataclass(frozen=True)
class Line:
    """One measured line: its two ends on one date's series."""

    date: str
    """``"baseline"`` or ``"followup"``."""
    image: Ends
    """The ends in array indices ``(frame, row, column)`` of that date's series."""
    patient_mm: Ends | None = None
    """The ends in that series' patient coordinates (LPS, mm), or None without geometry."""
    shown: Mapping[str, Any] = field(default_factory=dict)
    """Where the widget drew it (plane, slice, points, array, length_mm), to draw it again."""


@dataclass
class Reading:
    """What a learner said about a baseline and its follow-up."""

    series_uid: str
    followup_series_uid: str
    changes: dict[str, str | None] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    activity: str = ""

    def as_dict(self) -> dict:
        return {
            "version": READING_VERSION,
            "activity": self.activity,
            "series_uid": self.series_uid,
            "followup_series_uid": self.followup_series_uid,
            "changes": dict(self.changes),
            "lines": [
                {
                    "date": line.date,
                    "image": [[float(x) for x in end] for end in line.image],
                    "patient_mm": None
                    if line.patient_mm is None
                    else [[float(x) for x in end] for end in line.patient_mm],
                    "shown": dict(line.shown) or None,
                }
                for line in self.lines
            ],
        }


def save_reading(reading: Reading, path: str | os.PathLike[str]) -> Path:
    """Write ``reading`` as JSON, atomically: an interrupted save leaves the previous file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "nodule.json"
    >>> line = Line("baseline", ((28.0, 140.0, 62.0), (28.0, 142.0, 73.0)))
    >>> _ = save_reading(Reading("1.2.3", "1.2.4", {"nodule": "grown"}, [line]), target)
    >>> again = load_reading(target)
    >>> again.changes, again.lines[0].date, again.lines[0].image[1]
    ({'nodule': 'grown'}, 'baseline', (28.0, 142.0, 73.0))
    """
    text = json.dumps(reading.as_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ends(value: object, where: str, path: str, size: int = 3) -> tuple:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(end, list) and len(end) == size for end in value)
        or not all(_finite(x) for end in value for x in end)
    ):
        raise AnswerError(
            f"{where} must be two lists of {size} finite numbers, not {value!r:.60}", path
        )
    return tuple(tuple(float(x) for x in end) for end in value)


def _shown(value: object, where: str, path: str) -> dict[str, Any]:
    if value is None or value == {}:
        return {}
    if not isinstance(value, dict):
        raise AnswerError(f"{where} must be an object", path)
    plane, number, length = value.get("plane"), value.get("slice"), value.get("length_mm")
    if not isinstance(plane, str) or len(plane) > 20:
        raise AnswerError(f"{where}.plane must be a plane's name", path)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise AnswerError(f"{where}.slice must be a whole number ≥ 0", path)
    if not _finite(length) or length < 0:  # type: ignore[operator]
        raise AnswerError(f"{where}.length_mm must be a finite number ≥ 0", path)
    return {
        "plane": plane,
        "slice": number,
        "points": [list(p) for p in _ends(value.get("points"), f"{where}.points", path, 2)],
        "array": [list(p) for p in _ends(value.get("array"), f"{where}.array", path)],
        "length_mm": float(length),  # type: ignore[arg-type]
    }


def load_reading(path: str | os.PathLike[str]) -> Reading:
    """Read a file :func:`save_reading` wrote.

    Raises
    ------
    AnswerError
        The file is missing, larger than :data:`MAX_READING_BYTES`, not JSON,
        or not of this schema (one line naming the file and the first problem).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "nodule.json"
    >>> _ = target.write_text('{"version": 1, "series_uid": "1.2", "followup_series_uid": "1.3",'
    ...                       ' "changes": {}, "lines": [{"date": "later", "image": []}]}')
    >>> load_reading(target)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dicomteach.roi.errors.AnswerError: /...nodule.json: lines[0].date must be 'baseline' or 'followup', not 'later'
    """
    name = os.fspath(path)
    data = read_json_object(name, MAX_READING_BYTES, "a reading")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise AnswerError("'version' must be a whole number", name)
    if version > READING_VERSION:
        raise AnswerError(
            f"version {version} was written by a newer dicomteach (this one reads "
            f"{READING_VERSION})",
            name,
        )
    uids = [data.get("series_uid"), data.get("followup_series_uid")]
    for key, uid in zip(("series_uid", "followup_series_uid"), uids, strict=True):
        if not isinstance(uid, str):
            raise AnswerError(f"'{key}' must be a string", name)
    activity = data.get("activity", "")
    if not isinstance(activity, str):
        raise AnswerError("'activity' must be a string", name)
    changes = data.get("changes", {})
    if not isinstance(changes, dict) or len(changes) > MAX_LINES:
        raise AnswerError(f"'changes' must be an object of at most {MAX_LINES} findings", name)
    for finding, change in changes.items():
        if len(finding) > _MAX_NAME or not (
            change is None or (isinstance(change, str) and len(change) <= _MAX_NAME)
        ):
            raise AnswerError(f"changes[{finding[:40]!r}] must be a change's name or null", name)
    items = data.get("lines")
    if not isinstance(items, list):
        raise AnswerError("'lines' must be a list", name)
    if len(items) > MAX_LINES:
        raise AnswerError(f"holds {len(items)} lines; a reading has at most {MAX_LINES}", name)
    lines = []
    for n, item in enumerate(items):
        where = f"lines[{n}]"
        if not isinstance(item, dict):
            raise AnswerError(f"{where} must be an object", name)
        date = item.get("date")
        if date not in DATES:
            raise AnswerError(f"{where}.date must be 'baseline' or 'followup', not {date!r}", name)
        image = _ends(item.get("image"), f"{where}.image", name)
        mm = item.get("patient_mm")
        patient = None if mm is None else _ends(mm, f"{where}.patient_mm", name)
        shown = _shown(item.get("shown"), f"{where}.shown", name)
        lines.append(Line(date, image, patient, shown))
    return Reading(uids[0], uids[1], dict(changes), lines, activity)
