"""``Activity``: a question on an image, its answer file, and its grader, in one object.

An activity is built in a few lines of Python or read from a YAML file
(:meth:`Activity.load`, format in :mod:`dicomteach.activities.spec`). Shown in a
notebook or a Voilà app it is the widget of :mod:`dicomteach.widgets` the
learner answers in, which writes the answer to ``<name>.json`` or
``<name>.npz`` beside the notebook on every change (docs/decisions.md,
decision 3). With its reference it also shows "Check my answer"
(:class:`~dicomteach.widgets.CheckAnswer`); without one (a released
assignment, docs/decisions.md, decision 4) it says that the answer is saved
and graded after submission. :meth:`Activity.grade` reads the answer file and
never raises (docs/decisions.md, decision 15).
"""

from __future__ import annotations

import contextlib
import html
import io as _io
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from dicomteach.activities.spec import (
    SPEC_VERSION,
    ActivityError,
    Location,
    SpecProblem,
    check_keys,
    check_name,
    check_number,
    check_text,
    read_spec,
)
from dicomteach.errors import DicomTeachError
from dicomteach.grading import Feedback
from dicomteach.grading._inputs import Problem, failure, internal_error, reference_problem
from dicomteach.io.volume import Volume, Window

__all__ = ["HEADLESS_RUN_ENV", "Activity", "headless_run", "quietly"]

log = logging.getLogger(__name__)

#: The keys every activity file may hold (each type adds its own).
COMMON_KEYS = {"version", "type", "name", "study", "prompt", "points", "reference", "tolerance_mm"}
COMMON_KEYS |= {"window", "slice"}


HEADLESS_RUN_ENV = "NBGRADER_EXECUTION"
"""Set by nbgrader (to ``autograde`` or ``validate``) in the kernels it runs a notebook in."""


def headless_run() -> bool:
    """Whether this kernel runs a notebook for nbgrader, where no one sees a widget.

    An activity then shows what is asked and which file is graded, without its
    widget: nothing waits for a front end (nbgrader #1359), the study is not
    read for nothing, and the learner's answer file stays as handed in.

    >>> headless_run()
    False
    """
    return os.environ.get(HEADLESS_RUN_ENV, "") in ("autograde", "validate")


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Warnings and stderr kept from the notebook while grading.

    nbgrader gives an autograder cell 0 points when anything reaches stderr,
    so a harmless warning (a decoder's, a moved answer file's) must not.
    """
    with warnings.catch_warnings(), contextlib.redirect_stderr(_io.StringIO()):
        warnings.simplefilter("ignore")
        yield


class Activity:
    """The base of every activity; build one of its subclasses, or :meth:`load` a file.

    Parameters
    ----------
    name : str
        Names the answer file (``<name>.json`` or ``<name>.npz`` beside the
        notebook) and the ``grade("<name>")`` call of an assignment.
    study : path, Volume, or sample location
        The image: a DICOM file or folder, a :class:`~dicomteach.io.Volume`, or
        ``{"sample": "ct-chest", "path": "baseline/ct", "size": 256, "slices": 60}``.
    prompt : str
        What the learner is asked.
    points : float
        Points for a perfect answer.
    reference : optional
        The answer key, in the form each type documents. Leave it out of
        anything a learner receives (docs/decisions.md, decision 4).
    tolerance_mm : float, optional
        How far off an answer may be and still count (each type's default).
    window : str or (center, width), optional
        The first window: a preset name (``"Lung"``) or two numbers.
    slice : int, optional
        The slice shown first, numbered from 1.
    answer : path, optional
        The answer file, default ``<name>`` plus the type's suffix in the
        current folder (the notebook's).
    """

    kind: ClassVar[str] = ""
    """The ``type`` of the activity file."""
    suffix: ClassVar[str] = ".json"
    """The answer file's suffix."""
    default_tolerance_mm: ClassVar[float] = 0.0
    shows_prompt: ClassVar[bool] = True
    """Whether the question widget shows the prompt itself (else it is written above it)."""
    own_keys: ClassVar[set[str]] = set()
    """Keys of the activity file this type adds to :data:`COMMON_KEYS`."""
    types: ClassVar[dict[str, type[Activity]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Activity.types[cls.kind] = cls

    def __init__(
        self,
        name: str,
        study: Any = None,
        *,
        prompt: str,
        points: float = 1.0,
        reference: Any = None,
        tolerance_mm: float | None = None,
        window: Any = None,
        slice: int | None = None,
        answer: str | os.PathLike[str] | None = None,
        source: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        self.source = Path(source) if source is not None else None
        """The activity file this was read from, if any (errors name it)."""
        base = self.source.parent if self.source is not None else None
        try:
            self.name = check_name(name)
            self.prompt = check_text(prompt, "prompt")
            self.points = check_number(points, "points", positive=True)
            self.tolerance_mm = (
                self.default_tolerance_mm
                if tolerance_mm is None
                else check_number(tolerance_mm, "tolerance_mm")
            )
            self._volume: Volume | None = study if isinstance(study, Volume) else None
            self.study = None if self._volume is not None else self._study(study, base)
            self.window = _window(window)
            if slice is not None and (
                isinstance(slice, bool) or not isinstance(slice, int) or slice < 1
            ):
                raise SpecProblem("slice", f"must be a slice number from 1, not {slice!r}")
            self.slice = slice
            unknown = sorted(set(options) - self.own_keys)
            if unknown:
                raise SpecProblem(unknown[0], f"is not an option of a {self.kind} activity")
            self._options(options, base)
            self.reference = None if reference is None else self._reference(reference, base)
        except SpecProblem as problem:
            raise problem.as_error(self.source) from None
        from dicomteach.widgets._answers import answer_path

        self.answer_path = answer_path(answer or f"{self.name}{self.suffix}", self.suffix)
        """Where the learner's answer is written (absolute, fixed when the activity is made)."""
        self._question: Any = None
        self._view: Any = None

    # ------------------------------------------------------------------ what each type adds

    def _study(self, value: Any, base: Path | None) -> Location | None:
        if value is None:
            raise SpecProblem("study", "is needed: the image the question is asked on")
        return Location.parse(value, "study", base)

    def _options(self, options: Mapping[str, Any], base: Path | None) -> None:
        """Check and keep the type's own keys (``options`` holds only those)."""

    def _reference(self, value: Any, base: Path | None) -> Any:
        """Check the reference's form; nothing is read until grading."""
        raise NotImplementedError

    def _build_question(self) -> Any:
        """The widget the learner answers in."""
        raise NotImplementedError

    def _grade(self, answer: Path) -> Feedback:
        """Grade the answer file (may raise :class:`Problem`; the rest is caught by :meth:`grade`)."""
        raise NotImplementedError

    def _options_dict(self) -> dict[str, Any]:
        return {}

    def _reference_dict(self) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ files

    @classmethod
    def load(cls, path: str | os.PathLike[str], **overrides: Any) -> Activity:
        """The activity an activity file describes (see :mod:`dicomteach.activities.spec`).

        ``overrides`` replace keys of the file (e.g. ``answer=`` where the
        answer file goes). Raises :class:`ActivityError`, one line naming the
        file and the key, for anything wrong with it.

        Examples
        --------
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "finding.yaml").write_text(
        ...     "type: multiple-choice\\nprompt: What does the radiograph show?\\n"
        ...     "options: [Normal, Lung mass, Pneumothorax]\\nreference: Lung mass\\n")
        >>> quiz = Activity.load(folder / "finding.yaml", answer=folder / "finding.json")
        >>> quiz.name, quiz.kind, quiz.points
        ('finding', 'multiple-choice', 1.0)
        >>> _ = (folder / "bad.yaml").write_text("type: hotspot\\nprompt: Click\\npoints: -1\\n")
        >>> Activity.load(folder / "bad.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dicomteach.activities.spec.ActivityError: /...bad.yaml: 'points' must be > 0, not -1
        """
        data = read_spec(path)
        data.pop("version", None)
        kind = data.pop("type", None)
        if kind not in Activity.types:
            raise ActivityError(
                f"'type' must be one of {', '.join(sorted(Activity.types))}, not {kind!r}", path
            )
        chosen = Activity.types[kind]
        if cls is not Activity and not issubclass(chosen, cls):
            raise ActivityError(f"'type' is {kind!r}, not a {cls.kind or cls.__name__}", path)
        try:
            check_keys(data, (COMMON_KEYS | chosen.own_keys) - {"version", "type"})
        except SpecProblem as problem:
            raise problem.as_error(path) from None
        data.setdefault("name", Path(path).stem)
        if "prompt" not in data:
            raise ActivityError("'prompt' is missing: what is the learner asked?", path)
        return chosen(**{**data, **overrides}, source=path)

    def to_dict(self, *, reference: bool = False) -> dict[str, Any]:
        """The activity file's keys; the reference only when asked (never for learners)."""
        if self.study is None:
            raise ValueError("An activity built on a Volume cannot be written to a file")
        data: dict[str, Any] = {
            "version": SPEC_VERSION,
            "type": self.kind,
            "name": self.name,
            "study": self.study.as_yaml(),
            "prompt": self.prompt,
            "points": self.points,
            **self._options_dict(),
        }
        if self.window is not None:
            data["window"] = (
                self.window
                if isinstance(self.window, str)
                else [self.window.center, self.window.width]
            )
        if self.slice is not None:
            data["slice"] = self.slice
        if reference and self.reference is not None:
            data["reference"] = self._reference_dict()
            data["tolerance_mm"] = self.tolerance_mm
        return data

    def save(self, path: str | os.PathLike[str], *, reference: bool = False) -> Path:
        """Write the activity file, atomically; with its reference only when asked.

        A file with the reference is an answer key: it belongs in the course's
        reference folder, never beside a released notebook.
        """
        import yaml

        from dicomteach.io.atomic import write_atomically

        text = yaml.safe_dump(
            self.to_dict(reference=reference), sort_keys=False, allow_unicode=True
        )
        return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))

    def public(self) -> Activity:
        """The same activity without its reference: what a released assignment may hold."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.reference = None
        clone._question = clone._view = None
        return clone

    # ------------------------------------------------------------------ the image

    @property
    def volume(self) -> Volume:
        """The study's image, read on first use."""
        if self._volume is None:
            from dicomteach import io

            assert self.study is not None
            self._volume = io.load(self.study.resolve())
        return self._volume

    def _first_window(self) -> Window | None:
        if self.window is None or isinstance(self.window, Window):
            return self.window
        from dicomteach import imaging

        volume = self.volume
        presets = imaging.presets_for(volume.modality, header_windows=volume.windows)
        for preset in presets:
            if preset.name.casefold() == self.window.casefold():
                return preset.window
        raise ActivityError(
            f"'window' {self.window!r} is not a preset of {volume.modality or 'this image'} "
            f"({', '.join(p.name for p in presets) or 'none'})",
            self.source,
        )

    @property
    def _frame(self) -> int | None:
        return None if self.slice is None else self.slice - 1

    # ------------------------------------------------------------------ showing

    @property
    def question(self) -> Any:
        """The widget the learner answers in (made on first use; it reloads a saved answer)."""
        if self._question is None:
            self._question = self._build_question()
        return self._question

    def view(self) -> Any:
        """What the learner sees: the question, and "Check my answer" when there is a reference."""
        if self._view is None:
            import ipywidgets

            from dicomteach.widgets import CheckAnswer

            question = self.question
            parts = []
            if not self.shows_prompt:
                prompt = ipywidgets.HTML(f"<p><b>{html.escape(self.prompt)}</b></p>")
                prompt.add_class("dt-activity-prompt")
                parts.append(prompt)
            beside = self._beside_question()
            if self.reference is not None:
                check = CheckAnswer(question, self.grade, reveal=self._reveal())
                if beside:
                    check.children = (check.children[0], *beside, *check.children[1:])
                parts.append(check)
            else:
                note = ipywidgets.HTML(
                    f"<em>Your answer is saved in {html.escape(self.answer_path.name)} beside "
                    "this notebook as you work; it is graded after you submit.</em>"
                )
                note.add_class("dt-activity-note")
                parts += [question, *beside, note]
            self._view = ipywidgets.VBox(parts)
            self._view.add_class("dt-activity")
        return self._view

    def _reveal(self) -> Any:
        return None

    def _beside_question(self) -> list[Any]:
        """Widgets shown right under the question (above "Check my answer"), if any."""
        return []

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if headless_run():
            return self._headless_bundle()
        return self.view()._repr_mimebundle_(**kwargs)

    def _headless_bundle(self) -> dict[str, str]:
        """What stands for the widget in a notebook nbgrader runs: what is asked, and which
        file is graded. No widget is built, so the image is not read and the answer file
        is neither read nor moved (a widget moves aside a file it cannot use)."""
        said = f"{self.prompt} (graded from your answer file {self.answer_path.name})"
        return {
            "text/plain": said,
            "text/html": f'<div class="dt-activity-headless"><p><b>{html.escape(self.prompt)}'
            f"</b></p><p><em>Graded from your answer file {html.escape(self.answer_path.name)}"
            "; the activity is not drawn while grading.</em></p></div>",
        }

    def __repr__(self) -> str:
        where = f", from {self.source}" if self.source is not None else ""
        return f"<{type(self).__name__} {self.name!r}: {self.points:g} points{where}>"

    # ------------------------------------------------------------------ grading

    def _answer_file(self, answer: Path) -> Path:
        """The file to grade: ``answer``, or, when it is missing, the newest copy moved aside.

        A widget built on a file it could not use renames it
        (``<stem>.moved-<time><suffix>``, :func:`dicomteach.widgets._answers.move_aside`),
        also when an autograde runs the notebook; grading that copy tells the
        learner what was wrong with it instead of "not found".
        """
        if answer.exists():
            return answer
        moved = sorted(answer.parent.glob(f"{answer.stem}.moved-*{answer.suffix}"))
        return moved[-1] if moved else answer

    def grade(self, answer: str | os.PathLike[str] | None = None) -> Feedback:
        """Points and feedback for the answer file (default :attr:`answer_path`); never raises.

        A missing, unreadable or hostile answer gets 0 points and a line
        saying why; a problem with the reference is a grading error the
        learner is told is not theirs (docs/decisions.md, decision 15).
        """
        path = Path(answer) if answer is not None else self.answer_path
        try:
            with quietly():
                if self.reference is None:
                    raise reference_problem(
                        f"activity {self.name!r} has no reference to grade with"
                    )
                found = self._answer_file(path)
                if not found.exists():
                    _refuse_renamed(found)
                return self._grade(found)
        except Problem as problem:
            return failure(problem, self.points)
        except (DicomTeachError, ValueError) as exc:  # the reference or the image, not the answer
            detail = exc.problem if isinstance(exc, DicomTeachError) else str(exc)
            return failure(reference_problem(f"{self.name}: {detail}"), self.points)
        except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
            log.debug("grading %s failed", self.name, exc_info=True)
            return internal_error(exc, self.points)


def read_answer_or_problem(answer: Path, read: Callable[[Path], Any], asked: str) -> Any:
    """``read(answer)``, or a grading :class:`Problem` saying the file is missing or unusable.

    ``asked`` completes "No answer was found: ..." (what the learner should do);
    ``read`` may raise :class:`~dicomteach.roi.errors.AnswerError` or
    :class:`ValueError`, whose text is quoted to the learner.
    """
    from dicomteach.grading._inputs import Problem
    from dicomteach.roi.errors import AnswerError

    if not answer.exists():
        raise Problem(
            f"No answer was found: {asked} (your answer file '{answer.name}' was not found)."
        )
    try:
        return read(answer)
    except (AnswerError, ValueError) as exc:
        detail = exc.problem if isinstance(exc, AnswerError) else str(exc)
        raise Problem(
            f"Your answer file '{answer.name}' could not be used ({detail}): answer again "
            "in the activity."
        ) from None


def _refuse_renamed(answer: Path) -> None:
    """Raise a :class:`Problem` naming the files that look like ``answer`` renamed, if any.

    Only the file the activity names is graded: which of several look-alikes
    is the answer is not a grader's guess. The learner is told which files
    were seen, so that the instructor and they know the work is not lost.
    """
    stem = answer.stem.casefold()
    try:
        alike = sorted(
            p.name
            for p in answer.parent.iterdir()
            if stem in p.name.casefold()
            and p.suffix != ".ipynb"
            and not p.name.startswith(".")
            and p.is_file()
        )
    except OSError:
        return
    if alike:
        shown = ", ".join(repr(n) for n in alike[:3]) + (" …" if len(alike) > 3 else "")
        raise Problem(
            f"Your answer file '{answer.name}' was not found; {shown} beside the notebook "
            f"{'is' if len(alike) == 1 else 'are'} not graded: an answer file must keep the "
            "name the activity gives it."
        )


def _window(value: Any) -> str | Window | None:
    if value is None or isinstance(value, Window):
        return value
    if isinstance(value, str) and value.strip():
        return value.strip()
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and value[1] > 0
    ):
        return Window(float(value[0]), float(value[1]))
    raise SpecProblem("window", f"must be a preset name or [center, width > 0], not {value!r:.40}")
