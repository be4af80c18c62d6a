"""Live sessions in memory: each one's document, guard, files and connected people.

A :class:`Session` speaks the Yjs sync protocol (y-protocols' ``sync``
messages: step 1, step 2, update) with each connection, checks every update a
client sends with its :class:`~dicomteach.live.document.Guard`, and hands every
change of its document to its log and to every connection. The
:class:`Registry` makes sessions, finds them by id or join code, loads them
from disk on first use after a restart, and ends them.

Messages a client receives besides the sync messages (y-protocols' ``auth``
message, type 2): ``[2, 0, reason]`` when an update was refused; the service
then closes the connection (code :data:`CLOSE_REFUSED`): the client's
document holds what was refused, so it must start from a new document and
sync again. Awareness messages (type 1) are ignored: who is present is the
service's to say (the ``present`` map).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pycrdt import (
    Doc,
    Map,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
    write_var_uint,
)

from dicomteach.errors import DicomTeachError
from dicomteach.live.document import (
    Actor,
    Guard,
    Refused,
    add_participant,
    new_document,
)
from dicomteach.live.store import SESSION_ID, SessionFiles

__all__ = [
    "CLOSE_ENDED",
    "CLOSE_REFUSED",
    "CODE_ALPHABET",
    "COLOURS",
    "Connection",
    "LiveError",
    "Registry",
    "Session",
]

log = logging.getLogger("dicomteach.live")

CLOSE_REFUSED = 4403
"""Close code after a refused update: start from a new document and join again."""
CLOSE_ENDED = 4410
"""Close code when the session ends (its data stays on disk)."""

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"
"""Join codes: six of these letters (no I or O, read aloud without confusion)."""
CODE_LENGTH = 6

COLOURS = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
    "#f032e6", "#bfef45", "#469990", "#9a6324", "#800000", "#000075",
)  # fmt: skip
"""Participants' colours, given in the order they first join (then again from the first)."""

PRIVATE = ("ended", "reference")
"""Facts of a session not written into its document (the reference is the instructors')."""

MESSAGE_AUTH = 2
PERMISSION_DENIED = 0


class LiveError(DicomTeachError):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Connection(Protocol):
    """One client's websocket, as a session sees it."""

    actor: Actor

    def send(self, message: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


def _denied(reason: str) -> bytes:
    text = reason.encode()
    return bytes([MESSAGE_AUTH, PERMISSION_DENIED]) + write_var_uint(len(text)) + text


@dataclass
class Session:
    """One live session (module docstring)."""

    meta: dict[str, Any]
    files: SessionFiles
    doc: Doc
    connections: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.guard = Guard(self.doc)
        self._changes = self.doc.observe(self._on_change)

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def ended(self) -> bool:
        return bool(self.meta.get("ended"))

    @property
    def lead(self) -> str:
        return str(self.doc.get("session", type=Map).get("lead") or "")

    def participants(self) -> dict[str, dict]:
        return self.doc.get("present", type=Map).to_py() or {}

    def _on_change(self, event: Any) -> None:
        update = event.update
        self.files.append(update)  # on disk (the OS's) before anyone sees it
        message = create_update_message(update)
        for connection in list(self.connections):
            connection.send(message)

    # ---------------------------------------------------------------- people

    def join(self, connection: Connection, full_name: str) -> None:
        """Count ``connection`` in; their presence entry and layer exist after this."""
        actor = connection.actor
        known = self.participants()
        colour = COLOURS[len(known) % len(COLOURS)]
        self.connections.add(connection)
        add_participant(self.doc, actor, full_name, colour)
        connection.send(create_sync_message(self.doc))

    def leave(self, connection: Connection) -> None:
        self.connections.discard(connection)
        name = connection.actor.name
        if not any(c.actor.name == name for c in self.connections) and not self.ended:
            present = self.doc.get("present", type=Map)
            entry = present.get(name)
            if isinstance(entry, dict) and entry.get("online"):
                with self.doc.transaction(origin="service"):
                    present[name] = {**entry, "online": False}

    def receive(self, connection: Connection, message: bytes) -> None:
        """One message from ``connection`` (module docstring)."""
        if self.ended or len(message) < 2 or message[0] != YMessageType.SYNC:
            return
        kind, body = message[1], message[2:]
        if kind == YSyncMessageType.SYNC_STEP1:
            reply = handle_sync_message(message[1:], self.doc)  # step 2: what they lack
            if reply is not None:
                connection.send(reply)
            return
        if kind not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            return
        update = read_message(body)
        if update == b"\x00\x00":
            return
        try:
            self.guard.check(update, connection.actor)
        except Refused as exc:
            log.warning("live session %s: refused: %s", self.id, exc)
            connection.send(_denied(str(exc)))
            connection.close(CLOSE_REFUSED, str(exc)[:120])
            return
        self.doc.apply_update(update)

    def set_consensus(self, form: dict[str, Any]) -> None:
        """Write the class's agreement and consensus (``agreement.document_form``) into the document."""
        root = self.doc.get("consensus", type=Map)
        with self.doc.transaction(origin="service"):
            for key in [k for k in root.keys() if k not in form]:
                del root[key]
            for key, value in form.items():
                root[key] = value

    def set_lead(self, by: Actor, to: str | None) -> str:
        """``by`` (an instructor) gives the lead to ``to``, or takes it (``None``); who leads."""
        if not by.instructor:
            raise LiveError(f"{by.name} is not an instructor of {self.meta['course']}", 403)
        target = to or by.name
        if target not in self.participants():
            raise LiveError(f"{target} has not joined this session", 400)
        with self.doc.transaction(origin="service"):
            self.doc.get("session", type=Map)["lead"] = target
        return target

    # ---------------------------------------------------------------- the end

    def end(self, by: Actor) -> None:
        """Mark the session ended, close every connection; its files stay."""
        if not by.instructor:
            raise LiveError(f"{by.name} is not an instructor of {self.meta['course']}", 403)
        present = self.doc.get("present", type=Map)
        with self.doc.transaction(origin="service"):
            self.doc.get("session", type=Map)["ended"] = True
            for name, entry in present.to_py().items():
                present[name] = {**entry, "online": False}
        self.meta["ended"] = _now()
        self.meta["ended_by"] = by.name
        self.files.write_meta(self.meta)
        for connection in list(self.connections):
            connection.close(CLOSE_ENDED, "the session has ended")
        self.connections.clear()
        self.files.sync()

    def close(self) -> None:
        self.doc.unobserve(self._changes)
        self.guard.close()
        self.files.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Registry:
    """Every session under ``root`` (one folder each, :mod:`dicomteach.live.store`)."""

    def __init__(self, root: Path, *, new_code: Callable[[], str] | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._codes: dict[str, str] = {}
        self._new_code = new_code or (
            lambda: "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        )
        for meta_path in sorted(self.root.glob("*/session.json")):
            try:
                meta = SessionFiles(meta_path.parent).read_meta()
            except DicomTeachError as exc:
                log.error("live: %s", exc)
                continue
            if not meta.get("ended") and meta.get("code"):
                self._codes[meta["code"]] = meta["id"]

    def create(
        self,
        by: Actor,
        course: str,
        title: str,
        study: dict[str, Any],
        reference: str | bool | None = None,
    ) -> Session:
        """A new session of ``course`` presented by ``by`` (an instructor of it).

        ``reference`` (:mod:`dicomteach.live.series`) is kept in the session's
        facts, never in the document everyone syncs.
        """
        if not by.instructor:
            raise LiveError(f"{by.name} is not an instructor of {course}", 403)
        session_id = secrets.token_hex(16)
        code = self._new_code()
        while code in self._codes:
            code = self._new_code()
        meta = {
            "id": session_id,
            "code": code,
            "course": course,
            "title": title,
            "study": study,
            "reference": reference,
            "presenter": by.name,
            "created": _now(),
            "ended": None,
        }
        files = SessionFiles(self.root / session_id)
        files.folder.mkdir(mode=0o700)
        doc = Doc()
        session = Session(meta, files, doc)
        files.write_meta(meta)
        # the first records of the log: the document as made
        shared = {k: v for k, v in meta.items() if k not in PRIVATE}
        doc.apply_update(new_document(shared).get_update())
        self._sessions[session_id] = session
        self._codes[code] = session_id
        return session

    def get(self, session_id: str) -> Session:
        """The session ``session_id``, loaded from its folder if it is not in memory."""
        if session_id in self._sessions:
            return self._sessions[session_id]
        if not SESSION_ID.fullmatch(session_id or ""):
            raise LiveError(f"no session {session_id!r}", 404)
        files = SessionFiles(self.root / session_id)
        if not files.meta_path.exists():
            raise LiveError(f"no session {session_id!r}", 404)
        meta = files.read_meta()
        doc = Doc()
        files.load(doc)
        present = doc.get("present", type=Map)
        session = Session(meta, files, doc)
        if not session.ended:  # nobody is connected to a session just read from disk
            with doc.transaction(origin="service"):
                for name, entry in present.to_py().items():
                    if entry.get("online"):
                        present[name] = {**entry, "online": False}
        self._sessions[session_id] = session
        return session

    def by_code(self, code: str) -> Session:
        """The live session whose join code is ``code`` (any case)."""
        session_id = self._codes.get(code.strip().upper())
        if session_id is None:
            raise LiveError(f"no live session has the code {code.strip().upper()!r}", 404)
        return self.get(session_id)

    def sessions(self) -> list[dict[str, Any]]:
        """The facts of every session not ended."""
        return [self.get(i).meta for i in sorted(set(self._codes.values()))]

    def end(self, session: Session, by: Actor) -> None:
        session.end(by)
        self._codes.pop(session.meta.get("code", ""), None)

    def sync(self) -> None:
        for session in self._sessions.values():
            session.files.sync()

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
