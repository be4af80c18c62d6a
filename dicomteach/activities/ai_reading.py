"""Reading with an AI: ``SecondReader`` (read, see the AI's marks, revise) and ``CritiqueAI``.

Both ask about the marks of the lung nodule model (:func:`dicomteach.ai.find_nodules`),
run on the activity's CT when the activity first needs them: never scripted
marks. A course's grading process keeps them beside the key with the study
(:mod:`dicomteach.activities.prepared`), so the model runs once for a class.
Each mark shown is a candidate at or above ``threshold`` (default the
model's operating point, 0.5, as its evaluation reads it: docs/ai.md), and
it is judged against the activity's reference findings with the evaluation's
own rule (:func:`dicomteach.ai.froc.judge`: its centre in a finding, or within
the finding's radius of its centre). A second mark on a finding lies on it,
and counts as on it here.

* :class:`SecondReader`: a :class:`~dicomteach.activities.Hotspot` whose
  learner clicks the findings, presses "Show me the AI" (the first reading is
  kept in the answer file as it was), sees the AI's marks drawn on the same
  image with their probability, and may revise. Graded by
  :func:`dicomteach.grading.grade_second_reading`: points for the revised
  reading; per change, whether it followed the AI rightly or wrongly.
* :class:`SecondReaderOutline`: the same with a
  :class:`~dicomteach.activities.Delineate` of one structure: the learner
  outlines, presses "Show me the AI" (the first outline is kept in the
  delineation ``.npz``), sees the model's outlines in cyan and may revise;
  graded by :func:`dicomteach.grading.grade_second_outline`.
* :class:`CritiqueAI`: every AI mark as tiles (the slice above, the mark's,
  the slice below); the learner says of each whether it is a finding.
  The answer file, whose format has its home here::

      {"version": 1, "activity": "critique", "series_uid": "1.2…",
       "verdicts": [{"image": [30.9, 283.3, 138.5], "probability": 0.99,
                     "verdict": "true"}, …]}

  ``verdict`` is ``"true"`` (a finding), ``"false"`` (a false positive) or
  ``null``; each entry names its mark by where it is, so that a verdict is
  never given to another mark. Graded by :func:`dicomteach.grading.grade_critique`.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.activities.base import Activity, read_answer_or_problem
from dicomteach.activities.delineate import Delineate
from dicomteach.activities.questions import Hotspot, _checked_answer_or_problem, _regions_dict
from dicomteach.activities.spec import SpecProblem, check_number
from dicomteach.activities.targets import parse_targets, target_masks
from dicomteach.grading import (
    Feedback,
    OtherMark,
    grade_critique,
    grade_second_outline,
    grade_second_reading,
)
from dicomteach.io.atomic import write_atomically
from dicomteach.io.volume import Volume
from dicomteach.roi.answers import read_json_object
from dicomteach.roi.errors import AnswerError

__all__ = [
    "CRITIQUE_VERSION",
    "CritiqueAI",
    "SecondReader",
    "SecondReaderOutline",
    "Verdict",
    "judge_marks",
    "load_verdicts",
    "model_candidates",
    "save_verdicts",
]

OPERATING_POINT = 0.5
"""The probability at which the model's marks are shown (its evaluation's operating point)."""
DEFAULT_CLICKS = 8
"""Markers a second reader's learner may place unless ``clicks`` says: more than the
findings of a teaching CT, so that their number gives nothing away."""
CRITIQUE_VERSION = 1
"""Version of the critique's answer file; files of a later version are refused."""
MAX_CRITIQUE_BYTES = 256 * 1024
SAME_MARK_MM = 3.0
"""A verdict names the mark whose centre is this close (mm) to where it says."""

_MEMO: dict[tuple, list] = {}


def model_candidates(volume: Volume) -> list:
    """The nodule model's candidates on ``volume`` (all of them, most probable first).

    Run once per image in a kernel: two activities on one CT share the run.
    """
    from dicomteach.ai import find_nodules, load_model

    model = load_model()
    key = (volume.series_uid, tuple(volume.pixels.shape), model.description.onnx_sha256)
    if key not in _MEMO:
        if len(_MEMO) >= 4:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = find_nodules(volume, model=model)
    return _MEMO[key]


def judge_marks(
    candidates: Sequence[Any], targets: Mapping[str, np.ndarray], spacing: Sequence[float]
) -> list[OtherMark]:
    """Each candidate as an :class:`~dicomteach.grading.OtherMark`, with the finding it hits.

    The rule of the model's evaluation (:func:`dicomteach.ai.froc.judge`): a
    candidate hits a finding when its centre lies in the finding or within
    its radius (of the sphere of its volume, at least 3 mm) of its centre; a
    second candidate on a finding lies on it too.

    >>> from types import SimpleNamespace as C
    >>> nodule = np.zeros((3, 20, 20), bool); nodule[1, 4:8, 4:8] = True
    >>> marks = judge_marks([C(centre_index=(1.0, 5.5, 5.5), diameter_mm=4.0, probability=0.9),
    ...                      C(centre_index=(1.0, 15.0, 15.0), diameter_mm=3.0, probability=0.6)],
    ...                     {"nodule": nodule}, (1.0, 1.0, 1.0))
    >>> [(m.finding, m.radius_mm) for m in marks]
    [('nodule', 2.0), (None, 1.5)]
    """
    from dicomteach.ai.froc import DUPLICATE, Nodule, judge

    spacing = np.asarray(spacing, float)
    names = list(targets)
    nodules = []
    for mask in targets.values():
        centre = np.argwhere(mask).mean(axis=0) * spacing
        radius = max(float((3 * mask.sum() * spacing.prod() / (4 * np.pi)) ** (1 / 3)), 3.0)
        nodules.append(Nodule(tuple(float(v) for v in centre), radius))  # type: ignore[arg-type]
    centres = np.array([c.centre_index for c in candidates], float).reshape(-1, 3)
    inside = []
    for c in centres:
        index = tuple(int(round(v)) for v in c)
        inside.append(
            [
                all(0 <= i < n for i, n in zip(index, m.shape, strict=True)) and bool(m[index])
                for m in targets.values()
            ]
        )
    verdicts = judge(centres * spacing, [c.probability for c in candidates], nodules, inside)
    out = []
    for c, hit in zip(candidates, verdicts, strict=True):
        finding = None
        if hit == DUPLICATE:  # the nodule nearest it: a second mark on one already hit
            here = np.asarray(c.centre_index, float) * spacing
            finding = names[
                int(np.argmin([np.linalg.norm(here - np.asarray(n.centre_mm)) for n in nodules]))
            ]
        elif hit is not None:
            finding = names[hit]
        out.append(
            OtherMark(
                tuple(float(v) for v in c.centre_index),  # type: ignore[arg-type]
                float(c.diameter_mm) / 2.0,
                float(c.probability),
                finding,
            )
        )
    return out


def _threshold(options: Mapping[str, Any]) -> float:
    value = check_number(options.get("threshold", OPERATING_POINT), "threshold", positive=True)
    if value > 1:
        raise SpecProblem("threshold", f"is a probability, at most 1, not {value:g}")
    return value


class _ModelMarks:
    """What both activities share: the model's marks on the study, shown and judged."""

    threshold: float
    volume: Volume

    def candidates(self) -> list:
        """The model's candidates at or above ``threshold``, most probable first.

        Those prepared for a class (:mod:`dicomteach.activities.prepared`), else
        the model run on the study now (once per kernel).
        """
        found = getattr(self, "_prepared_candidates", None)
        if found is None:
            found = model_candidates(self.volume)
        return [c for c in found if c.probability >= self.threshold]

    def ai_marks(self) -> list[dict]:
        """The candidates as the question widget draws them (``Hotspot.ai_marks``)."""
        out = []
        for c in self.candidates():
            box = [[b.start, b.stop - 1] for b in c.box]
            out.append(
                {
                    "image": [round(float(v), 3) for v in c.centre_index],
                    "box": box,
                    "radius_mm": round(float(c.diameter_mm) / 2, 2),
                    "text": f"AI {100 * c.probability:.0f} %",
                }
            )
        return out

    def _judged(self, targets: Mapping[str, np.ndarray]) -> list[OtherMark]:
        return judge_marks(self.candidates(), targets, self.volume.spacing)

    def show_ai(self) -> int:
        """What "Show me the AI" does: keep the first reading, then draw the AI's."""
        raise NotImplementedError

    def _ai_shown(self) -> bool:
        raise NotImplementedError

    def _shown_text(self, n: int) -> str:
        raise NotImplementedError

    def _beside_question(self) -> list[Any]:
        """The "Show me the AI" button and what it did, under the question."""
        import ipywidgets

        button = ipywidgets.Button(
            description="Show me the AI",
            tooltip="Keep your reading as it is, then see the AI's (you may revise after)",
            disabled=self._ai_shown(),
        )
        button.add_class("dt-second-reader-show")
        status = ipywidgets.HTML()
        status.add_class("dt-second-reader-status")

        def say(text: str, error: bool = False) -> None:
            colour = "#b00020" if error else "inherit"
            status.value = f'<small style="color:{colour}">{html.escape(text)}</small>'

        if self._ai_shown():
            say(self._shown_text(len(self.candidates())))
        else:
            say("Read the image first. Then ask for the AI's reading.")

        def clicked(_button: Any) -> None:
            button.disabled = True
            try:
                n = self.show_ai()
            except Exception as exc:  # the learner's reading is saved; only the AI's is missing
                button.disabled = False
                say(f"The AI's reading could not be shown: {exc}", error=True)
                return
            say(self._shown_text(n))

        button.on_click(clicked)
        return [ipywidgets.HBox([button, status])]

    def _picture(self) -> dict[str, Any]:
        from dicomteach.imaging import default_window

        window = self._first_window() or default_window(self.volume)  # type: ignore[attr-defined]
        return {"image": _SliceValues(self.volume), "window": window}


class _SliceValues:
    """A CT's modality values, one slice at a time as a picture asks for them (``[k, rows,
    cols]``): a tile never needs the whole volume in floats."""

    def __init__(self, volume: Volume) -> None:
        self.volume = volume
        self.shape = tuple(volume.pixels.shape[:3])

    def __getitem__(self, key: tuple) -> np.ndarray:
        from dicomteach.imaging import apply_modality_lut

        k, *rest = key
        volume = self.volume
        stored = np.asarray(volume.pixels[k])
        if volume.modality_lut is not None:
            values = apply_modality_lut(stored, lut=volume.modality_lut)
        else:
            slope, intercept = (
                np.atleast_1d(np.asarray(a, dtype=np.float64))
                for a in (volume.rescale_slope, volume.rescale_intercept)
            )
            values = apply_modality_lut(
                stored,
                slope=slope[k] if slope.size > 1 else slope[0],
                intercept=intercept[k] if intercept.size > 1 else intercept[0],
            )
        return values[tuple(rest)]


class SecondReader(_ModelMarks, Hotspot):
    """Read first, then see the AI's marks and revise; both readings are graded.

    A :class:`~dicomteach.activities.Hotspot` (its ``reference``,
    ``tolerance_mm``, ``clicks``, default :data:`DEFAULT_CLICKS`, and
    ``penalty_per_extra_click``) with "Show me the AI" under the image:
    pressing it keeps the reading as it is (``first_points`` in the answer
    file) and draws the model's marks at or above ``threshold`` (default
    0.5) as cyan squares with their probability. Points are the revised
    reading's; the feedback names each change and whether it followed the AI
    rightly or wrongly, with tiles of each place (your first reading, after
    the AI, the AI's marks, the reference).

    Examples
    --------
    Before "Show me the AI", nothing of the AI's reaches the widget (the model
    runs when they are asked for: docs/ai.md shows a whole reading):

    >>> import tempfile, pathlib
    >>> from dicomteach.io.volume import Volume
    >>> ct = Volume(np.full((3, 40, 40), -800, np.int16), (2.5, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...             np.eye(3), modality="CT")
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> reader = SecondReader("reader", ct, prompt="Click each nodule", answer=folder / "r.json",
    ...                       reference={"nodule": {"point": [20, 20], "slice": 2, "radius_mm": 4}})
    >>> reader.max_clicks, reader.question.ai_marks, reader.question.first_marks
    (8, [], None)
    """

    kind = "second-reader"
    own_keys = Hotspot.own_keys | {"threshold"}

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        super()._options({k: v for k, v in options.items() if k != "threshold"}, base)
        self.threshold = _threshold(options)

    def _options_dict(self) -> dict[str, Any]:
        out = super()._options_dict()
        if self.threshold != OPERATING_POINT:
            out["threshold"] = self.threshold
        return out

    @property
    def max_clicks(self) -> int:
        return self.clicks if self.clicks is not None else DEFAULT_CLICKS

    def _build_question(self) -> Any:
        question = super()._build_question()
        question.side_title = "Your reading"
        if question.first_marks is not None:  # read back: the AI was shown already
            question.ai_marks = self.ai_marks()
        return question

    def show_ai(self) -> int:
        """What "Show me the AI" does: keep the first reading, draw the AI's marks.

        Returns how many marks were drawn.
        """
        question = self.question
        question.keep_first_reading()
        question.ai_marks = self.ai_marks()
        return len(question.ai_marks)

    def _ai_shown(self) -> bool:
        return self.question.first_marks is not None

    def _shown_text(self, n: int) -> str:
        return (
            f"The AI's {n} mark{'s' if n != 1 else ''} at {100 * self.threshold:.0f} % or "
            "more are drawn as cyan squares with its probability. Your first reading is "
            "kept; revise it if you wish."
            if n
            else "The AI marked nothing here. Your first reading is kept; revise it if you wish."
        )

    def _grade(self, answer: Path) -> Feedback:
        answer = _checked_answer_or_problem(answer, "click")
        volume = self.volume
        targets = target_masks(self.reference, volume)
        return grade_second_reading(
            answer,
            targets,
            self._judged(targets),
            volume.spacing,
            self.points,
            self.tolerance_mm,
            direction=volume.direction if volume.geometry_known else None,
            max_clicks=self.max_clicks,
            penalty_per_extra_click=self.penalty_per_extra_click,
            **self._picture(),
        )


class SecondReaderOutline(_ModelMarks, Delineate):
    """Outline first, then see the AI's outline and revise; both outlines are graded.

    A :class:`~dicomteach.activities.Delineate` of one structure (its
    ``reference``, ``reference_structure``, ``full_marks``, ``tolerance_mm``)
    with "Show me the AI" under it: pressing it keeps the outline as it is
    (``first_mask`` in the delineation ``.npz``) and draws the model's
    outlines of its marks at or above ``threshold`` in cyan. Points are the
    revised outline's (:func:`~dicomteach.grading.grade_delineation`); the
    feedback says whether the change went towards the AI's outline of the
    structure and whether that was right
    (:func:`~dicomteach.grading.grade_second_outline`), with the four outlines.
    """

    kind = "second-reader-outline"
    own_keys = (Delineate.own_keys - {"experts"}) | {"threshold"}

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        super()._options({k: v for k, v in options.items() if k != "threshold"}, base)
        if len(self.structures) != 1:
            raise SpecProblem("structures", "must name one structure: the one read with the AI")
        self.threshold = _threshold(options)

    def _options_dict(self) -> dict[str, Any]:
        out = super()._options_dict()
        if self.threshold != OPERATING_POINT:
            out["threshold"] = self.threshold
        return out

    def ai_outline(self) -> np.ndarray:
        """The model's outlines of its marks at or above ``threshold``, as one mask on the CT."""
        shape = tuple(self.volume.pixels.shape[:3])
        out = np.zeros(shape, bool)
        for c in self.candidates():
            out[c.box] |= c.mask
        return out

    def _build_question(self) -> Any:
        question = super()._build_question()
        if question.first_labels is not None:  # read back: the AI was shown already
            question.set_other_reader({"AI": self.ai_outline()})
        return question

    def show_ai(self) -> int:
        question = self.question
        question.keep_first_outline()
        question.set_other_reader({"AI": self.ai_outline()})
        return len(self.candidates())

    def _ai_shown(self) -> bool:
        return self.question.first_labels is not None

    def _shown_text(self, n: int) -> str:
        return (
            f"The AI's outline{'s' if n != 1 else ''} of its {n} mark{'s' if n != 1 else ''} "
            "are drawn in cyan. Your first outline is kept; revise it if you wish."
            if n
            else "The AI outlined nothing here. Your first outline is kept; revise it if you wish."
        )

    def _grade(self, answer: Path) -> Feedback:
        from dicomteach.roi import load_delineation

        final = super()._grade(answer)
        if final.status != "graded":
            return final
        name = self.structures[0]
        drawn = self._drawn_structures(answer)
        if drawn is None:
            return final
        found = load_delineation(answer, shape=tuple(self.volume.pixels.shape[:3]))
        names = [n.casefold() for n in found.names]
        first = None
        if found.first_mask is not None:
            value = names.index(name.casefold()) + 1 if name.casefold() in names else 1
            first = np.asarray(found.first_mask) == value
        reference = self._reference_mask()
        marks = self._judged({name: reference})
        shown = self.candidates()
        ai = np.zeros(reference.shape, bool)
        for c, m in zip(shown, marks, strict=True):
            if m.finding is not None:
                ai[c.box] |= c.mask
        return grade_second_outline(
            final,
            first,
            drawn[name],
            ai if ai.any() else None,
            reference,
            self.volume.spacing,
            **self._picture(),
        )

    def _reference_mask(self) -> np.ndarray:
        """The reference's mask of the structure (by ``reference_structure``, else its name,
        else the file's only one)."""
        masks = getattr(self, "_prepared_reference", None)
        if masks is not None:
            by_name = {masks.names.get(n, str(n)): m for n, m in masks.masks.items()}
        else:
            by_name = self._reference_masks()
        wanted = (self.reference_structure or self.structures[0]).casefold()
        for found, mask in by_name.items():
            if found.casefold() == wanted:
                return np.asarray(mask, bool)
        if len(by_name) == 1:
            return np.asarray(next(iter(by_name.values())), bool)
        raise ValueError(f"the reference has no structure {wanted!r}")


# ---------------------------------------------------------------------- the critique's answer


@dataclass(frozen=True)
class Verdict:
    """The learner's verdict on one AI mark: where the mark is, and ``"true"``, ``"false"`` or None."""

    image: tuple[float, float, float]
    probability: float
    verdict: str | None


def save_verdicts(
    path: str | os.PathLike[str], activity: str, series_uid: str, verdicts: Sequence[Verdict]
) -> Path:
    """Write a critique's answer, atomically.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "critique.json"
    >>> _ = save_verdicts(target, "critique", "1.2.3", [Verdict((1.0, 2.0, 3.0), 0.9, "false")])
    >>> load_verdicts(target)
    ('critique', '1.2.3', [Verdict(image=(1.0, 2.0, 3.0), probability=0.9, verdict='false')])
    """
    data = {
        "version": CRITIQUE_VERSION,
        "activity": activity,
        "series_uid": series_uid,
        "verdicts": [
            {"image": list(v.image), "probability": v.probability, "verdict": v.verdict}
            for v in verdicts
        ],
    }
    text = json.dumps(data, ensure_ascii=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def load_verdicts(path: str | os.PathLike[str]) -> tuple[str, str, list[Verdict]]:
    """``(activity, series_uid, verdicts)`` of a critique's answer; :class:`AnswerError` otherwise."""
    name = os.fspath(path)
    data = read_json_object(name, MAX_CRITIQUE_BYTES, "a critique")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise AnswerError("'version' must be a whole number", name)
    if version > CRITIQUE_VERSION:
        raise AnswerError(
            f"version {version} was written by a newer dicomteach (this one reads "
            f"{CRITIQUE_VERSION})",
            name,
        )
    activity, series = data.get("activity", ""), data.get("series_uid", "")
    items = data.get("verdicts")
    if not isinstance(activity, str) or not isinstance(series, str):
        raise AnswerError("'activity' and 'series_uid' must be strings", name)
    if not isinstance(items, list):
        raise AnswerError("'verdicts' must be a list", name)
    out = []
    for n, item in enumerate(items):
        try:
            image = tuple(float(v) for v in item["image"])
            probability = float(item.get("probability", 0.0))
            verdict = item.get("verdict")
        except (TypeError, KeyError, ValueError, AttributeError):
            raise AnswerError(f"verdicts[{n}] must have an 'image' of 3 numbers", name) from None
        if len(image) != 3 or not all(np.isfinite(image)):
            raise AnswerError(f"verdicts[{n}].image must be 3 finite numbers", name)
        if verdict not in (None, "true", "false"):
            raise AnswerError(f"verdicts[{n}].verdict must be 'true', 'false' or null", name)
        out.append(Verdict(image, probability, verdict))  # type: ignore[arg-type]
    return activity, series, out


class CritiqueAI(_ModelMarks, Activity):
    """Say of each of the AI's marks whether it is a finding; each right verdict earns its share.

    The marks are the model's at or above ``threshold`` (default 0.5), each
    shown with the slice above and below; ``reference`` is a file of
    structures or named regions (:mod:`dicomteach.activities.targets`), the
    findings; a mark is a finding when it hits one by the model
    evaluation's rule (:func:`judge_marks`). The feedback shows the tiles of
    the marks judged wrongly.
    """

    kind = "critique-ai"
    suffix = ".json"
    shows_prompt = False
    own_keys = {"threshold"}

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        self.threshold = _threshold(options)

    def _options_dict(self) -> dict[str, Any]:
        return {} if self.threshold == OPERATING_POINT else {"threshold": self.threshold}

    def _reference(self, value: Any, base: Path | None) -> Any:
        return parse_targets(value, "reference", base)

    def _reference_dict(self) -> Any:
        return _regions_dict(self.reference)

    def _beside_question(self) -> list[Any]:
        return []  # the AI's marks are the question: no "Show me the AI" under it

    def _build_question(self) -> Any:
        from dicomteach.activities.critique_view import CritiqueQuestion

        return CritiqueQuestion(self, answer=self.answer_path)

    def verdicts_for(self, answer: Path) -> list[str | None]:
        """The learner's verdict on each mark shown (None: none), matched by where it is."""
        activity, series, verdicts = load_verdicts(answer)
        if activity and activity != self.name:
            raise ValueError(f"it holds the answer of another activity ({activity!r})")
        if series and series != self.volume.series_uid:
            raise ValueError("it holds verdicts on another series")
        spacing = np.asarray(self.volume.spacing, float)
        out: list[str | None] = []
        for c in self.candidates():
            here = np.asarray(c.centre_index, float) * spacing
            near = [
                v
                for v in verdicts
                if np.linalg.norm(np.asarray(v.image) * spacing - here) <= SAME_MARK_MM
            ]
            out.append(near[0].verdict if near else None)
        return out

    def _grade(self, answer: Path) -> Feedback:
        verdicts = read_answer_or_problem(answer, self.verdicts_for, "judge the AI's marks")
        targets = target_masks(self.reference, self.volume)
        picture = self._picture()
        return grade_critique(
            verdicts,
            self._judged(targets),
            self.points,
            spacing_mm=self.volume.spacing,
            **picture,
        )
