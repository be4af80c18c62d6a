"""The class list: a CSV an instructor writes, and the accounts the hub keeps from it.

The CSV has a header and the columns ``username``, ``name``, ``role``
(``learner`` or ``instructor``) and ``course``; a person in two courses takes
two rows. Reading it checks every row and refuses the whole file, in one line
naming the row, before anything changes. The accounts are kept in the state
folder (``hub/roster.json``, read by the hub only): each account's full name,
its role in each course and, for an account the roster made, the bcrypt hash
of its first password. The password itself is shown once, to whoever ran the
command, and stored nowhere.

A username becomes a system user (with the hub's prefix) and a path: lower-case
letters, digits, ``_`` and ``-``, starting with a letter, at most 20
characters. A course id becomes a folder and the hub groups
``nbgrader-<course>`` and ``formgrade-<course>``.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dicomteach.errors import DicomTeachError
from dicomteach.hub.state import new_password

__all__ = [
    "COURSE_PATTERN",
    "ROLES",
    "USERNAME_PATTERN",
    "Account",
    "Roster",
    "RosterError",
    "read_csv",
]

USERNAME_PATTERN = r"[a-z][a-z0-9_-]{0,19}"
"""Hub usernames the hub accepts (sign-up included): safe as system user names and paths."""
COURSE_PATTERN = r"[a-z][a-z0-9_]{0,30}"
"""Course ids: a folder, a system group and two hub groups (no ``-``: nbgrader splits on it)."""
ROLES = ("learner", "instructor")
ROSTER_VERSION = 1


class RosterError(DicomTeachError):
    """A class list that cannot be read: the file and row, then the problem."""


@dataclass
class Account:
    """One person: their full name, their role per course, their first password's hash."""

    name: str = ""
    courses: dict[str, str] = field(default_factory=dict)
    password_hash: str | None = None
    admin: bool = False

    def groups(self) -> list[str]:
        """The hub groups this account belongs to.

        >>> Account(courses={"ct": "instructor", "mr": "learner"}).groups()
        ['formgrade-ct', 'nbgrader-mr']
        """
        prefix = {"instructor": "formgrade", "learner": "nbgrader"}
        return sorted(f"{prefix[role]}-{course}" for course, role in self.courses.items())

    def teaches(self) -> list[str]:
        """The courses this account is an instructor of."""
        return sorted(c for c, role in self.courses.items() if role == "instructor")


def read_csv(path: str | os.PathLike[str]) -> dict[str, Account]:
    """The accounts a class list names, every row checked first.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write("username,name,role,course\\nada,Ada Lovelace,learner,ct\\n")
    >>> read_csv(f.name)["ada"].courses
    {'ct': 'learner'}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read the class list ({exc.__class__.__name__})", path) from None
    rows = list(csv.DictReader(text.splitlines()))
    wanted = {"username", "name", "role", "course"}
    header = set(rows[0]) if rows else set()
    if not rows or not wanted <= header:
        missing = ", ".join(sorted(wanted - header)) or "rows"
        raise RosterError(
            f"a class list needs the columns username, name, role, course (missing: {missing})",
            path,
        )
    accounts: dict[str, Account] = {}
    for number, row in enumerate(rows, start=2):
        where = f"row {number}"
        username = (row["username"] or "").strip().lower()
        role = (row["role"] or "").strip().lower()
        course = (row["course"] or "").strip().lower()
        if not re.fullmatch(USERNAME_PATTERN, username):
            raise RosterError(
                f"{where}: username {username!r} must be 1-20 lower-case letters, digits, "
                "'_' or '-', starting with a letter",
                path,
            )
        if role not in ROLES:
            raise RosterError(f"{where}: role {role!r} is not learner or instructor", path)
        if not re.fullmatch(COURSE_PATTERN, course):
            raise RosterError(
                f"{where}: course {course!r} must be lower-case letters, digits or '_', "
                "starting with a letter",
                path,
            )
        account = accounts.setdefault(username, Account())
        account.name = (row["name"] or "").strip() or account.name
        if account.courses.get(course, role) != role:
            raise RosterError(
                f"{where}: {username} is both learner and instructor of {course}", path
            )
        account.courses[course] = role
    return accounts


class Roster:
    """The accounts the hub keeps (``hub/roster.json`` in the state folder).

    >>> import tempfile
    >>> roster = Roster(Path(tempfile.mkdtemp()) / "roster.json")
    >>> made = roster.merge({"ada": Account("Ada", {"ct": "learner"})})
    >>> sorted(made), roster.accounts["ada"].password_hash.startswith("$2")
    (['ada'], True)
    >>> roster.merge({"ada": Account("Ada", {"mr": "learner"})})  # known: no new password
    {}
    >>> Roster(roster.path).accounts["ada"].groups()
    ['nbgrader-ct', 'nbgrader-mr']
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.accounts: dict[str, Account] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RosterError(f"unreadable ({exc.__class__.__name__})", self.path) from None
        if data.get("version") != ROSTER_VERSION:
            raise RosterError(f"version {data.get('version')!r} is not {ROSTER_VERSION}", self.path)
        self.accounts = {name: Account(**fields) for name, fields in data["accounts"].items()}

    def save(self) -> None:
        """Write the roster atomically, readable by its owner only."""
        from dicomteach.io.atomic import write_atomically

        data = {
            "version": ROSTER_VERSION,
            "accounts": {name: vars(account) for name, account in sorted(self.accounts.items())},
        }
        text = json.dumps(data, indent=1).encode()
        write_atomically(self.path, lambda out: out.write(text))
        os.chmod(self.path, 0o600)

    def merge(
        self, accounts: dict[str, Account], passwords: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Add ``accounts`` (new courses join, known names stay) and save.

        Each new account gets a first password: from ``passwords`` when given,
        else a random one. Returns the new accounts' passwords, to show once.
        """
        import bcrypt

        made = {}
        for username, incoming in accounts.items():
            known = self.accounts.get(username)
            if known is None:
                password = (passwords or {}).get(username) or new_password()
                hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
                self.accounts[username] = Account(
                    incoming.name, dict(incoming.courses), hashed, incoming.admin
                )
                made[username] = password
            else:
                known.name = incoming.name or known.name
                known.courses.update(incoming.courses)
                known.admin = known.admin or incoming.admin
        self.save()
        return made

    def courses(self) -> list[str]:
        """Every course any account is in."""
        return sorted({c for a in self.accounts.values() for c in a.courses})

    def members(self, course: str, role: str) -> list[str]:
        """The usernames with ``role`` in ``course``."""
        return sorted(n for n, a in self.accounts.items() if a.courses.get(course) == role)
