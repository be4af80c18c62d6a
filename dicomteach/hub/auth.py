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

A password is checked in a thread. bcrypt is slow on purpose (about 0.2 s of
CPU a check) and NativeAuthenticator checks in the hub's event loop, so a
class logging in at once stopped the hub for seconds: no page, no server
start, no proxy route answered meanwhile (docs/hub.md, "Sizing: a class at
once"). bcrypt lets other threads run while it hashes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import bcrypt
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
        # NativeAuthenticator.authenticate, with the bcrypt check moved off the event loop
        user = self.get_user(username)
        if user is None:
            return None
        stored = bytes(user.password)
        right = await asyncio.to_thread(
            bcrypt.checkpw, str(data.get("password", "")).encode(), stored
        )
        valid = [user.is_authorized, right]
        if user.has_2fa:
            valid.append(user.is_valid_token(data.get("2fa")))
        if all(valid):
            self.successful_login(username)
            return username
        self.add_login_attempt(username)
        return None
