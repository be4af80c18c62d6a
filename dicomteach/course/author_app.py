"""The authoring app: pick a study, choose a type, place the key, preview, save — no code.

A worklist is asked on several studies: with its type chosen, the study list
picks several, in the order they arrived (:class:`~dicomteach.course.author_editors.WorklistKey`).

``dicomteach author`` serves ``author.ipynb`` (beside this module) as a Voilà
app; the notebook only shows :class:`AuthoringApp`. The app drives a
:class:`~dicomteach.course.authoring.Draft`: every button reads the widgets
into it and calls the model, and any :class:`~dicomteach.errors.DicomTeachError`
becomes the one line under the buttons, leaving every field as it was.
"""

from __future__ import annotations

import html
import io
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import ipywidgets

from dicomteach.activities import Activity
from dicomteach.course.author_editors import EDITORS, KeyEditor, WorklistKey, _tag, editor_for
from dicomteach.course.authoring import Course, Draft, activity_kinds
from dicomteach.course.library import (
    SAMPLE_STUDIES,
    LibraryStudy,
    course_studies,
    import_study,
    study_facts,
    thumbnail_png,
)
from dicomteach.errors import DicomTeachError

__all__ = ["COURSE_ENV", "NOTEBOOK", "AuthoringApp"]

COURSE_ENV = "DICOMTEACH_AUTHOR_COURSE"
"""The environment variable naming the course folder the app saves into."""

NOTEBOOK = Path(__file__).with_name("author.ipynb")
"""The app's notebook, shipped in the wheel."""

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
"""Uploads go through the page's websocket; larger studies are imported by their path."""

_STYLE = """<style>
.dt-author h3 { margin: 18px 0 6px; }
.dt-author-card { width: 176px; margin: 0 8px 8px 0; padding: 6px; border: 2px solid transparent;
  border-radius: 6px; background: #f4f4f4; }
.dt-author-card img { width: 160px; height: 160px; object-fit: contain; background: #000; }
.dt-author-card button { width: 160px; white-space: normal; height: auto; min-height: 32px; }
.dt-author-card.dt-author-picked, .dt-author-card.dt-author-in-worklist {
  border-color: #1a73e8; background: #e8f0fe; }
.dt-author-card .dt-author-case-badge { font-weight: 600; color: #1a73e8; min-height: 1.2em; }
.dt-author-case { border-bottom: 1px solid #ddd; padding: 4px 0; }
img.dt-author-case-picture { object-fit: contain; background: #000; }
.dt-author-card .dt-author-detail { font-size: 11px; color: #555; }
.dt-author-report { max-height: 14em; overflow-y: auto; }
.dt-author-report table { border-collapse: collapse; font-size: 12px; }
.dt-author-report td, .dt-author-report th { padding: 2px 10px 2px 0; text-align: left; }
.dt-author-message { font-weight: 600; }
.dt-author-help { color: #444; margin: 4px 0; }
</style>"""


def _waiting_png() -> bytes:
    """A dark grey square: the card's picture until the study's own is drawn."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 40).save(buffer, format="PNG")
    return buffer.getvalue()


_WAITING = _waiting_png()


def _message(text: str, error: bool) -> str:
    colour = "#b00020" if error else "#1b5e20"
    kind = "error" if error else "ok"
    return (
        f'<p class="dt-author-message" data-kind="{kind}" role="status" '
        f'style="color:{colour}">{html.escape(text)}</p>'
    )


class AuthoringApp(ipywidgets.VBox):
    """The whole app on one page; ``session`` holds the editors' state and the preview's answer.

    Parameters
    ----------
    course : Course or path
        The course folder saved into.
    session : path, optional
        A folder of this app's own (default: a new temporary folder).
    thumbnails : bool
        Draw the library's pictures in the background (the app in Voilà does;
        tests of the model leave it off).
    """

    def __init__(
        self,
        course: Course | str | os.PathLike[str],
        *,
        session: str | os.PathLike[str] | None = None,
        thumbnails: bool = True,
    ) -> None:
        self.course = course if isinstance(course, Course) else Course(Path(course))
        self.session = Path(session) if session else Path(tempfile.mkdtemp(prefix="dt-author-"))
        self.session.mkdir(parents=True, exist_ok=True)
        self.draft = Draft(self.course)
        self.editors: dict[tuple[str, str], KeyEditor] = {}
        self.editor: KeyEditor | None = None
        self.preview_activity: Activity | None = None
        self.keyed_activity: Activity | None = None

        self.message = ipywidgets.HTML()
        self.message.add_class("dt-author-messages")
        # 1. the study (the studies of a worklist)
        self.study_heading = ipywidgets.HTML()
        self.cards = ipywidgets.Box(layout=ipywidgets.Layout(flex_flow="row wrap"))
        self.card_of: dict[str, ipywidgets.VBox] = {}
        self.studies: dict[str, LibraryStudy] = {}
        self.import_path = ipywidgets.Text(
            placeholder="a DICOM file, folder or zip on this machine",
            layout=ipywidgets.Layout(width="28em"),
        )
        self.import_path.add_class("dt-author-import-path")
        self.no_burned_in = ipywidgets.Checkbox(
            description="I looked: no name is burned into the pixels", indent=False
        )
        self.import_button = ipywidgets.Button(description="Import and de-identify")
        self.import_button.on_click(lambda _: self.import_from_path())
        self.upload = ipywidgets.FileUpload(accept=".dcm,.zip", multiple=True, description="Upload")
        self.upload.observe(lambda _: self.import_upload(), "value")
        self.report = ipywidgets.HTML()
        self.report.add_class("dt-author-import-report")
        # 2. the activity
        self.assignment = ipywidgets.Combobox(
            options=self.course.assignments(),
            placeholder="assignment, e.g. week-3",
            description="Assignment",
            ensure_option=False,
        )
        self.assignment.add_class("dt-author-assignment")
        self.name = ipywidgets.Text(placeholder="e.g. nodule", description="Name")
        self.name.add_class("dt-author-name")
        self.kind = ipywidgets.ToggleButtons(options=activity_kinds(), value=self.draft.kind)
        self.kind.add_class("dt-author-kind")
        self.kind.observe(lambda _: self._kind_changed(), "value")
        # 3. the key
        self.key_area = ipywidgets.VBox()
        # 4. the question
        self.prompt = ipywidgets.Textarea(
            placeholder="What is the learner asked? e.g. Click the nodule.",
            layout=ipywidgets.Layout(width="40em", height="4em"),
        )
        self.prompt.add_class("dt-author-prompt")
        self.points = ipywidgets.FloatText(value=1.0, description="Points")
        self.points.add_class("dt-author-points")
        self.tolerance = ipywidgets.FloatText(description="Tolerance (mm)")
        self.tolerance.style.description_width = "initial"
        self.window = ipywidgets.Dropdown(options=[("the image's own", "")], description="Window")
        # actions
        self.preview_button = ipywidgets.Button(
            description="Preview as a learner", button_style="info"
        )
        self.preview_button.on_click(lambda _: self.show_preview())
        self.save_button = ipywidgets.Button(
            description="Save to the course", button_style="success"
        )
        self.save_button.on_click(lambda _: self.save())
        self.replace = ipywidgets.Checkbox(
            description="Replace an activity of that name", indent=False
        )
        self.preview = ipywidgets.VBox()
        self.preview.add_class("dt-author-preview")

        header = ipywidgets.HTML(
            f"{_STYLE}<h2>Author an activity</h2><p>Saved into the course "
            f"<code>{html.escape(str(self.course.root))}</code>: the assignment in "
            "<code>source/</code>, its answer key in <code>references/</code> (never released).</p>"
        )
        super().__init__(
            [
                header,
                self.study_heading,
                self.cards,
                ipywidgets.HBox([self.import_path, self.import_button, self.upload]),
                self.no_burned_in,
                self.report,
                ipywidgets.HTML("<h3>2. The activity</h3>"),
                ipywidgets.HBox([self.assignment, self.name]),
                self.kind,
                ipywidgets.HTML("<h3>3. The answer key</h3>"),
                self.key_area,
                ipywidgets.HTML("<h3>4. The question</h3>"),
                self.prompt,
                ipywidgets.HBox([self.points, self.tolerance, self.window]),
                ipywidgets.HBox([self.preview_button, self.save_button, self.replace]),
                self.message,
                self.preview,
            ]
        )
        self.add_class("dt-author")
        for study in [*course_studies(self.course.root), *SAMPLE_STUDIES]:
            self._add_card(study)
        self._kind_changed()
        if thumbnails:
            threading.Thread(target=self._draw_thumbnails, daemon=True).start()

    @classmethod
    def from_environment(cls) -> AuthoringApp | ipywidgets.HTML:
        """The app on the course :data:`COURSE_ENV` names (what the app's notebook shows)."""
        folder = os.environ.get(COURSE_ENV, "").strip()
        try:
            course = Course.find(folder or None)
        except DicomTeachError as exc:
            return ipywidgets.HTML(_message(str(exc), True))
        return cls(course, session=os.getcwd())

    # ------------------------------------------------------------------ messages

    def say(self, text: str, error: bool = False) -> None:
        """One line under the buttons (an error in red)."""
        self.message.value = _message(" ".join(str(text).split()), error)

    # ------------------------------------------------------------------ the library

    def _add_card(self, study: LibraryStudy, *, first: bool = False) -> None:
        if study.key in self.studies:
            return
        self.studies[study.key] = study
        picture = ipywidgets.Image(
            value=_WAITING, format="png", layout=ipywidgets.Layout(width="160px", height="160px")
        )
        button = ipywidgets.Button(description=study.title, tooltip=study.detail)
        button.on_click(lambda _, key=study.key: self.choose(key))
        detail = ipywidgets.HTML(
            f'<span class="dt-author-detail">{html.escape(study.detail)}</span>'
        )
        badge = ipywidgets.HTML()  # its case's label, when the study is in the worklist
        badge.add_class("dt-author-case-badge")
        card = ipywidgets.VBox([picture, button, detail, badge])
        card.add_class("dt-author-card")
        self.card_of[study.key] = card
        cards = list(self.cards.children)
        self.cards.children = [card, *cards] if first else [*cards, card]

    def _draw_thumbnails(self) -> None:
        for key, card in list(self.card_of.items()):
            self._draw_thumbnail(key, card)

    def _draw_thumbnail(self, key: str, card: ipywidgets.VBox) -> None:
        picture = card.children[0]
        if picture.value != _WAITING:
            return
        study = self.studies[key]
        try:
            picture.value = thumbnail_png(study)
            if study.is_sample:  # what a study list says of it (an import's detail says it)
                line = study_facts(study).line()
                card.children[2].value = (
                    f'<span class="dt-author-detail">{html.escape(study.detail)}<br>'
                    f"{html.escape(line)}</span>"
                )
            card.add_class("dt-author-drawn")  # a marker to wait on
        except Exception:  # noqa: BLE001 - a study that cannot be drawn is still offered
            card.children[2].value = '<span class="dt-author-detail">no picture</span>'

    def choose(self, key: str) -> None:
        """Author on the study ``key`` (a card's button); for a worklist, add it as the next
        case or take it out."""
        if isinstance(self.editor, WorklistKey):
            added = self.editor.toggle(self.studies[key])
            if added:
                self.say(f"{self.studies[key].title} is {self.editor.label_of(key)}.")
            return
        study = self.studies[key]
        self.say(f"Opening {study.title}…")
        previous = self.draft.study
        self.draft.study = study
        try:
            volume = self.draft.volume
        except (DicomTeachError, OSError, ValueError) as exc:  # a study that does not open
            self.draft.study = previous
            self.say(str(exc), True)
            return
        self._mark_cards()
        self._windows(volume)
        self._show_editor()
        self.say(f"{study.title}: now place the answer key below.")

    def _mark_cards(self) -> None:
        """The chosen study's card picked; for a worklist, each case's card with its label."""
        worklist = self.editor if isinstance(self.editor, WorklistKey) else None
        chosen = self.draft.study.key if self.draft.study is not None else None
        for key, card in self.card_of.items():
            label = worklist.label_of(key) if worklist is not None else None
            picked = worklist is None and key == chosen
            (card.add_class if picked else card.remove_class)("dt-author-picked")
            (card.add_class if label else card.remove_class)("dt-author-in-worklist")
            card.children[3].value = html.escape(label or "")
        self.study_heading.value = (
            "<h3>1. Choose the worklist's studies</h3><p class='dt-author-help'>Click each "
            "in the order they arrived; click again to take it out.</p>"
            if worklist is not None
            else "<h3>1. Choose a study</h3>"
        )

    def _windows(self, volume: Any) -> None:
        from dicomteach.imaging import presets_for

        names = [p.name for p in presets_for(volume.modality, header_windows=volume.windows)]
        self.window.options = [("the image's own", ""), *((n, n) for n in names)]
        self.window.value = ""

    # ------------------------------------------------------------------ import

    def import_from_path(self) -> None:
        """Import the file, folder or zip typed in, de-identified, and show what was changed."""
        self._import(self.import_path.value.strip())

    def import_upload(self) -> None:
        """Import the files uploaded through the page."""
        files = list(self.upload.value)
        if not files:
            return
        if sum(len(f["content"]) for f in files) > MAX_UPLOAD_BYTES:
            self.say(
                f"The upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB: type the study's path instead.",
                True,
            )
            return
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=self.session))
        try:
            for item in files:
                (folder / Path(item["name"]).name).write_bytes(bytes(item["content"]))
            self._import(str(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self.upload.value = ()

    def _import(self, source: str) -> None:
        if not source:
            self.say("Type the path of a DICOM file, folder or zip to import.", True)
            return
        self.say(f"De-identifying {source}…")
        try:
            report = import_study(
                self.course.root, source, accept_burned_in=self.no_burned_in.value
            )
        except DicomTeachError as exc:
            self.say(str(exc), True)
            return
        self.report.value = report.to_html()
        for study in reversed(report.studies):
            self._add_card(study, first=True)
            self._draw_thumbnail(study.key, self.card_of[study.key])
        if report.studies:
            self.choose(report.studies[0].key)
        self.say(report.summary())

    # ------------------------------------------------------------------ the key

    def _kind_changed(self) -> None:
        cls = Activity.types.get(self.kind.value)
        if cls is not None:
            self.tolerance.value = cls.default_tolerance_mm
        # a worklist's cases open at their own windows and take no tolerance
        shown = "none" if self.kind.value == WorklistKey.kind else ""
        self.tolerance.layout.display = self.window.layout.display = shown
        self._show_editor()

    def _show_editor(self) -> None:
        self._open_editor()
        self._mark_cards()

    def _open_editor(self) -> None:
        kind, study = self.kind.value, self.draft.study
        one_per_study = EDITORS[kind].one_per_study if kind in EDITORS else True
        key = (kind, study.key if study is not None and one_per_study else "")
        editor = self.editors.get(key)
        if editor is None:
            needs_image = kind in ("hotspot", "labels", "delineate")
            if study is None and needs_image:
                self.editor = None
                self.key_area.children = [
                    ipywidgets.HTML('<p class="dt-author-help">Choose a study first.</p>')
                ]
                return
            volume = self.draft.volume if study is not None and one_per_study else None
            folder = self.session / "keys" / _tag(key[1] or "none")
            try:
                editor = editor_for(
                    kind, volume, folder, self.say, studies=self.studies, changed=self._mark_cards
                )
            except (DicomTeachError, ValueError) as exc:
                self.editor = None
                self.key_area.children = []
                self.say(str(exc).removeprefix("Argument "), True)
                return
            self.editors[key] = editor
            if isinstance(editor, WorklistKey) and not editor.cases and study is not None:
                editor.toggle(study)  # the study chosen first is the worklist's first case
        self.editor = editor
        self.key_area.children = [editor.widget]

    # ------------------------------------------------------------------ preview and save

    def collect(self) -> Draft:
        """The draft as the widgets now say (nothing checked)."""
        draft = self.draft
        draft.kind = self.kind.value
        draft.assignment = self.assignment.value.strip()
        draft.name = self.name.value.strip()
        draft.prompt = self.prompt.value
        draft.points = self.points.value
        draft.tolerance_mm = self.tolerance.value
        draft.window = self.window.value or None
        if self.editor is not None:
            self.editor.collect(draft)
        return draft

    def show_preview(self) -> None:
        """Show the activity as a learner gets it, with a button grading the preview's answer."""
        try:
            learner, keyed = self.collect().preview(self.session / "preview")
            view = learner.view()
        except DicomTeachError as exc:
            self.say(str(exc), True)
            return
        self.preview_activity, self.keyed_activity = learner, keyed
        grade = ipywidgets.Button(
            description="Grade my preview answer", layout=ipywidgets.Layout(width="auto")
        )
        feedback = ipywidgets.HTML()
        feedback.add_class("dt-author-feedback")

        def graded(_: Any) -> None:
            feedback.value = keyed.grade().to_html()

        grade.on_click(graded)
        title = ipywidgets.HTML(
            "<h3>Preview: what a learner sees</h3><p class='dt-author-help'>Answer it as a "
            "learner would, then grade that answer against your key.</p>"
        )
        self.preview.children = [title, view, grade, feedback]
        self.say("Preview below: answer it, then grade your answer.")

    def save(self) -> None:
        """Save the activity into the course; say where, or what to fix."""
        try:
            saved = self.collect().save(replace=self.replace.value)
        except DicomTeachError as exc:
            self.say(str(exc), True)
            return
        self.assignment.options = self.course.assignments()
        self.say(saved.summary(self.course))
