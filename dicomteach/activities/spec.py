"""The activity file: one small YAML file per activity, read and checked here.

An instructor writes an activity as a YAML mapping; this module owns the
format (its keys, :data:`SPEC_VERSION`) and the one-line errors that name the
file and the key (docs/decisions.md, decision 7). The keys every activity has:

``type``
    ``hotspot``, ``labels``, ``delineate``, ``multiple-choice``,
    ``compare-findings``, ``second-reader``, ``second-reader-outline`` or
    ``critique-ai`` (the last three
    on the nodule model's marks, ``dicomteach/activities/ai_reading.py``,
    with ``threshold``: the probability from which a mark is shown).
``study``
    The image: a path relative to the YAML file, or a study of the sample
    library, ``{sample: ct-chest, path: baseline/ct, size: 256, slices: 60}``
    (written once into the sample cache, ``dicomteach/samples/cache.py``).
``prompt``
    What the learner is asked, in one or a few sentences.
``points``
    Points for a perfect answer (the nbgrader cell that grades it gives the same).
``reference``
    The answer key, whose form depends on the type (see each activity); never
    in a file that reaches learners (docs/decisions.md, decision 4). A
    ``delineate`` activity outlined by several experts lists their files
    under ``experts`` instead, one file per expert (``Delineate``; graded
    against their consensus, docs/decisions.md, decision 29).
``tolerance_mm``
    How far off an answer may be and still count, in millimetres.

Optional everywhere: ``version`` (of this format; a newer one is refused),
``name`` (default: the file's stem; it names the answer file and the
``grade("name")`` call), ``window`` (a preset name such as ``Lung``, or
``[center, width]``) and ``slice`` (the slice shown first, numbered from 1).
Unknown keys are refused, so a misspelt ``tolerence_mm`` is not silently ignored.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomteach.errors import DicomTeachError

__all__ = [
    "NAME_PATTERN",
    "SPEC_VERSION",
    "ActivityError",
    "Location",
    "SpecProblem",
    "read_spec",
]

SPEC_VERSION = 1
"""The version of the activity file written; files of a later version are refused."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""An activity's name: it becomes a file name beside the notebook, so letters, digits, ``_``, ``-``."""

MAX_SPEC_BYTES = 256 * 1024
"""An activity file is a few hundred bytes; anything past this is not one."""

_SAMPLE_OPTIONS = {"seed", "size", "slices", "rows", "columns"}


class ActivityError(DicomTeachError):
    """An activity file (or the arguments of an activity) that cannot be used: one line."""


class SpecProblem(Exception):
    """What is wrong with one key; turned into an :class:`ActivityError` or a ``ValueError``."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem

    def as_error(self, path: str | os.PathLike[str] | None) -> Exception:
        """An ``ActivityError`` naming the file and the key, or a ``ValueError`` naming the argument."""
        if path is None:
            return ValueError(f"Argument '{self.key}' {self.problem}")
        return ActivityError(f"'{self.key}' {self.problem}", path)


@dataclass(frozen=True)
class Location:
    """Where a file or folder is: a path, or a path inside a study of the sample library.

    ``base`` is the folder relative paths start from (the activity file's).

    >>> Location("baseline/ct", sample="ct-chest", options={"size": 256}).describe()
    "baseline/ct of the sample study 'ct-chest' (size=256)"
    >>> Location.parse("images/ct", "study", Path("/course/refs")).resolve()
    PosixPath('/course/refs/images/ct')
    """

    path: str
    sample: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    base: Path | None = None

    @classmethod
    def parse(cls, value: object, key: str, base: Path | None) -> Location:
        """A location from a string or ``{sample: NAME, path: REL, seed/size/slices/rows/columns}``."""
        if isinstance(value, Location):
            return value
        if isinstance(value, str | os.PathLike):
            text = os.fspath(value).strip()
            if not text:
                raise SpecProblem(key, "must not be empty")
            return cls(text, base=base)
        if isinstance(value, Mapping):
            unknown = sorted(set(map(str, value)) - {"sample", "path"} - _SAMPLE_OPTIONS)
            if unknown:
                raise SpecProblem(key, f"has unknown keys {unknown}")
            sample, path = value.get("sample"), value.get("path", "")
            if not isinstance(sample, str) or not sample:
                raise SpecProblem(key, "must name a 'sample' study (e.g. ct-chest) or be a path")
            if not isinstance(path, str) or Path(path).is_absolute() or ".." in Path(path).parts:
                raise SpecProblem(
                    key, f"'path' must be a relative path inside the study, not {path!r}"
                )
            options = {}
            for name in sorted(_SAMPLE_OPTIONS & set(value)):
                number = value[name]
                if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                    raise SpecProblem(key, f"'{name}' must be a whole number, not {number!r}")
                options[name] = number
            return cls(path, sample=sample, options=options, base=base)
        raise SpecProblem(key, f"must be a path or a sample study, not {type(value).__name__}")

    def resolve(self) -> Path:
        """The path on this machine (a sample study is written into the cache on first use)."""
        if self.sample is not None:
            from dicomteach.samples.cache import lesson_study

            options = dict(self.options)
            seed = int(options.pop("seed", 0))
            return lesson_study(self.sample, seed=seed, **options) / self.path
        path = Path(self.path).expanduser()
        if not path.is_absolute() and self.base is not None:
            path = self.base / path
        return path

    def describe(self) -> str:
        """The location in words, for messages."""
        if self.sample is None:
            return self.path
        extra = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.path} of the sample study {self.sample!r}" + (f" ({extra})" if extra else "")

    def as_yaml(self) -> object:
        """The value written back into an activity file."""
        if self.sample is None:
            return self.path
        return {"sample": self.sample, "path": self.path, **self.options}


def read_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping of an activity file, checked to be one (not its keys: each activity does that).

    Raises
    ------
    ActivityError
        Missing, too large, not YAML, not a mapping, or of a newer version
        (one line naming the file).

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "nodule.yaml"
    >>> _ = target.write_text("type: delineate\\nprompt: Outline the nodule\\n")
    >>> sorted(read_spec(target).items())
    [('prompt', 'Outline the nodule'), ('type', 'delineate')]
    >>> _ = target.write_text("- a list\\n")
    >>> read_spec(target)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dicomteach.activities.spec.ActivityError: /...nodule.yaml: must hold a YAML mapping of keys (type, study, prompt, …), not a list
    """
    import yaml

    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        if size > MAX_SPEC_BYTES:
            raise ActivityError(
                f"is {size} bytes; an activity file is at most {MAX_SPEC_BYTES}", name
            )
        with open(name, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ActivityError(f"cannot be read ({exc.strerror or exc})", name) from None
    except UnicodeDecodeError:
        raise ActivityError("is not UTF-8 text", name) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ActivityError(f"is not valid YAML{line} ({problem})", name) from None
    if not isinstance(data, dict):
        raise ActivityError(
            "must hold a YAML mapping of keys (type, study, prompt, …), "
            f"not {'nothing' if data is None else 'a ' + type(data).__name__}",
            name,
        )
    version = data.get("version", SPEC_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ActivityError(f"'version' must be a whole number, not {version!r}", name)
    if version > SPEC_VERSION:
        raise ActivityError(
            f"'version' {version} was written by a newer dicomteach (this one reads {SPEC_VERSION})",
            name,
        )
    return {str(k): v for k, v in data.items()}


# ---------------------------------------------------------------------- checks of one key


def check_name(value: object, key: str = "name") -> str:
    """An activity name that is safe as a file name.

    >>> check_name("nodule")
    'nodule'
    >>> check_name("../x")
    Traceback (most recent call last):
    ...
    dicomteach.activities.spec.SpecProblem: name: must be letters, digits, '_' or '-' (at most 64), not '../x'
    """
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise SpecProblem(key, f"must be letters, digits, '_' or '-' (at most 64), not {value!r}")
    return value


def check_text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecProblem(key, f"must be a non-empty text, not {value!r:.60}")
    return value.strip()


def check_number(value: object, key: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecProblem(key, f"must be a number, not {value!r:.40}")
    if value < 0 or (positive and value == 0):
        raise SpecProblem(key, f"must be {'> 0' if positive else '≥ 0'}, not {value!r}")
    return float(value)


def check_names(value: object, key: str, *, at_least: int = 1) -> list[str]:
    """A list of distinct non-empty names (case and spaces ignored when comparing)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or len(value) < at_least:
        raise SpecProblem(key, f"must be a list of at least {at_least} names, not {value!r:.60}")
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise SpecProblem(key, f"must hold non-empty names, not {item!r:.40}")
        text = " ".join(item.split())
        if text.casefold() in (n.casefold() for n in names):
            raise SpecProblem(key, f"holds {text!r} twice")
        names.append(text)
    return names


def check_keys(data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecProblem(
            unknown[0], f"is not a key of this activity (it takes {', '.join(sorted(allowed))})"
        )
