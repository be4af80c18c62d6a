"""Question widgets: ``Hotspot`` (click the finding) and ``LabelDrop`` (drag names onto anatomy).

The learner answers on the image with the Viewer's habits (wheel scrolls,
right-drag zooms, middle- or shift-drag pans, W/L from its button or the preset
keys); the left button is the answer tool. Every change is written at once, atomically,
as the JSON answer of :mod:`dicomteach.roi.answers` in a file beside the
notebook, and that file is read back when the widget is built again (a kernel
restart, a re-run, an autograde), so a learner's work is never lost
(docs/decisions.md, decision 3). A file the widget cannot show as it is (another
series or activity, unreadable, more points than allowed) is moved aside
with a warning, never overwritten.

In the browser the markers live in ``marks`` (``{"image": [frame, row, col],
"label": str}``, array indices, pixel centres whole numbers); Python checks
each change, computes the patient coordinates and saves.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import traitlets

from dicomteach.io.volume import Volume, Window
from dicomteach.roi.answers import Answer, Point, load_answer, point_at, save_answer
from dicomteach.roi.errors import AnswerError
from dicomteach.widgets._answers import AnswerFileMovedWarning, answer_path, move_aside
from dicomteach.widgets._base import ImageWidget, bundle, bundle_css, label_palette

__all__ = ["AnswerFileMovedWarning", "Hotspot", "LabelDrop"]

log = logging.getLogger(__name__)

_DIGITS = 3
"""Decimals kept of array coordinates (a thousandth of a pixel; the browser rounds alike)."""


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"Argument '{name}' must be a string, not {type(value).__name__}")
    return value


def _check_count(value: object, name: str, allow_none: bool = False) -> int:
    if value is None and allow_none:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        what = "a whole number of at least 1" + (" or None" if allow_none else "")
        raise ValueError(f"Argument '{name}' must be {what}, not {value!r}")
    return int(value)


def _check_labels(labels: object) -> list[str]:
    if isinstance(labels, str) or not isinstance(labels, Sequence) or not labels:
        raise ValueError(f"Argument 'labels' must be a non-empty list of names, not {labels!r:.60}")
    names: list[str] = []
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"Argument 'labels' must hold non-empty strings, not {label!r:.40}")
        name = " ".join(label.split())
        if name.casefold() in (n.casefold() for n in names):
            raise ValueError(f"Argument 'labels' holds {name!r} twice")
        names.append(name)
    return names


class _Question(ImageWidget):
    """An image with an answer made of points, saved to a JSON file on every change."""

    _esm = bundle("questions.js")
    _css = bundle_css("questions.css")

    question = traitlets.Unicode("").tag(sync=True)
    """``"hotspot"`` or ``"labels"``: which answer tool the browser shows."""
    prompt = traitlets.Unicode("").tag(sync=True)
    marks = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The learner's points: ``{"image": [frame, row, col], "label": str}``."""
    answer_name = traitlets.Unicode("").tag(sync=True)
    save_state = traitlets.Dict().tag(sync=True)
    """``{"n": saves so far, "message": str, "error": str}``, shown under the image."""
    notice = traitlets.Unicode("").tag(sync=True)
    """A warning for the learner, e.g. that an old answer file was moved aside."""
    side_title = traitlets.Unicode("Your answer").tag(sync=True)
    """The title over the list of markers (an instructor placing a key reads "The key")."""
    radius_mm = traitlets.Float(0.0, min=0.0).tag(sync=True)
    """When above 0, each marker also shows a dashed circle of this radius (mm, in the
    image plane): how far from it a click still counts, as an instructor sets a key."""

    _TOOL = ""

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None,
        *,
        prompt: str,
        answer: str | os.PathLike[str],
        activity: str,
        window: Window | None,
        frame: int | None,
        plane: str | None,
        **kwargs: Any,
    ) -> None:
        prompt = _check_text(prompt, "prompt")
        activity = _check_text(activity, "activity")
        path = cast(Path, answer_path(answer, ".json"))
        super().__init__(
            tools=[self._TOOL, "wl", "pan", "zoom"], tool=self._TOOL, prompt=prompt, **kwargs
        )
        self.activity = activity
        self.answer_path = path
        self._saves = 0
        self._normalising = False
        self._show_volume(volume_or_path, window=window, frame=frame, plane=plane)
        with self.hold_sync():
            self.answer_name = path.name
            if self.volume is not None:
                self._load_existing()
                if frame is None and self.marks:
                    # a loaded answer opens where it is, not on a slice without it
                    self.position = [int(round(v)) for v in self.marks[0]["image"]]
        self.observe(self._on_marks, "marks")

    # ------------------------------------------------------------------ python API

    @property
    def answer(self) -> Answer:
        """The learner's answer now, as saved in :attr:`answer_path`."""
        if self.volume is None:
            return Answer("", [], self.activity)
        points = [point_at(self.volume, *m["image"], m.get("label", "")) for m in self.marks]
        first = getattr(self, "first_marks", None)
        first_points = (
            None
            if first is None
            else [point_at(self.volume, *m["image"], m.get("label", "")) for m in first]
        )
        return Answer(self.volume.series_uid, points, self.activity, first_points)

    @property
    def points(self) -> list[Point]:
        """The learner's points (image indices and patient mm)."""
        return self.answer.points

    answer_trait = "marks"
    """The trait that changes with the answer (what :class:`CheckAnswer` watches)."""

    @property
    def answered(self) -> bool:
        """True once the learner has put at least one point."""
        return bool(self.marks)

    def clear(self) -> None:
        """Remove every point (and save the empty answer)."""
        self.marks = []

    # ------------------------------------------------------------------ checks

    def _clean(self, marks: list) -> list[dict]:
        """Marks as the browser should send them: known keys, inside the image, rounded."""
        out = []
        bounds = [n - 1 for n in self.shape]
        for mark in marks:
            if not isinstance(mark, dict):
                continue
            image = mark.get("image")
            try:
                values = [float(v) for v in image]  # type: ignore[union-attr]
            except (TypeError, ValueError):
                continue
            if len(values) != 3 or not all(np.isfinite(values)):
                continue
            values = [
                round(min(max(v, 0.0), hi), _DIGITS) + 0.0
                for v, hi in zip(values, bounds, strict=True)
            ]
            label = mark.get("label", "")
            out.append({"image": values, "label": label if isinstance(label, str) else ""})
        return self._limit(out)

    def _limit(self, marks: list[dict]) -> list[dict]:
        return marks

    def _mismatch(self, answer: Answer) -> str | None:
        """Why a loaded answer cannot be shown as it is, or None."""
        assert self.volume is not None
        if answer.series_uid != self.volume.series_uid:
            return f"it holds an answer on another series ({answer.series_uid or 'no UID'})"
        if answer.activity and self.activity and answer.activity != self.activity:
            return f"it holds the answer of another activity ({answer.activity!r})"
        bounds = np.array(self.shape) - 0.5
        for p in [*answer.points, *(answer.first_points or [])]:
            if not np.all((np.array(p.image) >= -0.5) & (np.array(p.image) <= bounds)):
                return "it holds points outside this image"
        return None

    # ------------------------------------------------------------------ the file

    def _load_existing(self) -> None:
        path = self.answer_path
        if not path.exists():
            return
        try:
            answer = load_answer(path)
        except AnswerError as exc:
            reason = f"it could not be read ({exc.problem})"
        else:
            reason = self._mismatch(answer)
            if reason is None:
                self.marks = self._clean(
                    [{"image": list(p.image), "label": p.label} for p in answer.points]
                )
                if answer.first_points is not None:
                    self.first_marks = self._clean(
                        [{"image": list(p.image), "label": p.label} for p in answer.first_points]
                    )
                n = len(self.marks)
                self.save_state = {
                    "n": 0,
                    "message": f"Your answer was loaded from {path.name} ({n} point"
                    + ("" if n == 1 else "s")
                    + ").",
                    "error": "",
                }
                return
        moved = move_aside(path, reason, stacklevel=4)  # warned at the learner's cell
        log.warning("%s", moved.notice)
        self.answer_path = moved.answer
        self.answer_name = moved.answer.name
        self.notice = moved.notice

    def _on_marks(self, change: dict) -> None:
        if self._normalising:
            return
        clean = self._clean(change["new"])
        if clean != change["new"]:
            self._normalising = True
            try:
                self.marks = clean
            finally:
                self._normalising = False
        self._save()

    def _save(self) -> None:
        if self.volume is None:
            return
        self._saves += 1
        name = self.answer_path.name
        try:
            save_answer(self.answer, self.answer_path)
        except OSError as exc:
            error = f"Your answer could not be saved in {name} ({exc.strerror or exc})."
            log.warning("%s", error)
            self.save_state = {"n": self._saves, "message": "", "error": error}
            return
        self.save_state = {
            "n": self._saves,
            "message": f"Saved in {name} at {time.strftime('%H:%M:%S')}.",
            "error": "",
        }


class Hotspot(_Question):
    """Click where the finding is: a marker appears, and its position is the answer.

    With ``max_points=1`` a second click moves the marker; with more, each click
    adds one until there are ``max_points``. Markers can be dragged, moved with
    the arrow keys once selected (in the list or by clicking them), and removed
    with their button or the Delete key; Enter puts one at the mouse or, with
    no mouse over the image, at its centre. The answer is saved to ``answer``
    (beside the notebook) on every change, and read back from it when the
    widget is built again; grade it with :func:`dicomteach.grading.grade_click`.

    Parameters
    ----------
    volume_or_path : Volume, path or None
        The image (see :class:`~dicomteach.widgets.Viewer`).
    prompt : str
        The question, shown above the image.
    answer : path
        The ``.json`` answer file, relative to the notebook's folder.
    max_points : int
        How many markers the learner may place.
    activity : str
        Written into the answer; a file of another activity is moved aside.
    window, frame, plane
        The first window, acquired slice and plane, as for the Viewer.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from dicomteach.io.volume import Volume
    >>> vol = Volume(np.zeros((3, 8, 8), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "hotspot.json"
    >>> spot = Hotspot(vol, prompt="Click the nodule", answer=path)
    >>> spot.marks = [{"image": [1, 2, 5], "label": ""}]  # what a click in the browser does
    >>> spot.points[0].image, spot.points[0].patient_mm
    ((1.0, 2.0, 5.0), (2.0, 2.0, 5.0))
    >>> Hotspot(vol, answer=path).points[0].image  # built again: read back from the file
    (1.0, 2.0, 5.0)
    """

    _TOOL = "hotspot"

    max_points = traitlets.Int(1).tag(sync=True)
    first_marks = traitlets.List(traitlets.Dict(), default_value=None, allow_none=True)
    """The reading as it was when the learner asked to see a second reader's marks
    (:meth:`keep_first_reading`), saved in the answer as ``first_points``; None before."""
    ai_marks = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Another reader's marks drawn beside the learner's, never part of the answer:
    ``{"image": [frame, row, col], "box": [[f0, f1], [r0, r1], [c0, c1]], "radius_mm": r,
    "text": "AI 97 %"}`` (array indices, ``box`` the slices, rows and columns it covers,
    ends included). Empty until they are given: nothing of them reaches the browser before."""

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None,
        *,
        prompt: str = "Click the nodule",
        answer: str | os.PathLike[str] = "hotspot.json",
        max_points: int = 1,
        activity: str = "",
        window: Window | None = None,
        frame: int | None = None,
        plane: str | None = None,
        **kwargs: Any,
    ) -> None:
        count = _check_count(max_points, "max_points")
        super().__init__(
            volume_or_path,
            prompt=prompt,
            answer=answer,
            activity=activity,
            window=window,
            frame=frame,
            plane=plane,
            question="hotspot",
            max_points=count,
            **kwargs,
        )

    def _limit(self, marks: list[dict]) -> list[dict]:
        return [{**m, "label": ""} for m in marks[: self.max_points]]

    def keep_first_reading(self) -> None:
        """Keep the markers as they are now as the first reading, and save.

        What a second reader's "Show me the AI" does before the AI's marks are
        drawn: the learner may revise after, and both readings are in the
        answer file. Kept once: a second call changes nothing.
        """
        if self.first_marks is None:
            self.first_marks = [dict(m) for m in self.marks]
            self._save()

    def _mismatch(self, answer: Answer) -> str | None:
        if len(answer.first_points or []) > self.max_points:
            return (
                f"it holds {len(answer.first_points or [])} first points and this question "
                f"takes {self.max_points}"
            )
        if len(answer.points) > self.max_points:
            return f"it holds {len(answer.points)} points and this question takes {self.max_points}"
        return super()._mismatch(answer)


class LabelDrop(_Question):
    """Drag each name onto its structure: the labelled points are the answer.

    The names are chips beside the image. Drag one (mouse, pen or touch) onto
    the image and it becomes a labelled marker; drag a marker to move it, or off
    the image to take it back. By keyboard: activate a chip (Tab, Enter), then
    press Enter over the image (at the mouse, or at the centre) and move the
    marker with the arrow keys. Each name can be placed ``max_per_label``
    times (None: without limit). Saved to ``answer`` on every change; grade
    with :func:`dicomteach.grading.grade_labels`.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from dicomteach.io.volume import Volume
    >>> vol = Volume(np.zeros((3, 8, 8), np.int16), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.json"
    >>> drop = LabelDrop(vol, ["aorta", "trachea"], answer=path)
    >>> drop.marks = [{"image": [1, 2, 5], "label": "trachea"}]
    >>> [(p.label, p.image) for p in drop.points]
    [('trachea', (1.0, 2.0, 5.0))]
    """

    _TOOL = "label"

    choices = traitlets.List(traitlets.Dict()).tag(sync=True)
    """``[{"name": str, "color": [r, g, b]}]``: the chips, in order."""
    max_per_label = traitlets.Int(1).tag(sync=True)
    """How many times each name may be placed; 0: without limit."""

    def __init__(
        self,
        volume_or_path: Volume | str | os.PathLike[str] | None,
        labels: Sequence[str],
        *,
        prompt: str = "Drag each label onto its structure",
        answer: str | os.PathLike[str] = "labels.json",
        max_per_label: int | None = 1,
        activity: str = "",
        window: Window | None = None,
        frame: int | None = None,
        plane: str | None = None,
        **kwargs: Any,
    ) -> None:
        names = _check_labels(labels)
        limit = _check_count(max_per_label, "max_per_label", allow_none=True)
        colours = label_palette(len(names))
        super().__init__(
            volume_or_path,
            prompt=prompt,
            answer=answer,
            activity=activity,
            window=window,
            frame=frame,
            plane=plane,
            question="labels",
            choices=[{"name": n, "color": list(c)} for n, c in zip(names, colours, strict=True)],
            max_per_label=limit,
            **kwargs,
        )

    @property
    def label_names(self) -> list[str]:
        return [c["name"] for c in self.choices]

    def _limit(self, marks: list[dict]) -> list[dict]:
        counts: dict[str, int] = {}
        out = []
        for mark in marks:
            name = mark["label"]
            if name not in self.label_names:
                continue
            counts[name] = counts.get(name, 0) + 1
            if self.max_per_label and counts[name] > self.max_per_label:
                continue
            out.append(mark)
        return out

    def _mismatch(self, answer: Answer) -> str | None:
        names = self.label_names
        unknown = sorted({p.label for p in answer.points if p.label not in names})
        if unknown:
            return "it holds labels this question does not have (" + ", ".join(unknown) + ")"
        if self.max_per_label:
            for name in names:
                n = sum(p.label == name for p in answer.points)
                if n > self.max_per_label:
                    return (
                        f"it holds {name!r} {n} times and this question allows {self.max_per_label}"
                    )
        return super()._mismatch(answer)
