"""Grade a whole class: nbgrader's autograde for every submission, then per-structure metrics.

nbgrader's gradebook holds one score per autograder cell. An instructor also
wants to see *how* each learner did (the Dice of each structure, how far each
click fell), and to know that the points nbgrader recorded are the ones the
answer files earn: the learner's notebook runs their own cells before the
test cells (docs/decisions.md, decision 28). So, after autograding, every
answer file of ``submitted/<learner>/<assignment>/`` is graded again here,
in this process, against the keys in ``references/<assignment>/``; each row
carries both scores and says whether they agree.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from dicomteach.errors import DicomTeachError

__all__ = ["CSV_COLUMNS", "grade_class", "write_csv"]

#: The columns of the class gradebook, in order: one row per learner, activity and structure.
CSV_COLUMNS = (
    "assignment",
    "student",
    "activity",
    "type",
    "structure",
    "points",
    "max_points",
    "nbgrader_points",
    "agrees",
    "status",
    "dice",
    "surface_dice",
    "hd95_mm",
    "msd_mm",
    "volume_diff_pct",
    "distance_mm",
    "correct",
    "reason",
)

_GRADE_CALL = re.compile(r"""\bgrade\(\s*["']([A-Za-z0-9][A-Za-z0-9_-]*)["']\s*\)""")


def _config(course: Path) -> Any:
    from traitlets.config.loader import PyFileConfigLoader

    if not (course / "nbgrader_config.py").is_file():
        raise DicomTeachError("holds no nbgrader_config.py: not a course folder", course)
    try:
        return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    except Exception as exc:
        raise DicomTeachError(f"nbgrader_config.py does not load ({exc})", course) from None


def _grade_cells(course: Path, assignment: str) -> dict[str, tuple[str, str]]:
    """Activity name → (notebook, grade cell id), from the source notebooks' ``grade(...)`` calls."""
    found: dict[str, tuple[str, str]] = {}
    for notebook in sorted((course / "source" / assignment).glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8")).get("cells", []):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade"):
                continue
            for name in _GRADE_CALL.findall("".join(cell.get("source", ""))):
                found[name] = (notebook.stem, meta.get("grade_id", ""))
    return found


def _rows_of(feedback: Any, activity: Any) -> list[dict[str, Any]]:
    """One row per structure, finding or label (one row for the activity when it has none)."""
    base = {
        "activity": activity.name,
        "type": activity.kind,
        "points": feedback.points,
        "max_points": feedback.max_points,
        "status": str(feedback.status),
        "reason": feedback.details.get("problem", "") if feedback.status != "graded" else "",
    }
    details = feedback.details
    if feedback.scores is not None:
        return [
            {**base, "structure": activity.structures[0], **_metrics(feedback.scores.as_dict())}
        ]
    if "structures" in details:
        return [
            {**base, "structure": name, **_metrics(part.get("scores") or {})}
            for name, part in details["structures"].items()
        ]
    for key in ("findings", "labels"):
        if key in details:
            return [
                {
                    **base,
                    "structure": name,
                    "distance_mm": result.get("distance_mm", ""),
                    "correct": result.get("found", result.get("correct")),
                }
                for name, result in details[key].items()
            ]
    if "choice" in details:
        return [{**base, "structure": details["choice"], "correct": feedback.points > 0}]
    return [{**base, "structure": ""}]


def _metrics(scores: dict[str, Any]) -> dict[str, Any]:
    return {
        k: scores.get(k) for k in ("dice", "surface_dice", "hd95_mm", "msd_mm", "volume_diff_pct")
    }


def grade_class(
    course: str | os.PathLike[str],
    assignment: str,
    *,
    students: Sequence[str] | None = None,
    autograde: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Autograde every submission of ``assignment`` and grade its answer files; the rows.

    Parameters
    ----------
    course : path
        The course folder (``nbgrader_config.py``, ``source/``, ``references/``,
        ``submitted/``).
    students : sequence of str, optional
        Only these learners (default: every folder ``submitted/*/<assignment>``).
    autograde : bool
        Run nbgrader's autograde first (off: only the answer files are graded).
    progress : callable, optional
        ``progress(done, total, student)`` before each learner and at the end.

    A submission nbgrader cannot autograde gets a row saying so; the class goes
    on. Raises :class:`~dicomteach.errors.DicomTeachError` for a folder that is
    not a course or an assignment without keys or submissions.
    """
    from dicomteach.activities import Activity

    course = Path(course).absolute()
    config = _config(course)
    keys = sorted((course / "references" / assignment).glob("*.yaml"))
    if not keys:
        raise DicomTeachError(f"has no answer keys references/{assignment}/*.yaml", course)
    activities = [Activity.load(key) for key in keys]  # a broken key stops here, in one line
    submitted = course / "submitted"
    everyone = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    chosen = list(students) if students else everyone
    missing = sorted(set(chosen) - set(everyone))
    if missing:
        raise DicomTeachError(
            f"has no submission of {assignment} by {', '.join(missing)}", submitted
        )
    if not chosen:
        raise DicomTeachError(
            f"has no submission of {assignment}: collect them first (nbgrader collect {assignment})",
            submitted,
        )
    cells = _grade_cells(course, assignment)
    api = None
    if autograde:
        _alembic_on_path()
        from nbgrader.apps import NbGraderAPI

        api = NbGraderAPI(config=config)
    rows: list[dict[str, Any]] = []
    for done, student in enumerate(chosen):
        if progress is not None:
            progress(done, len(chosen), student)
        failed = ""
        if api is not None:
            result = api.autograde(assignment, student)
            if not result.get("success"):
                failed = "nbgrader could not autograde this submission: " + _last_line(result)
        recorded = _recorded(config, course, assignment, student, cells) if not failed else {}
        folder = submitted / student / assignment
        for activity in activities:
            feedback = activity.grade(folder / f"{activity.name}{activity.suffix}")
            theirs = recorded.get(activity.name)
            for row in _rows_of(feedback, activity):
                row.update(assignment=assignment, student=student, nbgrader_points=theirs)
                row["agrees"] = "" if theirs is None else abs(theirs - feedback.points) < 0.01
                if failed:
                    row["status"], row["reason"] = "autograde failed", failed
                rows.append(row)
    if progress is not None:
        progress(len(chosen), len(chosen), "done")
    return rows


def _recorded(
    config: Any, course: Path, assignment: str, student: str, cells: dict[str, tuple[str, str]]
) -> dict[str, float]:
    """The points nbgrader's gradebook holds for each activity's grade cell.

    The gradebook is where the course's configuration says, else where nbgrader
    puts it by default (``gradebook.db`` in the course folder); none: no points.
    """
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, float] = {}
    directory = config.CourseDirectory
    db_url = directory.db_url if "db_url" in directory else f"sqlite:///{course / 'gradebook.db'}"
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///") :]).is_file():
        return out  # never autograded here: nothing recorded (and no empty gradebook made)
    course_id = directory.course_id if "course_id" in directory else ""
    with Gradebook(db_url, course_id) as book:
        for name, (notebook, cell) in cells.items():
            try:
                grade = book.find_grade(cell, notebook, assignment, student)
            except MissingEntry:
                continue
            if grade.score is not None:
                out[name] = float(grade.score)
    return out


def _alembic_on_path() -> None:
    # nbgrader runs ``alembic`` from PATH to create the gradebook; from a venv that is not
    # activated (``.venv/bin/dicomteach``) it is beside our interpreter
    if shutil.which("alembic") is None:
        os.environ["PATH"] = (
            str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        )


def _last_line(result: dict) -> str:
    text = (result.get("error") or result.get("log") or "").strip().splitlines()
    return text[-1] if text else "no reason given"


def write_csv(rows: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """The rows as the class gradebook CSV (:data:`CSV_COLUMNS`), written atomically.

    >>> import tempfile, pathlib
    >>> out = write_csv([{"student": "alice", "dice": 0.91}], pathlib.Path(tempfile.mkdtemp()) / "g.csv")
    >>> out.read_text().splitlines()[1]
    ',alice,,,,,,,,,0.91,,,,,,,'
    """
    import io

    from dicomteach.io.atomic import write_atomically

    text = io.StringIO()
    writer = csv.DictWriter(text, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    data = text.getvalue().encode("utf-8")
    return write_atomically(path, lambda fh: fh.write(data))
