"""Authoring an activity without code: what the instructor chose, checked, previewed and saved.

A :class:`Draft` holds what an instructor has authored so far in the
authoring app (``dicomteach author``): the study, the activity's type, name
and assignment, the prompt and points, and the answer key in the form each
type needs (targets clicked on the image, labels placed, a drawn or imported
delineation, the options and the right one; a worklist's studies in the order
they arrived, each said abnormal or normal). Nothing is checked while it is
edited; :meth:`Draft.check`, :meth:`Draft.preview` and :meth:`Draft.save`
raise :class:`AuthoringError`, one line saying what to fix, and change
nothing of the draft, so a mistake never loses what was authored.

:meth:`Draft.save` writes the activity into a course folder (``graders/``):

* the key, ``references/<assignment>/<name>.yaml`` (the activity file of
  :mod:`dicomteach.activities.spec`, reference included), with a drawn
  delineation as a DICOM SEG and an imported SEG or RTSTRUCT copied beside it:
  only under ``references/``, never under ``source/`` (docs/decisions.md,
  decisions 4 and 28);
* the assignment, ``source/<assignment>/<assignment>.ipynb``: the activity's
  cells appended (:mod:`dicomteach.course.assignment`), and an imported study
  (each imported case of a worklist) copied beside the notebook so that
  learners receive it with the release.

Types this module does not know (added to :mod:`dicomteach.activities` later)
are authored too: their own keys and reference are written as YAML
(:attr:`Draft.extra`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.activities import Activity
from dicomteach.activities.spec import SpecProblem, check_name
from dicomteach.course.assignment import (
    activity_names,
    add_activity,
    new_notebook,
    read_notebook,
    write_notebook,
)
from dicomteach.course.library import STUDIES_FOLDER, LibraryStudy, study_facts
from dicomteach.errors import DicomTeachError

__all__ = [
    "BUILT_IN_KINDS",
    "AuthoringError",
    "Course",
    "Draft",
    "Saved",
    "Target",
    "activity_kinds",
]

#: The types whose answer key the app has an editor for, in the order it lists them.
BUILT_IN_KINDS = ("hotspot", "labels", "delineate", "multiple-choice", "worklist")
#: The types asked on no single study of their own (a worklist lists its cases).
NO_STUDY_KINDS = ("multiple-choice", "worklist")

DEFAULT_RADIUS_MM = 10.0
"""The radius a new target gets: a finding of about two centimetres."""


class AuthoringError(DicomTeachError):
    """Something the instructor must fix before previewing or saving: one line."""


def activity_kinds() -> list[str]:
    """Every activity type of :mod:`dicomteach.activities`, the ones drawn on the image first.

    >>> activity_kinds()[:5]
    ['hotspot', 'labels', 'delineate', 'multiple-choice', 'worklist']
    """
    known = [k for k in BUILT_IN_KINDS if k in Activity.types]
    return known + sorted(set(Activity.types) - set(known))


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder: ``source/``, ``references/`` and ``studies/`` inside."""

    root: Path

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> Course:
        """The course of folder ``start`` (default: here): itself or its ``graders/``.

        Raises ``DicomTeachError`` when neither holds ``nbgrader_config.py``.
        """
        here = Path(start if start is not None else Path.cwd()).resolve()
        for candidate in (here, here / "graders"):
            if (candidate / "nbgrader_config.py").is_file():
                return cls(candidate)
        raise DicomTeachError(
            "holds no nbgrader course (no nbgrader_config.py here or in graders/): "
            "pass --course DIR",
            here,
        )

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def references(self) -> Path:
        return self.root / "references"

    @property
    def studies(self) -> Path:
        return self.root / STUDIES_FOLDER

    def assignments(self) -> list[str]:
        """The assignments in ``source/``, by name."""
        if not self.source.is_dir():
            return []
        return sorted(p.name for p in self.source.iterdir() if p.is_dir())

    def notebook(self, assignment: str) -> Path:
        return self.source / assignment / f"{assignment}.ipynb"


@dataclass
class Target:
    """A place on the image the key is made of: a finding to click, or where a label goes."""

    name: str
    slice: int
    """Numbered from 1, as learners read slices."""
    row: float
    column: float
    radius_mm: float = DEFAULT_RADIUS_MM

    def region(self) -> dict[str, Any]:
        """The region of the activity file (:mod:`dicomteach.activities.targets`)."""
        return {
            "point": [round(float(self.row), 1), round(float(self.column), 1)],
            "slice": int(self.slice),
            "radius_mm": float(self.radius_mm),
        }


@dataclass
class Saved:
    """What :meth:`Draft.save` wrote."""

    notebook: Path
    key: Path
    files: list[Path] = field(default_factory=list)
    """Other files written: reference objects under ``references/``, a study under ``source/``."""
    replaced: bool = False

    def summary(self, course: Course) -> str:
        def rel(path: Path) -> str:
            return os.path.relpath(path, course.root.parent)

        verb = "replaced in" if self.replaced else "added to"
        return f"Saved: {verb} {rel(self.notebook)}, key in {rel(self.key)}."


def _problem(key: str, exc: SpecProblem) -> AuthoringError:
    return AuthoringError(f"{key} {exc.problem}")


class Draft:
    """What an instructor has authored so far (see the module docstring).

    Examples
    --------
    >>> import tempfile
    >>> from dicomteach.course.library import SAMPLE_STUDIES
    >>> draft = Draft(Course(Path(tempfile.mkdtemp())))
    >>> draft.check()
    Traceback (most recent call last):
    ...
    dicomteach.course.authoring.AuthoringError: Choose a study first: click a picture of the library, or import one.
    >>> draft.study, draft.kind = SAMPLE_STUDIES[0], "multiple-choice"
    >>> draft.assignment, draft.name, draft.prompt = "quiz", "finding", "What does it show?"
    >>> draft.options, draft.right_option = ["Normal", "Nodule"], "Nodule"
    >>> draft.check()
    """

    def __init__(self, course: Course | str | os.PathLike[str]) -> None:
        self.course = course if isinstance(course, Course) else Course(Path(course))
        self.study: LibraryStudy | None = None
        self.kind = BUILT_IN_KINDS[0]
        self.assignment = ""
        self.name = ""
        self.prompt = ""
        self.points: float = 1.0
        self.tolerance_mm: float | None = None
        """None: the type's default."""
        self.window: str | None = None
        """A preset name (``"Lung"``) the learner's image opens with; None: the image's own."""
        self.targets: list[Target] = []
        """Hotspot: the findings; labels: where each label goes (``name`` is the label)."""
        self.labels: list[str] = []
        self.options: list[str] = []
        self.right_option: str | None = None
        self.structures: list[str] = []
        self.mask: np.ndarray | None = None
        """A drawn delineation: label ``i`` is ``structures[i - 1]``, on the study's grid."""
        self.reference_file: Path | None = None
        """An imported SEG, RTSTRUCT or ``.npz`` (used instead of :attr:`mask`)."""
        self.reference_structure: str | None = None
        """Which structure of :attr:`reference_file` is the answer, when it holds several."""
        self.cases: list[LibraryStudy] = []
        """A worklist's studies, in the order they arrived (``Case A``, ``Case B``, …)."""
        self.case_truths: list[str | None] = []
        """A worklist's key: ``"abnormal"`` or ``"normal"`` for each of :attr:`cases`."""
        self.order = "ai"
        """A worklist's order: ``"ai"`` (by the AI's score) or ``"arrival"``."""
        self.extra = ""
        """YAML of the type's own keys and ``reference``, for types without a drawn key."""
        self._volume: Any = None
        self._volume_of: str | None = None

    # ------------------------------------------------------------------ the study

    @property
    def volume(self) -> Any:
        """The study's image (read once per study)."""
        if self.study is None:
            raise AuthoringError(
                "Choose a study first: click a picture of the library, or import one."
            )
        if self._volume_of != self.study.key:
            from dicomteach import io

            self._volume = io.load(self.study.resolve())
            self._volume_of = self.study.key
        return self._volume

    @property
    def activity_class(self) -> type[Activity]:
        if self.kind not in Activity.types:
            raise AuthoringError(
                f"Choose an activity type ({', '.join(activity_kinds())}), not {self.kind!r}."
            )
        return Activity.types[self.kind]

    # ------------------------------------------------------------------ checks

    def check(self) -> None:
        """Raise :class:`AuthoringError` for the first thing to fix before saving."""
        if self.study is None and self.kind not in NO_STUDY_KINDS:
            raise AuthoringError(
                "Choose a study first: click a picture of the library, or import one."
            )
        self.activity_class  # noqa: B018 - a type that exists
        self._check_names()
        if not self.prompt.strip():
            raise AuthoringError("Write the prompt: what is the learner asked?")
        if not _positive(self.points):
            raise AuthoringError(f"Points must be more than 0, not {self.points!r}.")
        if self.tolerance_mm is not None and not _positive(self.tolerance_mm, zero=True):
            raise AuthoringError(f"The tolerance must be 0 mm or more, not {self.tolerance_mm!r}.")
        self._own_keys()
        self._check_key()

    def _check_names(self) -> None:
        for label, value in (
            ("The assignment's name", self.assignment),
            ("The activity's name", self.name),
        ):
            try:
                check_name(value.strip() if isinstance(value, str) else value)
            except SpecProblem as exc:
                raise _problem(label, exc) from None

    def _check_key(self) -> None:
        kind = self.kind
        if kind in ("hotspot", "labels"):
            names = [t.name for t in self.targets]
            if kind == "hotspot" and not self.targets:
                raise AuthoringError(
                    "Click the finding on the image: the key needs at least one target."
                )
            if len({n.casefold() for n in names}) != len(names):
                raise AuthoringError("Two targets have the same name: rename one.")
            for target in self.targets:
                if not _positive(target.radius_mm):
                    raise AuthoringError(
                        f"The radius of {target.name!r} must be more than 0 mm, not {target.radius_mm!r}."
                    )
            if kind == "labels":
                placed = {n.casefold() for n in names}
                missing = [label for label in self.labels if label.casefold() not in placed]
                if missing:
                    raise AuthoringError(
                        f"Place {missing[0]!r} on the image (drag its name onto it)."
                    )
        elif kind == "multiple-choice":
            if self.right_option not in self.options:
                raise AuthoringError("Choose which option is right.")
        elif kind == "worklist":
            self._check_cases()
        elif kind == "delineate":
            if self.reference_file is None:
                mask = self.mask
                for value, name in enumerate(self.structures, start=1):
                    if mask is None or not np.any(mask == value):
                        raise AuthoringError(
                            f"Draw {name!r} on the image, or import a SEG or RTSTRUCT as the key."
                        )
        elif "reference" not in self._extra():
            raise AuthoringError("Write the answer key under 'reference:' in the YAML box.")

    def _check_cases(self) -> None:
        """Each case a study the AI scores, listed once, and said abnormal or normal."""
        from dicomteach.activities.worklist import SCORED_MODALITIES, case_label

        seen: dict[str, str] = {}
        for n, study in enumerate(self.cases):
            label = f"{case_label(n)} ({study.title})"
            if study.key in seen:
                raise AuthoringError(
                    f"{label} is the same study as {seen[study.key]}: take one of them out."
                )
            seen[study.key] = case_label(n)
            modality = study_facts(study).modality
            if modality not in SCORED_MODALITIES:
                raise AuthoringError(
                    f"{label} is {modality or 'of no modality'}: the worklist's AI scores chest "
                    f"radiographs and CTs ({', '.join(SCORED_MODALITIES)}); take it out."
                )
        truths = list(self.case_truths) + [None] * (len(self.cases) - len(self.case_truths))
        for n, (study, truth) in enumerate(zip(self.cases, truths, strict=False)):
            if truth not in ("abnormal", "normal"):
                raise AuthoringError(
                    f"Say whether {case_label(n)} ({study.title}) is abnormal or normal."
                )

    # ------------------------------------------------------------------ the activity's keys

    def _extra(self) -> dict[str, Any]:
        import yaml

        try:
            data = yaml.safe_load(self.extra) if self.extra.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise AuthoringError(f"The YAML box is not valid YAML{where}.") from None
        if not isinstance(data, dict):
            raise AuthoringError("The YAML box must hold keys and values (key: value).")
        return {str(k): v for k, v in data.items()}

    def _own_keys(self, cases: list[Any] | None = None) -> dict[str, Any]:
        """The type's own keys of the activity file (what a learner's activity needs too);
        ``cases``: where a worklist's studies are (default: where the library has them)."""
        kind = self.kind
        if kind == "hotspot":
            return {"clicks": max(1, len(self.targets))}
        if kind == "labels":
            labels = _names(self.labels)
            if not labels:
                raise AuthoringError("Write the labels the learner places, one per line.")
            return {"labels": labels}
        if kind == "multiple-choice":
            options = _names(self.options)
            if len(options) < 2:
                raise AuthoringError("Write at least two options, one per line.")
            return {"options": options}
        if kind == "worklist":
            from dicomteach.activities.worklist import MAX_CASES

            if not 2 <= len(self.cases) <= MAX_CASES:
                raise AuthoringError(
                    f"Choose 2 to {MAX_CASES} studies for the worklist (it has "
                    f"{len(self.cases)}): click their pictures in the order they arrived."
                )
            if self.order not in ("ai", "arrival"):
                raise AuthoringError(
                    "Choose the worklist's order: by the AI's score, or as they arrived."
                )
            if cases is None:
                cases = [study.location for study in self.cases]
            return {"cases": cases, "order": self.order}
        if kind == "delineate":
            structures = _names(self.structures)
            if not structures:
                raise AuthoringError("Name the structure(s) the learner outlines.")
            keys: dict[str, Any] = {"structures": structures}
            if (
                self.reference_file is not None
                and self.reference_structure
                and len(structures) == 1
            ):
                keys["reference_structure"] = self.reference_structure
            return keys
        own = self._extra()
        own.pop("reference", None)
        allowed = self.activity_class.own_keys
        for key in own:
            if key not in allowed:
                raise AuthoringError(
                    f"'{key}' does not belong in the YAML box: a {kind} activity's own keys "
                    f"are {', '.join(sorted(allowed)) or 'none'} (the rest is in the form)."
                )
        return own

    def _reference(self, folder: Path | None, *, relative: bool = True) -> Any:
        """The key in the activity file's form; files it needs are written into ``folder``
        (named relative to it, or by their absolute path)."""
        kind = self.kind
        if kind == "hotspot":
            return {t.name: t.region() for t in self.targets}
        if kind == "labels":
            by_name = {t.name.casefold(): t for t in self.targets}
            return {label: by_name[label.casefold()].region() for label in _names(self.labels)}
        if kind == "multiple-choice":
            return self.right_option
        if kind == "worklist":
            return list(self.case_truths[: len(self.cases)])
        if kind == "delineate":
            assert folder is not None
            written = self._write_delineation(folder)
            return written.name if relative else str(written.resolve())
        return self._extra()["reference"]

    def _delineation_name(self) -> str:
        """The file name of a delineation's key, beside its activity file."""
        suffix = ".dcm"
        if self.reference_file is not None:
            suffix = Path(self.reference_file).suffix.lower() or suffix
        return f"{self.name.strip()}-reference{suffix}"

    def _write_delineation(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if self.reference_file is not None:
            source = Path(self.reference_file)
            if not source.is_file():
                raise AuthoringError(f"The reference file {source} is not there any more.")
            target = folder / self._delineation_name()
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
            return target
        from dicomteach.roi import write_seg

        assert self.mask is not None
        masks = {name: self.mask == value for value, name in enumerate(_names(self.structures), 1)}
        return write_seg(
            masks,
            self.volume,
            folder / self._delineation_name(),
            series_description=f"Key of {self.name}",
            content_label="KEY",
        )

    def _check_reference_file(self) -> None:
        """An imported key must lie on the study and name the structures the learner draws."""
        if self.kind != "delineate" or self.reference_file is None:
            return
        from dicomteach.roi import load_structures

        found = load_structures(self.reference_file, image=self.volume)
        names = [str(found.names.get(n, n)) for n in found.masks]
        structures = _names(self.structures)
        if len(structures) == 1:
            if self.reference_structure is None and len(names) > 1:
                raise AuthoringError(
                    f"The reference file holds {len(names)} structures ({', '.join(names)}): "
                    "choose the one that is the answer."
                )
            return
        folded = {n.casefold() for n in names}
        missing = [s for s in structures if s.casefold() not in folded]
        if missing:
            raise AuthoringError(
                f"The reference file has no structure {missing[0]!r} (it holds {', '.join(names)})."
            )

    def _build(
        self,
        study: Any,
        *,
        reference: Any = None,
        answer: Path | None = None,
        source: Path | None = None,
        cases: list[Any] | None = None,
    ) -> Activity:
        options: dict[str, Any] = {}
        if self.tolerance_mm is not None and self.kind != "worklist":
            options["tolerance_mm"] = float(self.tolerance_mm)
        if self.window and self.kind != "worklist":  # each case opens at its own window
            options["window"] = self.window
        try:
            return self.activity_class(
                self.name.strip(),
                study,
                prompt=self.prompt,
                points=float(self.points),
                reference=reference,
                answer=answer,
                source=source,
                **options,
                **self._own_keys(cases),
            )
        except (ValueError, DicomTeachError) as exc:
            text = exc.problem if isinstance(exc, DicomTeachError) else str(exc)
            raise AuthoringError(text.removeprefix("Argument ")) from None

    def _study_location(self) -> Any:
        if self.study is None or self.kind == "worklist":
            return None
        return self.study.location

    # ------------------------------------------------------------------ preview

    def preview(self, folder: str | os.PathLike[str]) -> tuple[Activity, Activity]:
        """The learner's activity (no reference) and the same with its key, both answering in
        ``folder``: what a learner sees, and what grades the preview's answer.

        The previous preview's answer is removed: a learner starts with none.
        """
        self.check()
        self._check_reference_file()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        answer = folder / f"{self.name.strip()}{self.activity_class.suffix}"
        answer.unlink(missing_ok=True)
        study = self._study_location()
        learner = self._build(study, answer=answer)
        reference = self._reference(folder / "key", relative=False)
        keyed = self._build(study, reference=reference, answer=answer)
        return learner, keyed

    # ------------------------------------------------------------------ save

    def save(self, *, replace: bool = False) -> Saved:
        """Write the key and the assignment's cells into the course (see the module docstring).

        Raises :class:`AuthoringError` before anything is written for a draft
        that is not complete, an activity name the assignment already has
        (unless ``replace``), or a source notebook that cannot be read.
        """
        self.check()
        self._check_reference_file()
        course, assignment, name = self.course, self.assignment.strip(), self.name.strip()
        notebook_path = course.notebook(assignment)
        keys = course.references / assignment
        key_path = keys / f"{name}.yaml"
        notebook = (
            read_notebook(notebook_path) if notebook_path.exists() else new_notebook(assignment)
        )
        exists = name in activity_names(notebook) or key_path.exists()
        if exists and not replace:
            raise AuthoringError(
                f"{assignment} already has an activity {name!r}: choose another name, "
                "or tick 'Replace' to overwrite it."
            )
        learner_study, key_study = self._study_location(), self._study_location()
        imported = [] if learner_study is None or self.study is None else [self.study]
        if self.kind == "worklist":
            imported = self.cases
        imported = [study for study in imported if not study.is_sample]
        learner_cases = key_cases = [study.location for study in self.cases]
        if imported:
            copied = {s.key: course.source / assignment / s.resolve().name for s in imported}
            if learner_study is not None:
                assert self.study is not None
                there = copied[self.study.key]
                learner_study, key_study = there.name, os.path.relpath(there, keys)
            learner_cases = [
                copied[s.key].name if s.key in copied else s.location for s in self.cases
            ]
            key_cases = [
                os.path.relpath(copied[s.key], keys) if s.key in copied else s.location
                for s in self.cases
            ]
        # everything is checked before anything is written
        planned = self._delineation_name() if self.kind == "delineate" else self._reference(None)
        self._build(key_study, reference=planned, source=key_path, cases=key_cases)
        try:
            learner = self._build(learner_study, cases=learner_cases)
            updated = add_activity(notebook, learner, replace=replace)
        except ValueError as exc:
            raise AuthoringError(f"{notebook_path}: {exc}") from None
        files = [self._copy_study(study, course.source / assignment) for study in imported]
        reference = self._reference(keys)
        if self.kind == "delineate":
            files.append(keys / reference)
        keyed = self._build(key_study, reference=reference, source=key_path, cases=key_cases)
        keyed.save(key_path, reference=True)
        write_notebook(notebook_path, updated)
        return Saved(notebook_path, key_path, files, replaced=exists)

    def _copy_study(self, study: LibraryStudy, folder: Path) -> Path:
        """An imported series beside the notebook (released with it); once per assignment."""
        source = study.resolve()
        target = folder / source.name
        if not target.exists():
            staging = folder / f".{source.name}.part"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(source, staging)
            staging.rename(target)
        return target


def _positive(value: object, *, zero: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        return False
    return value >= 0 if zero else value > 0


def _names(values: list[str]) -> list[str]:
    return [" ".join(v.split()) for v in values if isinstance(v, str) and v.strip()]
