"""A triage worklist: several studies ordered by the AI's score (or as they came), read in turn.

:class:`Worklist` shows its cases as a reading room's worklist: a thumbnail
per case, an anonymised label (``Case A``, ``Case B``, … in the order the
cases are listed), and, with ``order: ai``, the triage model's score and
flag, the list sorted by it (``order: arrival`` keeps the listed order and
hides the scores). The learner opens a case (a
:class:`~dicomteach.widgets.Viewer` of it) and says whether it is abnormal
or normal. The scores are the models' own, run on each case when the
activity first needs them, and, when a course grades, once for a class
beside the key (:mod:`dicomteach.activities.prepared`): never written by
hand. A radiograph (CR, DX) is scored by
:func:`dicomteach.ai.triage_radiograph`; a CT by its most probable nodule
candidate (:func:`dicomteach.ai.find_nodules`), flagged at 0.5.

The answer file, whose format has its home here, is a log of what the
learner did, in seconds from the first case opened (the kernel's monotonic
clock; a kernel started again goes on from the last event), written on
every event::

    {"version": 1, "activity": "triage", "order": "ai",
     "shown": ["Case C", "Case A", "Case B"],
     "events": [{"t": 0.0, "case": "Case C", "event": "open"},
                {"t": 14.2, "case": "Case C", "event": "abnormal"},
                {"t": 15.0, "case": "Case A", "event": "open"}, …]}

``event`` is ``"open"``, ``"abnormal"`` or ``"normal"``; a case's verdict is
its last. Graded by :func:`dicomteach.grading.grade_worklist`.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.activities.base import Activity, read_answer_or_problem
from dicomteach.activities.spec import SPEC_VERSION, Location, SpecProblem
from dicomteach.grading import Feedback
from dicomteach.grading.worklist import Read, WorklistCase, grade_worklist
from dicomteach.io.atomic import write_atomically
from dicomteach.io.volume import Volume
from dicomteach.roi.answers import read_json_object
from dicomteach.roi.errors import AnswerError

__all__ = [
    "EVENTS",
    "SCORED_MODALITIES",
    "WORKLIST_VERSION",
    "Event",
    "Worklist",
    "WorklistAnswer",
    "case_score",
    "load_worklist_answer",
    "save_worklist_answer",
]

WORKLIST_VERSION = 1
"""Version of the worklist's answer file; files of a later version are refused."""
MAX_WORKLIST_BYTES = 512 * 1024
EVENTS = ("open", "abnormal", "normal")
ORDERS = ("ai", "arrival")
MAX_CASES = 26
THUMBNAIL_PX = 96
"""Height of a case's thumbnail in the worklist (pixels)."""
CT_FLAG = 0.5
"""A CT is flagged when its most probable nodule candidate reaches this (the model's operating point)."""
SCORED_MODALITIES = ("CR", "DX", "CT")
"""The modalities :func:`case_score` scores: radiographs by the triage model, CTs by the nodule model."""


@dataclass(frozen=True)
class Event:
    """One thing the learner did: opened a case, or gave it a verdict, ``t`` seconds in."""

    t: float
    case: str
    event: str


@dataclass
class WorklistAnswer:
    """A worklist's answer file: what was shown, and the log of what the learner did."""

    activity: str
    order: str
    shown: list[str]
    events: list[Event] = field(default_factory=list)

    def reads(self) -> dict[str, Read]:
        """Each case's reading: first opened, its last verdict and when it was given.

        >>> a = WorklistAnswer("w", "ai", ["Case B", "Case A"],
        ...     [Event(0.0, "Case B", "open"), Event(3.0, "Case B", "normal"),
        ...      Event(9.0, "Case B", "abnormal"), Event(12.0, "Case A", "open")])
        >>> a.reads()
        {'Case B': Read(opened=0.0, verdict='abnormal', at=9.0), 'Case A': Read(opened=12.0, verdict=None, at=None)}
        """
        out: dict[str, Read] = {}
        for e in self.events:
            before = out.get(e.case, Read())
            if e.event == "open":
                if before.opened is None:
                    out[e.case] = Read(e.t, before.verdict, before.at)
            else:
                out[e.case] = Read(before.opened, e.event, e.t)
        return out


def save_worklist_answer(path: str | os.PathLike[str], answer: WorklistAnswer) -> Path:
    """Write a worklist's answer, atomically.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "triage.json"
    >>> _ = save_worklist_answer(target, WorklistAnswer("triage", "ai", ["Case A"],
    ...                                                 [Event(0.0, "Case A", "open")]))
    >>> load_worklist_answer(target)
    WorklistAnswer(activity='triage', order='ai', shown=['Case A'], events=[Event(t=0.0, case='Case A', event='open')])
    """
    data = {
        "version": WORKLIST_VERSION,
        "activity": answer.activity,
        "order": answer.order,
        "shown": list(answer.shown),
        "events": [{"t": round(e.t, 3), "case": e.case, "event": e.event} for e in answer.events],
    }
    text = json.dumps(data, ensure_ascii=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def load_worklist_answer(path: str | os.PathLike[str]) -> WorklistAnswer:
    """A worklist's answer file read and checked; :class:`AnswerError`, one line, otherwise."""
    name = os.fspath(path)
    data = read_json_object(name, MAX_WORKLIST_BYTES, "a worklist")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise AnswerError("'version' must be a whole number", name)
    if version > WORKLIST_VERSION:
        raise AnswerError(
            f"version {version} was written by a newer dicomteach (this one reads "
            f"{WORKLIST_VERSION})",
            name,
        )
    activity, order, shown = data.get("activity", ""), data.get("order", ""), data.get("shown")
    if not isinstance(activity, str) or not isinstance(order, str):
        raise AnswerError("'activity' and 'order' must be strings", name)
    if not isinstance(shown, list) or not all(isinstance(s, str) for s in shown):
        raise AnswerError("'shown' must be a list of case labels", name)
    items = data.get("events")
    if not isinstance(items, list):
        raise AnswerError("'events' must be a list", name)
    events = []
    for n, item in enumerate(items):
        try:
            t, case, event = float(item["t"]), item["case"], item["event"]
        except (TypeError, KeyError, ValueError):
            raise AnswerError(f"events[{n}] must have 't', 'case' and 'event'", name) from None
        if not np.isfinite(t) or t < 0:
            raise AnswerError(f"events[{n}].t must be seconds (0 or more), not {t!r}", name)
        if not isinstance(case, str) or case not in shown:
            raise AnswerError(f"events[{n}].case must be one of 'shown', not {case!r:.40}", name)
        if event not in EVENTS:
            raise AnswerError(f"events[{n}].event must be one of {', '.join(EVENTS)}", name)
        events.append(Event(t, case, event))
    return WorklistAnswer(activity, order, list(shown), events)


def case_label(n: int) -> str:
    """The anonymised label of the ``n``-th case listed (from 0).

    >>> case_label(0), case_label(25)
    ('Case A', 'Case Z')
    """
    return f"Case {string.ascii_uppercase[n]}"


_SCORES: dict[tuple, tuple[float, bool]] = {}


def case_score(volume: Volume) -> tuple[float, bool]:
    """The AI's triage score of one study and whether it is flagged.

    A radiograph (CR, DX): :func:`dicomteach.ai.triage_radiograph`. A CT: the
    nodule model's most probable candidate (0 when there is none), flagged at
    :data:`CT_FLAG`. Anything else: :class:`~dicomteach.ai.ModelInputError`,
    one line. Run once per study in a kernel.
    """
    import hashlib

    pixels = np.asarray(volume.pixels)
    sample = hashlib.sha256(np.ascontiguousarray(pixels.ravel()[:: 1 + pixels.size // 4096]))
    key = (volume.series_uid, pixels.shape, volume.modality, sample.hexdigest())
    if key not in _SCORES:
        if volume.modality == "CT":
            from dicomteach.activities.ai_reading import model_candidates
            from dicomteach.ai import find_nodules

            # model_candidates keeps its runs by series: a Volume made in memory has none
            found = model_candidates(volume) if volume.series_uid else find_nodules(volume)
            best = float(found[0].probability) if found else 0.0
            _SCORES[key] = (best, best >= CT_FLAG)
        else:
            from dicomteach.ai import triage_radiograph

            result = triage_radiograph(volume)
            _SCORES[key] = (float(result.score), bool(result.flagged))
    return _SCORES[key]


def thumbnail(volume: Volume, size: int = THUMBNAIL_PX) -> np.ndarray:
    """The study's middle image at its first window, ``size`` pixels high (gray uint8)."""
    from dataclasses import replace

    from PIL import Image

    from dicomteach.imaging import default_window, modality_values, window_to_uint8

    frame = volume.n_frames // 2
    slope, intercept = np.atleast_1d(volume.rescale_slope), np.atleast_1d(volume.rescale_intercept)
    single = replace(
        volume,
        pixels=volume.pixels[frame : frame + 1],
        rescale_slope=slope[frame : frame + 1] if len(slope) > 1 else slope,
        rescale_intercept=intercept[frame : frame + 1] if len(intercept) > 1 else intercept,
    )
    values = modality_values(single)[0]
    if values.ndim == 3:  # colour: its mean
        values = values.mean(axis=-1)
    step = max(1, values.shape[0] // (4 * size))  # average down in whole steps first: cheap
    if step > 1:
        rows, cols = (values.shape[0] // step) * step, (values.shape[1] // step) * step
        values = (
            values[:rows, :cols].reshape(rows // step, step, cols // step, step).mean(axis=(1, 3))
        )
    grey = window_to_uint8(values, default_window(volume), invert=volume.inverted)
    _, row_mm, column_mm = (float(s) or 1.0 for s in volume.spacing)
    width = max(1, round(size * (grey.shape[1] * column_mm) / (grey.shape[0] * row_mm)))
    picture = Image.fromarray(grey, "L").resize((width, size), Image.Resampling.LANCZOS)
    return np.asarray(picture)


class Worklist(Activity):
    """A worklist of studies to triage: open each, say abnormal or normal; graded per case.

    Parameters (beside :class:`~dicomteach.activities.Activity`'s; no ``study``)
    -------------------------------------------------------------------------
    cases : list of paths or sample locations
        The studies, in the order they arrived (2 to 26); each is labelled
        ``Case A``, ``Case B``, … in this order.
    order : ``"ai"`` or ``"arrival"``
        ``ai`` (default): the worklist sorted by the AI's score, highest first,
        with the score and flag shown; ``arrival``: as listed, no scores.
    reference : list of ``"abnormal"`` / ``"normal"``
        The truth of each case, in the order of ``cases``.

    The feedback gives each right verdict ``points / len(cases)`` and reports
    the misses (abnormal cases called normal or never read), the false
    alarms, when and as which case opened the first true positive was
    called, and whether the AI's flagged cases were read first; with a
    picture of the worklist, each verdict coloured, on a timeline.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> w = Worklist("triage", prompt="Read the worklist", cases=["a.dcm", "b.dcm"],
    ...              order="arrival", reference=["normal", "abnormal"], answer=folder / "t.json")
    >>> w.labels, w.order, w.reference
    (['Case A', 'Case B'], 'arrival', [False, True])
    >>> Worklist("triage", prompt="Read", cases=["a.dcm"], reference=["normal"])
    Traceback (most recent call last):
    ...
    ValueError: Argument 'cases' must list 2 to 26 studies, not 1
    """

    kind = "worklist"
    suffix = ".json"
    shows_prompt = True  # the worklist's widget writes it above the table
    own_keys = {"cases", "order"}

    def _study(self, value: Any, base: Path | None) -> Location | None:
        if value is not None:
            raise SpecProblem("study", "is not used by a worklist: list its studies under 'cases'")
        return None

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        cases = options.get("cases")
        if not isinstance(cases, list) or not 2 <= len(cases) <= MAX_CASES:
            size = len(cases) if isinstance(cases, list) else type(cases).__name__
            raise SpecProblem("cases", f"must list 2 to {MAX_CASES} studies, not {size}")
        self.cases = [Location.parse(c, f"cases[{n}]", base) for n, c in enumerate(cases)]
        self.labels = [case_label(n) for n in range(len(self.cases))]
        order = options.get("order", "ai")
        if order not in ORDERS:
            raise SpecProblem("order", f"must be 'ai' or 'arrival', not {order!r:.40}")
        self.order = order
        self._volumes: dict[int, Volume] = {}
        self._case_facts: list[tuple[float, bool, np.ndarray]] | None = None

    def _options_dict(self) -> dict[str, Any]:
        return {"cases": [c.as_yaml() for c in self.cases], "order": self.order}

    def _reference(self, value: Any, base: Path | None) -> list[bool]:
        if (
            not isinstance(value, list)
            or len(value) != len(self.cases)
            or not all(v in ("abnormal", "normal") for v in value)
        ):
            raise SpecProblem(
                "reference",
                f"must say 'abnormal' or 'normal' for each of the {len(self.cases)} cases, in order",
            )
        return [v == "abnormal" for v in value]

    def _reference_dict(self) -> Any:
        return ["abnormal" if v else "normal" for v in self.reference]

    def to_dict(self, *, reference: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": SPEC_VERSION,
            "type": self.kind,
            "name": self.name,
            "prompt": self.prompt,
            "points": self.points,
            **self._options_dict(),
        }
        if reference and self.reference is not None:
            data["reference"] = self._reference_dict()
        return data

    # ------------------------------------------------------------------ the studies

    @property
    def volume(self) -> Volume:
        """The first case (an activity's one image; a worklist has :meth:`case_volume`)."""
        return self.case_volume(0)

    def case_volume(self, n: int) -> Volume:
        """Case ``n``'s image (in the order listed); only the last one asked for is kept."""
        if n not in self._volumes:
            from dicomteach import io

            self._volumes.clear()  # a film is 12 MB: a worklist holds the one being read
            self._volumes[n] = io.load(self.cases[n].resolve())
        return self._volumes[n]

    def _facts(self) -> list[tuple[float, bool, np.ndarray]]:
        """Each case's score, flag and thumbnail, from one reading of each study (kept)."""
        if self._case_facts is None:
            facts = []
            for n in range(len(self.cases)):
                volume = self.case_volume(n)
                facts.append((*case_score(volume), thumbnail(volume)))
            self._case_facts = facts
        return self._case_facts

    def scores(self) -> list[tuple[float, bool]]:
        """The AI's score and flag of each case, in the order listed.

        Those prepared for a class (:mod:`dicomteach.activities.prepared`), else
        the models run on the studies now (once per study in a kernel).
        """
        found = getattr(self, "_prepared_scores", None)
        if found is not None:
            return [(float(s), bool(f)) for s, f in found]
        return [(score, flagged) for score, flagged, _ in self._facts()]

    def thumbnails(self) -> list[np.ndarray]:
        """Each case's thumbnail (gray uint8), in the order listed."""
        found = getattr(self, "_prepared_thumbnails", None)
        if found is not None:
            return list(found)
        return [thumb for _, _, thumb in self._facts()]

    def shown(self, scores: Sequence[tuple[float, bool]] | None = None) -> list[int]:
        """The cases' indices in the order the worklist lists them."""
        if self.order == "arrival":
            return list(range(len(self.cases)))
        scores = self.scores() if scores is None else scores
        return sorted(range(len(self.cases)), key=lambda n: -scores[n][0])  # stable on ties

    # ------------------------------------------------------------------ showing, grading

    def _build_question(self) -> Any:
        from dicomteach.activities.worklist_view import WorklistQuestion

        return WorklistQuestion(self, answer=self.answer_path)

    def answer_for(self, answer: Path) -> WorklistAnswer:
        """The answer file, checked against this worklist (``ValueError`` when it is another's)."""
        found = load_worklist_answer(answer)
        if found.activity and found.activity != self.name:
            raise ValueError(f"it holds the answer of another activity ({found.activity!r})")
        if sorted(found.shown) != sorted(self.labels) or len(set(found.shown)) != len(found.shown):
            raise ValueError("it holds the answer of a worklist with other cases")
        return found

    def _grade(self, answer: Path) -> Feedback:
        found = read_answer_or_problem(answer, self.answer_for, "read the worklist")
        scores = self.scores()
        try:
            thumbs: list[np.ndarray | None] = list(self.thumbnails())
        except Exception:  # a picture never costs the grade
            thumbs = [None] * len(self.cases)
        cases = [
            WorklistCase(label, truth, score, flagged, thumb)
            for label, truth, (score, flagged), thumb in zip(
                self.labels, self.reference, scores, thumbs, strict=True
            )
        ]
        return grade_worklist(
            cases,
            found.reads(),
            [self.labels.index(label) for label in found.shown],  # as the learner saw it
            self.points,
            scores_shown=self.order == "ai",
        )
