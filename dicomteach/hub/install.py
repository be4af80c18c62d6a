"""Everything the hub needs before it starts: state folder, sample studies, course, first instructor.

:func:`setup_hub` is what ``dicomteach hub setup`` (and so ``scripts/start.sh``)
runs; every step is idempotent, so running it again changes nothing that is
there, and a restart keeps users, submissions and grades.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dicomteach.hub import system
from dicomteach.hub.course import add_students, install_course
from dicomteach.hub.roster import Account, Roster
from dicomteach.hub.settings import HubSettings

__all__ = [
    "AI_CASES",
    "course_ai_cases",
    "course_samples",
    "SetupResult",
    "check_python",
    "course_owner",
    "prepare_ai_cases",
    "prepare_samples",
    "setup_hub",
]


def course_samples(project: Path, course_source: Path | None = None) -> list[tuple[str, dict]]:
    """The sample studies the lessons (``notebooks/``) and the course's assignments
    (``graders/source/``) open, with their options: read from the notebooks' own
    ``lesson_study`` calls, so a new lesson or assignment needs no change here."""
    from dicomteach.samples.cache import studies_opened_by

    source = course_source or project / "graders"
    notebooks = sorted((project / "notebooks").glob("*.ipynb"))
    notebooks += sorted((source / "source").glob("*/*.ipynb"))
    return studies_opened_by(notebooks)


#: The functions lessons call to write a generated AI case into the sample cache, by name.
AI_CASES = {
    "film_folder": "dicomteach.ai.film_cases",
    "lesson_pair": "dicomteach.ai.change_pairs",
    "known_error_case": "dicomteach.ai.known_errors",
}


def course_ai_cases(project: Path) -> list[tuple[str, tuple, dict]]:
    """The generated AI cases the lessons open (``film_folder(2)``, ``lesson_pair(4)``,
    ``known_error_case("ground-glass nodule")``, each
    with literal arguments): written with the samples, as learners never write the cache."""
    from dicomteach.samples.cache import calls_in

    return calls_in(sorted((project / "notebooks").glob("*.ipynb")), AI_CASES)


def prepare_ai_cases(cache: Path, cases: Iterable[tuple[str, tuple, dict]]) -> list[Path]:
    """Write ``cases`` (from :func:`course_ai_cases`) into the sample cache ``cache`` once."""
    import importlib

    with _writing_into(cache):
        folders = [
            getattr(importlib.import_module(AI_CASES[name]), name)(*args, **options)
            for name, args, options in cases
        ]
    return folders


@dataclass(frozen=True)
class SetupResult:
    """What :func:`setup_hub` did: the course folder, and the first instructor's new password."""

    course_folder: Path
    admin: str
    admin_password: str | None


def prepare_samples(cache: Path, studies: Iterable[tuple[str, dict]]) -> list[Path]:
    """Write ``studies`` into the sample cache ``cache`` once, readable by everyone.

    Learners' kernels find them there (``DICOMTEACH_CACHE``) and never write.
    """
    from dicomteach.samples.cache import lesson_study

    with _writing_into(cache):
        folders = [lesson_study(name, **options) for name, options in studies]
    return folders


@contextlib.contextmanager
def _writing_into(cache: Path) -> Iterator[None]:
    """The sample cache is ``cache`` while the block writes into it; then it is opened to
    learners, and ``DICOMTEACH_CACHE`` is as it was."""
    before = os.environ.get("DICOMTEACH_CACHE")
    os.environ["DICOMTEACH_CACHE"] = str(cache)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DICOMTEACH_CACHE", None)
        else:
            os.environ["DICOMTEACH_CACHE"] = before
    _open_to_learners(cache)


def _open_to_learners(cache: Path) -> None:
    # a study is written into a private temporary folder and renamed: open it to learners
    for folder, _dirs, files in os.walk(cache):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def course_owner(settings: HubSettings, course: str) -> tuple[int, int] | None:
    """The (uid, gid) owning a course's folder: its grader and group; ``None`` in demo mode."""
    if not settings.isolated:
        return None
    gid = system.ensure_group(system.course_group(settings.prefix, course))
    name = system.grader_user(settings.prefix, course)
    entry = system.ensure_user(name, settings.state.home(name))
    system.add_to_group(name, system.course_group(settings.prefix, course))
    return entry.pw_uid, gid


# what a server keeps of the hub's environment, as JupyterHub's spawner does (Spawner.env_keep)
_KEPT = ("PATH", "PYTHONPATH", "LANG", "LD_LIBRARY_PATH")


def check_python(settings: HubSettings, user: str) -> None:
    """Refuse, in one line, a Python the accounts cannot run (e.g. a venv made from a
    Python under ``/root``): run it as ``user`` and import what every server imports."""
    import subprocess

    from jupyterhub.spawner import set_user_setuid

    from dicomteach.errors import DicomTeachError

    try:
        done = subprocess.run(
            [str(settings.python), "-c", "import jupyterhub.singleuser, dicomteach, nbgrader"],
            preexec_fn=set_user_setuid(user),
            env={k: v for k, v in os.environ.items() if k in _KEPT},
            capture_output=True,
            text=True,
            check=False,
        )
        failed, last = done.returncode != 0, (done.stderr.strip().splitlines() or [""])[-1]
    except PermissionError as exc:
        failed, last = True, str(exc)
    if failed:
        raise DicomTeachError(
            f"the accounts' servers cannot run this Python ({last}): make the venv from a "
            "Python every user can read (e.g. /usr/bin/python3 -m venv .venv) or set "
            "DICOMTEACH_HUB_PYTHON",
            settings.python,
        )


def setup_hub(
    settings: HubSettings,
    *,
    course_source: Path | None = None,
    admin_password: str | None = None,
    samples: bool = True,
) -> SetupResult:
    """Prepare the state folder, the sample studies, the course and the first instructor.

    The first instructor (``settings.admin``) is a hub admin and an instructor of
    the course; their password is ``admin_password`` if given, else a new random
    one, returned once in the result (``None`` when the account already exists).
    """
    state = settings.state.prepare()
    if samples:
        prepare_samples(state.cache, course_samples(settings.project, course_source))
        prepare_ai_cases(state.cache, course_ai_cases(settings.project))
    course = settings.course
    owner = course_owner(settings, course)
    if owner is not None:
        check_python(settings, system.grader_user(settings.prefix, course))
    source = course_source or settings.project / "graders"
    folder = install_course(source, state, course, owner=owner)
    roster = Roster(state.roster)
    first = Account("", {course: "instructor"}, admin=True)
    made = roster.merge(
        {settings.admin: first},
        {settings.admin: admin_password} if admin_password else None,
    )
    password = made.get(settings.admin)
    learners = {n: roster.accounts[n].name for n in roster.members(course, "learner")}
    if learners:
        add_students(folder, learners, owner)
    return SetupResult(folder, settings.admin, None if admin_password else password)
