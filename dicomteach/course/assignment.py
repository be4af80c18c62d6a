"""An nbgrader source notebook made of activities: the cells written, appended or replaced.

Each activity takes three cells, with the nbgrader metadata of the course's
examples (``graders/source/ct-nodule/ct-nodule.ipynb``):

* ``about-<name>``, markdown, read-only: the question's number and points;
* ``show-<name>``, code, read-only: the activity built **without** its
  reference (what a learner runs: the widget and the answer file);
* ``grade-<name>``, an autograder cell, read-only, worth the activity's
  points, holding only ``grade("<name>")`` (docs/decisions.md, decision 28).

Nothing of the answer key is written into the notebook: the key is the
activity file in the course's ``references/`` (decision 4).
"""

from __future__ import annotations

import json
import keyword
import os
from pathlib import Path
from typing import Any

import dicomteach.activities
from dicomteach.activities import Activity
from dicomteach.errors import DicomTeachError

__all__ = ["activity_cell_source", "activity_names", "add_activity", "new_notebook"]

#: What the autograder cell holds: the activity's name and nothing else.
GRADE_SOURCE = 'from dicomteach.activities import grade\n\ngrade("{name}")'

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
"""A source notebook of prompts and code is small; anything larger is not read."""


def _literal(value: Any) -> str:
    """Python source for a value of an activity file (text, numbers, lists, mappings)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid Python string, in double quotes
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} into a notebook cell")


def _variable(name: str) -> str:
    variable = name.replace("-", "_")
    if variable[0].isdigit() or keyword.iskeyword(variable):
        variable = f"activity_{variable}"
    return variable


def _import_of(cls: type[Activity]) -> str:
    module = cls.__module__
    if getattr(dicomteach.activities, cls.__name__, None) is cls:
        module = "dicomteach.activities"
    return f"from {module} import {cls.__name__}"


def activity_cell_source(activity: Activity) -> str:
    """The code a learner runs: the activity built from its keys, without its reference.

    >>> from dicomteach.activities import MultipleChoice
    >>> quiz = MultipleChoice("finding", None, prompt="What is it?", options=["A", "B"],
    ...                       reference="B")
    >>> print(activity_cell_source(quiz))
    from dicomteach.activities import MultipleChoice
    <BLANKLINE>
    finding = MultipleChoice(
        "finding",
        None,
        prompt="What is it?",
        points=1,
        options=["A", "B"],
    )
    finding
    """
    keys = _public_keys(activity)
    for key in ("version", "type", "name", "reference", "tolerance_mm"):
        keys.pop(key, None)
    study = keys.pop("study", None)
    variable = _variable(activity.name)
    lines = [
        _import_of(type(activity)),
        "",
        f"{variable} = {type(activity).__name__}(",
        f"    {_literal(activity.name)},",
        f"    {_literal(study)},",
        *(f"    {key}={_literal(value)}," for key, value in keys.items()),
        ")",
        variable,
    ]
    return "\n".join(lines)


def _public_keys(activity: Activity) -> dict[str, Any]:
    """The activity file's keys without the reference (``to_dict`` wants a study; a
    multiple choice may have none)."""
    public = activity.public()
    if public.study is not None:
        return public.to_dict()
    data: dict[str, Any] = {"study": None, "prompt": public.prompt, "points": public.points}
    data.update(public._options_dict())
    if public.window is not None:
        data["window"] = public.window if isinstance(public.window, str) else list(public.window)
    if public.slice is not None:
        data["slice"] = public.slice
    return data


def _cell(kind: str, grade_id: str, source: str, *, points: float | None = None) -> dict:
    meta: dict[str, Any] = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": grade_id,
        "metadata": {"nbgrader": meta},
        "source": source,
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def new_notebook(assignment: str) -> dict:
    """An empty assignment: its title and how answers are kept, with nbgrader's metadata."""
    intro = (
        f"# {assignment}\n\n"
        "Every answer is saved beside this notebook as you give it: you can close the "
        "notebook and carry on later. Submit the assignment when you are done; it is "
        "graded after the deadline."
    )
    return {
        "cells": [_cell("markdown", "intro", intro)],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _grade_id(cell: dict) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return str(meta.get("grade_id", "")) if isinstance(meta, dict) else ""


def activity_names(notebook: dict) -> list[str]:
    """The activities the notebook grades, in order (its ``grade-<name>`` cells)."""
    return [
        gid.removeprefix("grade-")
        for gid in map(_grade_id, notebook.get("cells", []))
        if gid.startswith("grade-")
    ]


def add_activity(notebook: dict, activity: Activity, *, replace: bool = False) -> dict:
    """``notebook`` with the activity's three cells appended (or, with ``replace``, swapped in).

    Raises ``ValueError`` when the notebook already has an activity of that name
    and ``replace`` is false.

    >>> from dicomteach.activities import MultipleChoice
    >>> quiz = MultipleChoice("finding", None, prompt="What is it?", options=["A", "B"],
    ...                       reference="B", points=2)
    >>> book = add_activity(new_notebook("quiz"), quiz)
    >>> [c["id"] for c in book["cells"]], activity_names(book)
    (['intro', 'about-finding', 'show-finding', 'grade-finding'], ['finding'])
    >>> book["cells"][-1]["metadata"]["nbgrader"]["points"], book["cells"][-1]["source"]
    (2.0, 'from dicomteach.activities import grade\\n\\ngrade("finding")')
    """
    name = activity.name
    names = activity_names(notebook)
    if name in names and not replace:
        raise ValueError(f"the assignment already has an activity {name!r}")
    number = names.index(name) + 1 if name in names else len(names) + 1
    points = f"{activity.points:g} point{'s' if activity.points != 1 else ''}"
    cells = [
        _cell("markdown", f"about-{name}", f"## Question {number} ({points})"),
        _cell("code", f"show-{name}", activity_cell_source(activity)),
        _cell("code", f"grade-{name}", GRADE_SOURCE.format(name=name), points=activity.points),
    ]
    ours = {f"about-{name}", f"show-{name}", f"grade-{name}"}
    kept = list(notebook.get("cells", []))
    taken = {_grade_id(c) for c in kept} & ours
    if taken and name not in names:
        raise ValueError(f"cells named {sorted(taken)} are already in the notebook")
    if name in names:
        at = min(i for i, c in enumerate(kept) if _grade_id(c) in ours)
        kept = [c for c in kept if _grade_id(c) not in ours]
        kept[at:at] = cells
    else:
        kept += cells
    return {**notebook, "cells": kept}


def read_notebook(path: str | os.PathLike[str]) -> dict:
    """A source notebook, checked to be one (one-line ``DicomTeachError`` otherwise)."""
    name = os.fspath(path)
    try:
        if os.path.getsize(name) > MAX_NOTEBOOK_BYTES:
            raise DicomTeachError(f"is larger than {MAX_NOTEBOOK_BYTES} bytes", name)
        with open(name, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise DicomTeachError(f"cannot be read ({exc.strerror or exc})", name) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DicomTeachError(f"is not a notebook ({exc})", name) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DicomTeachError("is not a notebook (no list of cells)", name)
    return data


def write_notebook(path: str | os.PathLike[str], notebook: dict) -> Path:
    """Write ``notebook`` atomically (one cell id per cell, as nbformat 4.5 wants)."""
    from dicomteach.io.atomic import write_atomically

    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))
