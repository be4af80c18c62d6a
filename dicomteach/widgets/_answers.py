"""The answer file beside the notebook, shared by the widgets a learner answers with.

Delineator (``.npz``), Hotspot and LabelDrop (``.json``) write their answer to a
file beside the notebook on every change (docs/decisions.md, decision 3). They share
here: where that file is (:func:`answer_path`), what happens to a file that is
there but cannot be used (:func:`move_aside`: renamed to
``<stem>.moved-<YYYYmmdd-HHMMSS><suffix>``, never overwritten), the warning
(:class:`AnswerFileMovedWarning`) and the notice the learner reads.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AnswerFileMovedWarning", "MovedAnswer", "answer_path", "free_name", "move_aside"]


class AnswerFileMovedWarning(UserWarning):
    """An answer file could not be used: moved aside (never overwritten), or not written."""


def answer_path(answer: object, suffix: str, *, optional: bool = False) -> Path | None:
    """The absolute path of an answer file named relative to the notebook's folder.

    The kernel's working directory is the notebook's folder when the widget is
    made; the path is fixed then, so a later ``os.chdir`` does not move it.
    ``None`` is allowed (no file: the answer is kept in memory only) when
    ``optional``.

    >>> answer_path("q1.json", ".json") == Path.cwd() / "q1.json"
    True
    >>> answer_path("q1.txt", ".json")
    Traceback (most recent call last):
    ...
    ValueError: Argument 'answer' must name a .json file, not 'q1.txt'
    """
    if answer is None and optional:
        return None
    if not isinstance(answer, str | os.PathLike) or not os.fspath(answer).strip():
        alternative = " (or None)" if optional else ""
        raise ValueError(
            f"Argument 'answer' must be the path of a {suffix} file{alternative}, not {answer!r}"
        )
    path = Path(os.fspath(answer))
    if path.suffix.lower() != suffix:
        raise ValueError(f"Argument 'answer' must name a {suffix} file, not {os.fspath(answer)!r}")
    if path.is_dir():
        raise ValueError(f"Argument 'answer' is a folder, not a file: {os.fspath(answer)!r}")
    return path.absolute()


def free_name(path: Path, tag: str) -> Path:
    """``<stem>.<tag>-<YYYYmmdd-HHMMSS>[-n]<suffix>`` beside ``path``, a name not yet taken.

    Still ending in the answer's suffix, so what is kept opens as an answer.

    >>> name = free_name(Path("answers") / "delineation.npz", "moved").name
    >>> name.startswith("delineation.moved-"), name.endswith(".npz"), len(name)
    (True, True, 37)
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        extra = "" if n == 1 else f"-{n}"
        candidate = path.with_name(f"{path.stem}.{tag}-{stamp}{extra}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise OSError(f"no free name beside {path}")


@dataclass(frozen=True)
class MovedAnswer:
    """What :func:`move_aside` did: where the old file is, where the work now goes."""

    kept: Path
    """The file that could not be used, under its new name, or where it was if not moved."""
    answer: Path
    """Where this widget saves from now on: the original path, or a new one if not moved."""
    notice: str
    """One line for the learner, also the warning's message."""


def move_aside(path: Path, reason: str, *, stacklevel: int = 2) -> MovedAnswer:
    """Rename an answer file that cannot be used, warn, and say where the work goes.

    ``reason`` completes "The answer file X was not used: …" (e.g. "it holds an
    answer on another series"). If the file cannot be renamed it is left
    untouched and the work is saved under a new name beside it instead: an
    existing file is never overwritten.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "hotspot.json"
    >>> _ = path.write_text("{broken")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     moved = move_aside(path, "it could not be read")
    >>> moved.kept.name.startswith("hotspot.moved-"), moved.kept.read_text(), path.exists()
    (True, '{broken', False)
    >>> caught[0].category.__name__, moved.answer == path
    ('AnswerFileMovedWarning', True)
    """
    try:
        kept = free_name(path, "moved")
        os.replace(path, kept)
    except OSError as exc:
        answer = free_name(path, "new")
        notice = (
            f"The answer file {path.name} was not used: {reason}. It could not be moved aside "
            f"({exc.strerror or exc}), so it is left untouched and your work here is saved "
            f"in {answer.name}."
        )
        kept = path
    else:
        answer = path
        notice = (
            f"The answer file {path.name} was not used: {reason}. It was moved aside to "
            f"{kept.name}; your work here is saved in {path.name}."
        )
    warnings.warn(notice, AnswerFileMovedWarning, stacklevel=stacklevel + 1)
    return MovedAnswer(kept, answer, notice)
