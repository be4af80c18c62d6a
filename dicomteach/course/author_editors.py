"""The answer-key editors of the authoring app: one per activity type, on the study's image.

Each editor is a small ipywidgets panel whose :meth:`KeyEditor.collect`
writes what the instructor did into a :class:`~dicomteach.course.authoring.Draft`.
The image editors reuse the learners' own widgets, so the key is placed with
the gestures a learner answers with: a :class:`~dicomteach.widgets.Hotspot`
for the findings, a :class:`~dicomteach.widgets.LabelDrop` for where each
label goes, a :class:`~dicomteach.widgets.Delineator` for the reference
outline. Their state is written on every change into the app's session folder
(one file per study), so a reloaded page or a switch of type or study loses
nothing. A worklist's editor, :class:`WorklistKey`, is one for all studies: it
lists the cases picked in the app's study list in the order they arrived, each
with its truth (the verdict buttons learners judge cases with), and the order
the learner gets them in. A type without an editor of its own gets
:class:`YamlKey`.
"""

from __future__ import annotations

import hashlib
import html
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import ipywidgets

from dicomteach.activities import Activity
from dicomteach.course.authoring import DEFAULT_RADIUS_MM, Draft, Target
from dicomteach.course.library import LibraryStudy

__all__ = ["EDITORS", "KeyEditor", "WorklistKey", "editor_for"]


def _tag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _help(text: str) -> ipywidgets.HTML:
    note = ipywidgets.HTML(f'<p class="dt-author-help">{text}</p>')
    return note


class KeyEditor:
    """The answer key of one activity type, edited on one study."""

    kind: ClassVar[str] = ""
    needs_image: ClassVar[bool] = True
    one_per_study: ClassVar[bool] = True
    """False: one editor whichever study is chosen (a worklist picks several)."""

    def __init__(self, volume: Any, folder: Path, say: Callable[[str, bool], None]) -> None:
        self.volume = volume
        """The study's image (None for a type that needs none and no study chosen)."""
        self.folder = folder
        """Where this editor keeps its state (the session's folder for this study)."""
        self.say = say
        self.widget = ipywidgets.VBox()
        self.widget.add_class("dt-author-key")

    def collect(self, draft: Draft) -> None:
        """Write the key as edited into ``draft``."""
        raise NotImplementedError


def _reach(radius: Any) -> float:
    """The radius to draw round a target: what was typed, or nothing when it is not a
    positive number (saving says what is wrong with it)."""
    try:
        value = float(radius)
    except (TypeError, ValueError):
        return 0.0
    return value if value > 0 and value == value else 0.0


class HotspotKey(KeyEditor):
    """Click each finding on the image; every marker is a target of the same radius."""

    kind = "hotspot"
    MAX_TARGETS = 9

    def __init__(self, volume: Any, folder: Path, say: Callable[[str, bool], None]) -> None:
        from dicomteach.widgets import Hotspot

        super().__init__(volume, folder, say)
        self.radius = ipywidgets.FloatText(
            value=DEFAULT_RADIUS_MM,
            description="Radius (mm)",
            style={"description_width": "initial"},
        )
        self.radius.add_class("dt-author-radius")
        self.marks = Hotspot(
            volume,
            prompt="Click each finding: every marker is a target (up to "
            f"{self.MAX_TARGETS}). Drag a marker to move it.",
            answer=folder / "hotspot-key.json",
            max_points=self.MAX_TARGETS,
            activity="key",
        )
        # what the instructor places is the key, and each target shows how far it reaches
        self.marks.side_title = "The key"
        self.marks.radius_mm = _reach(self.radius.value)
        self.radius.observe(self._radius_changed, names="value")
        self.widget.children = [
            _help(
                "A click counts when it falls within the radius of a target, plus the "
                "tolerance set below."
            ),
            self.radius,
            self.marks,
        ]

    def _radius_changed(self, change: dict) -> None:
        self.marks.radius_mm = _reach(change["new"])

    def collect(self, draft: Draft) -> None:
        marks = list(self.marks.marks)
        name = draft.name.strip() or "finding"
        draft.targets = [
            Target(
                name if len(marks) == 1 else f"{name} {i}",
                int(round(m["image"][0])) + 1,
                float(m["image"][1]),
                float(m["image"][2]),
                float(self.radius.value),
            )
            for i, m in enumerate(marks, start=1)
        ]


class LabelsKey(KeyEditor):
    """Write the labels, then drag each onto its structure: where it lands is the key."""

    kind = "labels"

    def __init__(self, volume: Any, folder: Path, say: Callable[[str, bool], None]) -> None:
        super().__init__(volume, folder, say)
        self.names = ipywidgets.Textarea(placeholder="One label per line, e.g.\nheart\nleft hilum")
        self.names.add_class("dt-author-labels")
        self.radius = ipywidgets.FloatText(
            value=DEFAULT_RADIUS_MM,
            description="Radius (mm)",
            style={"description_width": "initial"},
        )
        self.radius.observe(self._radius_changed, names="value")
        self.place = ipywidgets.Button(description="Place these labels")
        self.place.on_click(lambda _: self._show())
        self.drop: Any = None
        self.area = ipywidgets.VBox()
        self.widget.children = [
            _help("A label counts when it lands within the radius of where you put it."),
            self.names,
            ipywidgets.HBox([self.place, self.radius]),
            self.area,
        ]

    def _show(self) -> None:
        from dicomteach.widgets import LabelDrop

        labels = _lines(self.names.value)
        if not labels:
            self.say("Write the labels first, one per line.", True)
            return
        try:
            self.drop = LabelDrop(
                self.volume,
                labels,
                prompt="Drag each label onto its structure.",
                answer=self.folder / f"labels-key-{_tag('|'.join(labels))}.json",
                activity="key",
            )
        except ValueError as exc:
            self.say(str(exc).removeprefix("Argument "), True)
            return
        self.drop.radius_mm = _reach(self.radius.value)
        self.area.children = [self.drop]

    def _radius_changed(self, change: dict) -> None:
        if self.drop is not None:
            self.drop.radius_mm = _reach(change["new"])

    def collect(self, draft: Draft) -> None:
        draft.labels = _lines(self.names.value)
        marks = list(self.drop.marks) if self.drop is not None else []
        if self.drop is not None and self.drop.label_names != draft.labels:
            marks = []  # placed for another list of labels: press the button again
        draft.targets = [
            Target(
                m["label"],
                int(round(m["image"][0])) + 1,
                float(m["image"][1]),
                float(m["image"][2]),
                float(self.radius.value),
            )
            for m in marks
        ]


class DelineateKey(KeyEditor):
    """Draw the reference outline, or take it from a SEG or RTSTRUCT file."""

    kind = "delineate"
    DRAW = "Draw it on the image"

    def __init__(self, volume: Any, folder: Path, say: Callable[[str, bool], None]) -> None:
        super().__init__(volume, folder, say)
        self.structures = ipywidgets.Text(
            placeholder="e.g. Nodule (several: comma between)", description="Structures"
        )
        self.structures.add_class("dt-author-structures")
        self.draw = ipywidgets.Button(description="Draw these structures")
        self.draw.on_click(lambda _: self._show())
        self.source = ipywidgets.Dropdown(
            options=[self.DRAW, *self._files_nearby()],
            description="Key",
            style={"description_width": "initial"},
        )
        self.path = ipywidgets.Text(placeholder="…or the path of a SEG, RTSTRUCT or .npz file")
        self.chosen = ipywidgets.Dropdown(options=[], description="Answer is")
        self.chosen.layout.display = "none"
        self.source.observe(lambda _: self._file_changed(), "value")
        self.path.observe(lambda _: self._file_changed(), "value")
        self.delineator: Any = None
        self.area = ipywidgets.VBox()
        self.widget.children = [
            ipywidgets.HBox([self.structures, self.draw]),
            ipywidgets.HBox([self.source, self.path]),
            self.chosen,
            self.area,
        ]

    def _files_nearby(self) -> list[str]:
        """SEG and RTSTRUCT files beside the study: a sample's SEG in the folder above the
        series, or a series of its own imported with the study (its sibling folders)."""
        import pydicom

        sources = getattr(self.volume, "sources", ()) or ()
        if not sources:
            return []
        series = Path(sources[0][0]).parent
        candidates = sorted(series.parent.glob("*.dcm"))
        for sibling in sorted(p for p in series.parent.iterdir() if p.is_dir() and p != series):
            candidates += sorted(sibling.glob("*.dcm"))[:4]  # a SEG series holds one or few
        found = []
        for path in candidates[:200]:
            try:
                header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
            except Exception:  # noqa: BLE001 - not a file to offer
                continue
            if str(header.get("Modality", "")) in ("SEG", "RTSTRUCT"):
                found.append(str(path))
        return found[:12]

    def _file(self) -> Path | None:
        if self.path.value.strip():
            return Path(self.path.value.strip()).expanduser()
        if self.source.value != self.DRAW:
            return Path(self.source.value)
        return None

    def _file_changed(self) -> None:
        from dicomteach.errors import DicomTeachError
        from dicomteach.roi import load_structures

        path = self._file()
        self.chosen.options, self.chosen.layout.display = [], "none"
        if path is None:
            return
        try:
            found = load_structures(path, image=self.volume)
        except (DicomTeachError, ValueError) as exc:
            self.say(str(exc), True)
            return
        names = [str(found.names.get(n, n)) for n in found.masks]
        self.chosen.options = names
        self.chosen.layout.display = "" if len(names) > 1 else "none"
        if not self.structures.value.strip():
            self.structures.value = ", ".join(names[:1])
        self.say(f"The key is {path.name}: {', '.join(names)}.", False)

    def _names(self) -> list[str]:
        return [" ".join(n.split()) for n in self.structures.value.split(",") if n.strip()]

    def _show(self) -> None:
        from dicomteach.widgets import Delineator

        names = self._names()
        if not names:
            self.say("Name the structures first, e.g. Nodule.", True)
            return
        try:
            self.delineator = Delineator(
                self.volume,
                names,
                answer=self.folder / f"delineation-key-{_tag('|'.join(names))}.npz",
            )
        except ValueError as exc:
            self.say(str(exc).removeprefix("Argument "), True)
            return
        self.area.children = [self.delineator]

    def collect(self, draft: Draft) -> None:
        draft.structures = self._names()
        draft.reference_file = self._file()
        draft.reference_structure = (
            self.chosen.value if draft.reference_file is not None and self.chosen.options else None
        )
        draft.mask = None
        if draft.reference_file is None and self.delineator is not None:
            if list(self.delineator.names) == draft.structures:
                draft.mask = self.delineator.labels.copy()


class ChoiceKey(KeyEditor):
    """Write the options, one per line, and pick the right one."""

    kind = "multiple-choice"
    needs_image = False

    def __init__(self, volume: Any, folder: Path, say: Callable[[str, bool], None]) -> None:
        super().__init__(volume, folder, say)
        self.options = ipywidgets.Textarea(
            placeholder="One option per line, e.g.\nNormal radiograph\nRight pneumothorax"
        )
        self.options.add_class("dt-author-options")
        self.right = ipywidgets.Dropdown(options=[], description="Right answer")
        self.right.add_class("dt-author-right")
        self.options.observe(self._options_changed, "value")
        self.widget.children = [self.options, self.right]

    def _options_changed(self, _change: dict) -> None:
        keep = self.right.value
        options = _lines(self.options.value)
        self.right.options = options
        self.right.value = keep if keep in options else None

    def collect(self, draft: Draft) -> None:
        draft.options = _lines(self.options.value)
        draft.right_option = self.right.value


class YamlKey(KeyEditor):
    """A type the app has no editor for: its own keys and ``reference`` written as YAML."""

    needs_image = False

    def __init__(
        self, volume: Any, folder: Path, say: Callable[[str, bool], None], kind: str
    ) -> None:
        super().__init__(volume, folder, say)
        cls = Activity.types[kind]
        doc = inspect.cleandoc(cls.__doc__ or "").split("\n\n")
        keys = ", ".join(sorted(cls.own_keys)) or "none"
        self.text = ipywidgets.Textarea(
            placeholder="reference:\n  …", layout=ipywidgets.Layout(width="100%", height="10em")
        )
        self.text.add_class("dt-author-yaml")
        self.widget.children = [
            _help(
                f"<b>{html.escape(kind)}</b>: {html.escape(' '.join(doc[0].split()))}<br>"
                f"Write its answer key under <code>reference:</code>, and its own keys "
                f"({html.escape(keys)}), in YAML (see dicomteach/activities/spec.py)."
            ),
            self.text,
        ]

    def collect(self, draft: Draft) -> None:
        draft.extra = self.text.value


class WorklistKey(KeyEditor):
    """The worklist's cases in the order they arrived, each said abnormal or normal.

    The cases are picked in the app's study list (:meth:`toggle`, a click on a
    study's picture); each row shows its case label, picture, patient, date
    and modality, the truth buttons, and buttons to move it up, down or out.
    The state is kept in ``worklist-key.json`` in the session folder.
    """

    kind = "worklist"
    needs_image = False
    one_per_study = False
    TRUTHS = (("Abnormal", "abnormal"), ("Normal", "normal"))
    ORDERS = (("By the AI's score", "ai"), ("As they arrived", "arrival"))

    def __init__(
        self,
        volume: Any,
        folder: Path,
        say: Callable[[str, bool], None],
        *,
        studies: Mapping[str, LibraryStudy] | None = None,
        changed: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(volume, folder, say)
        self.studies = studies if studies is not None else {}
        """The app's studies by key: what a saved state's keys are found in."""
        self.changed = changed
        self.cases: list[LibraryStudy] = []
        self.truths: dict[str, ipywidgets.ToggleButtons] = {}
        self.order = ipywidgets.ToggleButtons(options=list(self.ORDERS), value="ai")
        self.order.add_class("dt-author-order")
        self.order.observe(lambda _: self._keep(), "value")
        self.rows = ipywidgets.VBox()
        self.rows.add_class("dt-author-cases")
        self.state = folder / "worklist-key.json"
        self.widget.children = [
            _help(
                "Click the pictures of the worklist's studies above, in the order they "
                "arrived (click again to take one out): they become Case A, Case B, … "
                "Say of each whether it is abnormal or normal: that is the key."
            ),
            ipywidgets.HBox([ipywidgets.HTML("<b>The learner gets them</b>&nbsp;"), self.order]),
            self.rows,
        ]
        self._restore()
        self._show()

    # ------------------------------------------------------------------ what the instructor does

    def toggle(self, study: LibraryStudy) -> bool:
        """Add ``study`` as the next case, or take it out if it is one; True when added.

        A study the AI cannot score is refused with one line, and not added.
        """
        from dicomteach.activities.worklist import MAX_CASES, SCORED_MODALITIES
        from dicomteach.course.library import study_facts
        from dicomteach.errors import DicomTeachError

        if any(c.key == study.key for c in self.cases):
            self.remove(study.key)
            return False
        try:
            modality = study_facts(study).modality
        except DicomTeachError as exc:
            self.say(str(exc), True)
            return False
        if modality not in SCORED_MODALITIES:
            self.say(
                f"{study.title} is {modality or 'of no modality'}: the worklist's AI scores chest "
                f"radiographs and CTs ({', '.join(SCORED_MODALITIES)}).",
                True,
            )
            return False
        if len(self.cases) >= MAX_CASES:
            self.say(f"A worklist holds at most {MAX_CASES} studies.", True)
            return False
        self.cases.append(study)
        self._changed()
        return True

    def remove(self, key: str) -> None:
        """Take the case of study ``key`` out of the worklist."""
        self.cases = [c for c in self.cases if c.key != key]
        self._changed()

    def move(self, key: str, step: int) -> None:
        """Move the case of study ``key`` ``step`` places (−1: it arrived earlier)."""
        keys = [c.key for c in self.cases]
        at = keys.index(key)
        to = min(max(at + step, 0), len(keys) - 1)
        self.cases.insert(to, self.cases.pop(at))
        self._changed()

    def label_of(self, key: str) -> str | None:
        """``Case A``… of study ``key``, or None when it is not in the worklist."""
        from dicomteach.activities.worklist import case_label

        keys = [c.key for c in self.cases]
        return case_label(keys.index(key)) if key in keys else None

    def collect(self, draft: Draft) -> None:
        draft.cases = list(self.cases)
        draft.case_truths = [self._truth(c.key).value for c in self.cases]
        draft.order = self.order.value

    # ------------------------------------------------------------------ rows and state

    def _truth(self, key: str) -> ipywidgets.ToggleButtons:
        from dicomteach.activities.verdict_view import verdict_buttons

        if key not in self.truths:
            buttons = verdict_buttons(self.TRUTHS, "dt-author-truth")
            buttons.observe(lambda _: self._keep(), "value")
            self.truths[key] = buttons
        return self.truths[key]

    def _changed(self) -> None:
        self._show()
        self._keep()
        if self.changed is not None:
            self.changed()

    def _show(self) -> None:
        from dicomteach.activities.worklist import case_label

        if not self.cases:
            self.rows.children = [_help("<em>No study in the worklist yet.</em>")]
            return
        rows = []
        for n, study in enumerate(self.cases):
            up = ipywidgets.Button(
                icon="arrow-up", tooltip="Arrived earlier", layout={"width": "36px"}
            )
            down = ipywidgets.Button(
                icon="arrow-down", tooltip="Arrived later", layout={"width": "36px"}
            )
            out = ipywidgets.Button(icon="times", tooltip="Take it out", layout={"width": "36px"})
            up.on_click(lambda _b, k=study.key: self.move(k, -1))
            down.on_click(lambda _b, k=study.key: self.move(k, 1))
            out.on_click(lambda _b, k=study.key: self.remove(k))
            up.disabled, down.disabled = n == 0, n == len(self.cases) - 1
            row = ipywidgets.HBox(
                [
                    ipywidgets.HTML(f'<b class="dt-author-case-label">{case_label(n)}</b>'),
                    self._picture(study),
                    ipywidgets.HTML(self._describe(study), layout={"width": "22em"}),
                    self._truth(study.key),
                    up,
                    down,
                    out,
                ],
                layout={"align_items": "center", "grid_gap": "8px"},
            )
            row.add_class("dt-author-case")
            rows.append(row)
        self.rows.children = rows

    @staticmethod
    def _picture(study: LibraryStudy) -> ipywidgets.Image:
        from dicomteach.course.library import thumbnail_png

        try:
            png = thumbnail_png(study)  # the study list's own picture, kept in the cache
        except Exception:  # noqa: BLE001 - a study without a picture is still listed
            png = b""
        picture = ipywidgets.Image(
            value=png, format="png", layout={"width": "64px", "height": "64px"}
        )
        picture.add_class("dt-author-case-picture")
        return picture

    @staticmethod
    def _describe(study: LibraryStudy) -> str:
        from dicomteach.course.library import study_facts

        try:
            line = study_facts(study).line()
        except Exception:  # noqa: BLE001 - the title is enough to know it
            line = study.detail
        return (
            f"<b>{html.escape(study.title)}</b><br>"
            f'<span class="dt-author-detail">{html.escape(line)}</span>'
        )

    def _keep(self) -> None:
        from dicomteach.io.atomic import write_atomically

        state = {
            "cases": [c.key for c in self.cases],
            "truths": {c.key: self._truth(c.key).value for c in self.cases},
            "order": self.order.value,
        }
        text = json.dumps(state).encode()
        try:
            write_atomically(self.state, lambda fh: fh.write(text))
        except OSError as exc:
            self.say(f"The worklist could not be kept in {self.state} ({exc})", True)

    def _restore(self) -> None:
        try:
            state = json.loads(self.state.read_text(encoding="utf-8"))
            cases, truths, order = state["cases"], state["truths"], state["order"]
        except (OSError, ValueError, KeyError, TypeError):
            return  # nothing kept yet (or not usable): start empty
        self.cases = [self.studies[k] for k in cases if isinstance(k, str) and k in self.studies]
        for study in self.cases:
            if truths.get(study.key) in ("abnormal", "normal"):
                self._truth(study.key).value = truths[study.key]
        if order in ("ai", "arrival"):
            self.order.value = order


#: The editor of each activity type the app has one for.
EDITORS: dict[str, type[KeyEditor]] = {
    e.kind: e for e in (HotspotKey, LabelsKey, DelineateKey, ChoiceKey, WorklistKey)
}


def editor_for(
    kind: str,
    volume: Any,
    folder: Path,
    say: Callable[[str, bool], None],
    *,
    studies: Mapping[str, LibraryStudy] | None = None,
    changed: Callable[[], None] | None = None,
) -> KeyEditor:
    """The editor of ``kind`` on ``volume`` (:class:`YamlKey` for a type without its own);
    a worklist's finds its cases in ``studies`` and calls ``changed`` when they change."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == WorklistKey.kind:
        return WorklistKey(volume, folder, say, studies=studies, changed=changed)
    if kind in EDITORS:
        return EDITORS[kind](volume, folder, say)
    return YamlKey(volume, folder, say, kind)
