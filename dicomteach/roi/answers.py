"""Learners' clicks and labels as a small JSON file, saved atomically (docs/decisions.md, decision 3).

Schema (version 1)::

    {
      "version": 1,
      "series_uid": "1.2.826.0.1.3680043…",
      "activity": "hotspot-nodule",
      "points": [
        {"label": "nodule", "image": [12, 140.5, 201.0], "patient_mm": [-30.2, 12.9, -210.0]}
      ]
    }

``image`` is ``(frame, row, column)`` in the volume's array indices (a pixel
centre is a whole number); ``patient_mm`` is the same point in patient
coordinates (LPS, mm), or ``null`` when the image has no geometry. Keys other
than these are ignored when reading, so later versions can add some.

A reading made with a second reader (the learner reads, then sees the AI's
marks and may revise) also keeps the points as they were when the learner
asked to see the AI, ``"first_points"`` (same form as ``points``, which hold
the reading as revised); a reader that does not know the key reads the
revised reading, as before.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dicomteach.io.atomic import write_atomically
from dicomteach.io.volume import Volume
from dicomteach.roi.errors import AnswerError

__all__ = [
    "ANSWER_VERSION",
    "Answer",
    "Point",
    "answer_from_points",
    "load_answer",
    "point_at",
    "save_answer",
]

ANSWER_VERSION = 1
"""The schema version written; files of a later version are refused, not misread."""

MAX_ANSWER_BYTES = 1024 * 1024
"""An answer of clicks and labels is a few hundred bytes: a larger file is refused unread
(docs/decisions.md, decision 16)."""


@dataclass(frozen=True)
class Point:
    """One click or dropped label."""

    image: tuple[float, float, float]
    """``(frame, row, column)`` array indices; pixel centres are whole numbers."""
    patient_mm: tuple[float, float, float] | None = None
    """LPS millimetres, or None when the image has no geometry."""
    label: str = ""


@dataclass
class Answer:
    """A learner's clicks and labels on one series."""

    series_uid: str
    points: list[Point] = field(default_factory=list)
    activity: str = ""
    first_points: list[Point] | None = None
    """The reading before a second reader's marks were shown (None: not shown yet, or no
    second reader); :attr:`points` is then the reading as revised."""

    def as_dict(self) -> dict:
        data = {
            "version": ANSWER_VERSION,
            "series_uid": self.series_uid,
            "activity": self.activity,
            "points": _points_list(self.points),
        }
        if self.first_points is not None:
            data["first_points"] = _points_list(self.first_points)
        return data


def _points_list(points: Sequence[Point]) -> list[dict]:
    return [
        {
            "label": p.label,
            "image": [float(x) for x in p.image],
            "patient_mm": None if p.patient_mm is None else [float(x) for x in p.patient_mm],
        }
        for p in points
    ]


def point_at(volume: Volume, frame: float, row: float, column: float, label: str = "") -> Point:
    """A :class:`Point` at array indices of ``volume``, with its patient coordinates.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from dicomteach import io
    >>> vol = io.load(get_testdata_file("CT_small.dcm", download=False))
    >>> point_at(vol, 0, 10, 20, "nodule").patient_mm
    (-144.906443, -172.421117, -75.699997)
    """
    index = (float(frame), float(row), float(column))
    mm = None
    if volume.geometry_known:
        mm = tuple(round(float(x), 6) for x in volume.index_to_lps(index))
    return Point(index, mm, str(label))  # type: ignore[arg-type]


def save_answer(answer: Answer, path: str | os.PathLike[str]) -> Path:
    """Write ``answer`` as JSON, atomically: an interrupted save leaves the previous file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "answer.json"
    >>> _ = save_answer(Answer("1.2.3", [Point((0.0, 4.0, 5.0), None, "apex")]), target)
    >>> load_answer(target).points[0].label
    'apex'
    """
    text = json.dumps(answer.as_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def _numbers(value: object, where: str, path: str) -> tuple[float, float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        or not all(math.isfinite(x) for x in value)
    ):
        raise AnswerError(f"{where} must be a list of 3 finite numbers, not {value!r:.60}", path)
    return tuple(float(x) for x in value)  # type: ignore[return-value]


def read_json_object(path: str | os.PathLike[str], max_bytes: int, what: str) -> dict:
    """The JSON object in an answer file no larger than ``max_bytes``, read without trust.

    A file too large is refused unread; a missing or unreadable file, text that
    is not JSON, JSON nested too deeply or not an object each raise
    :class:`AnswerError` in one line naming the file (``what`` names the
    answer in the size message: "an answer", "a choice").
    """
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        if size > max_bytes:
            raise AnswerError(f"is {size} bytes; {what} is at most {max_bytes}", name)
        with open(name, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise AnswerError(f"cannot read the answer ({exc.strerror or exc})", name) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnswerError(f"not JSON ({exc})", name) from None
    except RecursionError:
        raise AnswerError("not an answer (nested too deeply)", name) from None
    if not isinstance(data, dict):
        raise AnswerError(f"must hold a JSON object, not {type(data).__name__}", name)
    return data


def load_answer(path: str | os.PathLike[str]) -> Answer:
    """Read an answer written by :func:`save_answer`.

    Raises
    ------
    AnswerError
        The file is missing, larger than :data:`MAX_ANSWER_BYTES`, not JSON,
        or not of this schema (one line naming the file and the first problem).
    """
    name = os.fspath(path)
    data = read_json_object(name, MAX_ANSWER_BYTES, "an answer")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise AnswerError("'version' must be a whole number", name)
    if version > ANSWER_VERSION:
        raise AnswerError(
            f"version {version} was written by a newer dicomteach (this one reads {ANSWER_VERSION})",
            name,
        )
    series_uid = data.get("series_uid")
    if not isinstance(series_uid, str):
        raise AnswerError("'series_uid' must be a string", name)
    activity = data.get("activity", "")
    if not isinstance(activity, str):
        raise AnswerError("'activity' must be a string", name)
    points = _read_points(data.get("points"), "points", name)
    first = data.get("first_points")
    first_points = None if first is None else _read_points(first, "first_points", name)
    return Answer(series_uid, points, activity, first_points)


def _read_points(points_data: object, key: str, name: str) -> list[Point]:
    if not isinstance(points_data, list):
        raise AnswerError(f"'{key}' must be a list", name)
    points: list[Point] = []
    for n, item in enumerate(points_data):
        if not isinstance(item, dict):
            raise AnswerError(f"{key}[{n}] must be an object", name)
        label = item.get("label", "")
        if not isinstance(label, str):
            raise AnswerError(f"{key}[{n}].label must be a string", name)
        image = _numbers(item.get("image"), f"{key}[{n}].image", name)
        mm = item.get("patient_mm")
        patient = None if mm is None else _numbers(mm, f"{key}[{n}].patient_mm", name)
        points.append(Point(image, patient, label))
    return points


def answer_from_points(
    volume: Volume, points: Sequence[tuple[float, float, float, str]], activity: str = ""
) -> Answer:
    """An :class:`Answer` on ``volume`` from ``(frame, row, column, label)`` tuples.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from dicomteach import io
    >>> vol = io.load(get_testdata_file("CT_small.dcm", download=False))
    >>> len(answer_from_points(vol, [(0, 10, 20, "nodule")]).points)
    1
    """
    return Answer(volume.series_uid, [point_at(volume, *p) for p in points], activity)
