"""A course installed for the hub: its folder, its exchange folders and its gradebook.

A course folder (``graders/`` for the sample course) is copied once into the
state folder (``courses/<course>/``); a copy that is already there is never
overwritten, because the instructors' edits, the gradebook and the
submissions live in it. The copy is owned by the course's grader (the system
user its formgrader runs as) and its group, mode 2770: the course's
instructors read and write it, nobody else can list it, so no learner reads
its ``references/`` (docs/decisions.md, decisions 4 and 33). The folder the
copy came from is closed the same way (0700) when the hub runs isolated,
since it holds the same references.

The course's exchange folders (``exchange/<course>/``) are made here, owned by
the grader, before anyone can: ``outbound`` 0755 (learners fetch), ``inbound``
2733 (learners submit, and cannot list what others submitted; each submission
carries a random part in its name), ``feedback`` 0711 (each learner's feedback
is found by a hash only their submission knows). The exchange root is 1777,
so a learner may not remove or rename a course's folders.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dicomteach.hub.state import HubState

__all__ = ["AUTHOR_FOLDER", "MADE_BY_GRADING", "add_students", "install_course"]

MADE_BY_GRADING = (
    "release",
    "submitted",
    "autograded",
    "feedback",
    "exchange",
    "gradebook.db*",
    ".prepared",
    "*-grades.csv",
    "__pycache__",
)
"""What a course folder holds only once graded: never copied from the source folder."""

AUTHOR_FOLDER = "authoring"
"""The authoring app's session folder inside a course (its notebook and editors' state)."""


def install_course(
    source: Path,
    state: HubState,
    course: str,
    *,
    owner: tuple[int, int] | None = None,
) -> Path:
    """Copy the course folder ``source`` to ``courses/<course>/`` unless it is there; returns it.

    ``owner`` (uid, gid) owns the copy and its exchange folders; ``None`` leaves
    them to this process (demo mode).
    """
    from dicomteach.course.author_app import NOTEBOOK
    from dicomteach.errors import DicomTeachError

    if not (Path(source) / "nbgrader_config.py").is_file():
        raise DicomTeachError("not an nbgrader course folder (no nbgrader_config.py)", source)
    target = state.course(course)
    if not (target / "nbgrader_config.py").exists():
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns(*MADE_BY_GRADING), dirs_exist_ok=True
        )
    author = target / AUTHOR_FOLDER
    author.mkdir(exist_ok=True)
    if not (author / NOTEBOOK.name).exists():
        shutil.copyfile(NOTEBOOK, author / NOTEBOOK.name)
    exchange = state.exchange / course
    folders = {exchange: 0o755, exchange / "outbound": 0o755}
    folders |= {exchange / "inbound": 0o2733, exchange / "feedback": 0o711}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        from dicomteach.hub.system import chown_tree

        chown_tree(target, *owner)
        for folder in folders:
            os.chown(folder, *owner)
        source_mode = 0o700
    else:
        source_mode = None
    for folder, mode in folders.items():
        os.chmod(folder, mode)
    os.chmod(target, 0o2770 if owner is not None else 0o700)
    if source_mode is not None:
        os.chmod(source, source_mode)
    return target


def add_students(
    course_folder: Path, students: dict[str, str], owner: tuple[int, int] | None = None
) -> None:
    """Put ``students`` (username → full name) in the course's gradebook, made if missing.

    A learner who never submits is then listed, with zero, in the formgrader and
    in nbgrader's exported grades.
    """
    from nbgrader.api import Gradebook

    url = f"sqlite:///{course_folder / 'gradebook.db'}"
    # nbgrader runs alembic from PATH when it makes a gradebook
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + path
    try:
        with Gradebook(url) as book:
            for username, full_name in students.items():
                first, _, last = full_name.partition(" ")
                book.update_or_create_student(username, first_name=first, last_name=last)
    finally:
        os.environ["PATH"] = path
    if owner is not None:
        for made in course_folder.glob("gradebook.db*"):
            os.chown(made, *owner)
            os.chmod(made, 0o660)
