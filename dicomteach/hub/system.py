"""System users and groups: the operating system keeps learners apart.

Each hub account runs its server as a system user of its own, named with the
hub's prefix (``dt-`` by default: a learner who signs up as ``root`` becomes
``dt-root``, never root), with a home only they can read (0700). Each course
has a system group (``<prefix>course-<course>``) that owns the course's folder
(2770) and holds its instructors and its grader (the system user its
formgrader runs as). This needs root and ``useradd``; without them the hub
runs in demo mode (:func:`isolation_available`), which says so on every page.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from dicomteach.errors import DicomTeachError

__all__ = [
    "SystemError_",
    "add_to_group",
    "chown_tree",
    "course_group",
    "ensure_group",
    "ensure_user",
    "grader_user",
    "isolation_available",
    "remove_group",
    "remove_user",
    "system_user",
]


class SystemError_(DicomTeachError):
    """A system user or group could not be made (the command and its message)."""


def isolation_available() -> bool:
    """Whether this process may make system users (root, with ``useradd``)."""
    return os.geteuid() == 0 and all(shutil.which(c) for c in ("useradd", "groupadd", "gpasswd"))


def system_user(prefix: str, username: str) -> str:
    """The system user of hub account ``username``.

    >>> system_user("dt-", "ada")
    'dt-ada'
    """
    return f"{prefix}{username}"


def course_group(prefix: str, course: str) -> str:
    """The system group of a course's instructors and grader.

    >>> course_group("dt-", "ct101")
    'dt-course-ct101'
    """
    return f"{prefix}course-{course}"


def grader_user(prefix: str, course: str) -> str:
    """The system user a course's formgrader and autograde run as.

    >>> grader_user("dt-", "ct101")
    'dt-grader-ct101'
    """
    return f"{prefix}grader-{course}"


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemError_(f"{' '.join(cmd)} failed: {done.stderr.strip()}")


def ensure_group(name: str) -> int:
    """The gid of system group ``name``, made if missing."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run("groupadd", name)
        return grp.getgrnam(name).gr_gid


def ensure_user(name: str, home: Path) -> pwd.struct_passwd:
    """System user ``name`` with its own group and ``home`` (0700, theirs), made if missing.

    The account has no password: nobody logs in as it, the hub starts its server.
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _run("useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash",
             "--user-group", name)  # fmt: skip
        entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o700)
    return entry


def add_to_group(user: str, group: str) -> None:
    """Put ``user`` in ``group`` (a supplementary group; effective at their next start)."""
    if user not in grp.getgrnam(group).gr_mem:
        _run("gpasswd", "--add", user, group)


def remove_user(name: str) -> None:
    """Delete system user ``name`` and its own group (its files stay)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    _run("userdel", name)


def remove_group(name: str) -> None:
    """Delete system group ``name`` if it exists."""
    try:
        grp.getgrnam(name)
    except KeyError:
        return
    _run("groupdel", name)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """``chown -R uid:gid root`` without following symbolic links."""
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
