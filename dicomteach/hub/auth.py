"""The authenticator: NativeAuthenticator, with the class list's accounts added to it.

NativeAuthenticator keeps each account's bcrypt password hash in the hub's
database, lets learners sign up for an instructor (a hub admin) to approve at
``/hub/authorize``, and refuses every login of an account for a while after
``allowed_failed_logins`` wrong passwords. :class:`ClassroomAuthenticator`
adds the accounts of the class list (``hub/roster.json``) it has not seen,
with their first password's hash, as already approved: when the hub starts
and whenever the class list changed before a login, so a class list read
while the hub runs needs no restart. An account already known keeps its
password (a learner may have changed it). Why this authenticator and
JupyterHub 5.5: docs/decisions.md, decision 33.
"""

from __future__ import annotations

from pathlib import Path

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.orm import UserInfo
from traitlets import Unicode

from dicomteach.hub.roster import Roster

__all__ = ["ClassroomAuthenticator"]


class ClassroomAuthenticator(NativeAuthenticator):
    """NativeAuthenticator that also knows the class list's accounts."""

    roster_file = Unicode(config=True, help="The class list the hub keeps (roster.json).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._roster_seen: float | None = None
        self.sync_roster()

    def sync_roster(self) -> list[str]:
        """Add the class list's accounts the database lacks; returns their names."""
        path = Path(self.roster_file) if self.roster_file else None
        if path is None or not path.exists():
            return []
        seen = path.stat().st_mtime
        if seen == self._roster_seen:
            return []
        added = []
        for username, account in Roster(path).accounts.items():
            if account.password_hash is None or UserInfo.find(self.db, username) is not None:
                continue
            self.db.add(
                UserInfo(
                    username=username,
                    password=account.password_hash.encode(),
                    is_authorized=True,
                )
            )
            added.append(username)
        self.db.commit()
        self._roster_seen = seen
        if added:
            self.log.info("class list: %d account(s) added: %s", len(added), ", ".join(added))
        return added

    async def authenticate(self, handler, data):
        self.sync_roster()
        username = self.normalize_username(data.get("username", ""))
        if self.allowed_failed_logins and self.is_blocked(username):
            self.log.warning(
                "login refused: %s is locked out after %d failed logins (for %d s)",
                username,
                self.allowed_failed_logins,
                self.seconds_before_next_try,
            )
            return None
        return await super().authenticate(handler, data)
