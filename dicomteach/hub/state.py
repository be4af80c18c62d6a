"""The hub's state folder: what lives where, and who may read it.

One folder (``$DICOMTEACH_HUB_STATE``, default ``.hub/`` in the project) holds
everything a restart must keep:

=============== ====== =========================================================
``hub/``        0700   the hub's SQLite database, cookie secret, class list;
                       the hub (root) alone reads it
``courses/``    0711   one folder per course, 2770, its instructors' group only
``exchange/``   1777   nbgrader's exchange: each course's folders owned by the
                       course, submissions write-only for learners
``homes/``      0711   one home per account, 0700, its owner only
``cache/``      0755   the sample studies, written once, read by every learner
``live/``       0700   the live sessions (``dicomteach/live``), the service's only
=============== ====== =========================================================

The modes are set every time the hub starts, so a folder copied or restored
with other modes is put right.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HubState", "new_password"]


def new_password(length: int = 16) -> str:
    """A random password of ``length`` characters from letters and digits, shown once.

    >>> len(new_password()), new_password().isalnum()
    (16, True)
    """
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class HubState:
    """The state folder ``root`` and its parts.

    >>> state = HubState(Path("/srv/class"))
    >>> state.database.as_posix(), state.home("dt-ada").as_posix()
    ('/srv/class/hub/jupyterhub.sqlite', '/srv/class/homes/dt-ada')
    """

    root: Path

    @property
    def private(self) -> Path:
        """The hub's own folder (0700)."""
        return self.root / "hub"

    @property
    def database(self) -> Path:
        return self.private / "jupyterhub.sqlite"

    @property
    def cookie_secret(self) -> Path:
        return self.private / "jupyterhub_cookie_secret"

    @property
    def roster(self) -> Path:
        return self.private / "roster.json"

    @property
    def courses(self) -> Path:
        return self.root / "courses"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def homes(self) -> Path:
        return self.root / "homes"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def live(self) -> Path:
        return self.root / "live"

    def course(self, course_id: str) -> Path:
        return self.courses / course_id

    def home(self, system_user: str) -> Path:
        return self.homes / system_user

    def prepare(self) -> HubState:
        """Make the folders and set their modes (see the module docstring); returns self."""
        self.root.mkdir(parents=True, exist_ok=True)
        # others must reach homes/, courses/, exchange/ and cache/, never list the root
        os.chmod(self.root, 0o711)
        for folder, mode in (
            (self.private, 0o700),
            (self.courses, 0o711),
            (self.exchange, 0o1777),
            (self.homes, 0o711),
            (self.cache, 0o755),
            (self.live, 0o700),
        ):
            folder.mkdir(exist_ok=True)
            os.chmod(folder, mode)
        # SQLite takes an empty file as a new database: made here, it is born 0600
        os.close(os.open(self.database, os.O_WRONLY | os.O_CREAT, 0o600))
        for secret in (self.database, self.cookie_secret, self.roster):
            if secret.exists():
                os.chmod(secret, 0o600)
        return self
