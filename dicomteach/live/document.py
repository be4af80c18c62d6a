"""A live session's shared document, and the guard that keeps each person to their own parts.

The document is a pycrdt (Yjs) ``Doc`` with seven root maps, made by the service
when the session is created (:func:`new_document`); clients never create a
root or a participant's entry, since two clients creating the same key at once
would keep one of the two and drop the other's content:

============= ================================================ =========================
root          what it holds                                    who may write it
============= ================================================ =========================
``session``   ``id``, ``course``, ``title``, ``study``,        the service only
              ``presenter``, ``lead``, ``ended``
``present``   username → ``{name, role, colour, online}``      the service only
``view``      the presenter's view: ``series``, ``plane``,     the one who leads
              ``slice``, ``window`` ``[centre, width]``,
              ``zoom``, ``pan`` ``[x, y]``, ``pointer``
``layers``    username → map ``{edits: [...]}``; an edit is    its owner, below the entry
              ``{box: [[k0, k1], [r0, r1], [c0, c1]],          (the entry itself is made
              runs: [value, count, ...], structure}``          by the service)
              in the series' array order
``poll``      ``question``, ``open``, ``answer`` and           instructors; ``clicks/<u>``
              ``clicks``: username → ``{frame, row, column}``  by ``u`` only
``reveal``    flags the presenter shows the class:             instructors
              ``layers``, ``agreement``, ``consensus``,
              ``answer``
``consensus`` the class's agreement map and STAPLE consensus   the service only, each
              (``made``, ``by``, ``raters``, ``structures``:   time an instructor asks
              each a box and its maps as runs), from
              :func:`dicomteach.live.agreement.document_form`
============= ================================================ =========================

:class:`Guard` enforces the last column on every update a client sends
(docs/decisions.md, decision 36): it applies the update to a shadow copy of
the document, collects which paths changed, and refuses the whole update if
one is not the sender's; a refused update never reaches the real document, so
nobody else sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Doc, Map, get_update

from dicomteach.errors import DicomTeachError

__all__ = [
    "ROOTS",
    "Actor",
    "Guard",
    "Refused",
    "add_participant",
    "new_document",
    "snapshot",
]

ROOTS = ("session", "present", "view", "layers", "poll", "reveal", "consensus")
"""The document's root maps (module docstring)."""


class Refused(DicomTeachError):
    """A client's update touches what its sender may not change; the message says what."""


@dataclass(frozen=True)
class Actor:
    """Who sent an update: their hub username and their role in the session's course."""

    name: str
    role: str
    """``"instructor"`` (hub group ``formgrade-<course>``) or ``"learner"``."""

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"


def new_document(meta: dict[str, Any]) -> Doc:
    """A new session's document: every root, ``session`` filled from ``meta``, the poll's clicks.

    >>> doc = new_document({"id": "s1", "course": "ct101", "presenter": "teacher"})
    >>> sorted(doc.keys()), doc["session"]["lead"]
    (['consensus', 'layers', 'poll', 'present', 'reveal', 'session', 'view'], 'teacher')
    """
    doc = Doc()
    roots = {name: doc.get(name, type=Map) for name in ROOTS}
    with doc.transaction(origin="service"):
        for key, value in meta.items():
            roots["session"][key] = value
        roots["session"]["lead"] = meta.get("presenter", "")
        roots["session"]["ended"] = False
        roots["poll"]["clicks"] = Map()
        roots["poll"]["open"] = False
        for flag in ("layers", "agreement", "consensus", "answer"):
            roots["reveal"][flag] = False
    return doc


def add_participant(doc: Doc, actor: Actor, name: str, colour: str) -> None:
    """Make ``actor``'s presence entry and empty layer unless they exist; mark them online."""
    present = doc.get("present", type=Map)
    layers = doc.get("layers", type=Map)
    with doc.transaction(origin="service"):
        entry = present.get(actor.name)
        colour = entry["colour"] if isinstance(entry, dict) else colour
        present[actor.name] = {"name": name, "role": actor.role, "colour": colour, "online": True}
        if actor.name not in layers:
            layers[actor.name] = Map({"edits": Array()})


def snapshot(doc: Doc) -> dict[str, Any]:
    """The whole document as plain Python values (what a test or the saver reads).

    >>> snapshot(new_document({"id": "s1", "presenter": "t"}))["reveal"]["consensus"]
    False
    """
    return {name: doc.get(name, type=Map).to_py() for name in ROOTS}


# ------------------------------------------------------------------ the guard


def _read_var_uint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise Refused("a truncated update")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        shift += 7
        at += 1
        if byte < 0x80:
            return value, at


def read_state(state: bytes) -> dict[int, int]:
    """A Yjs state vector as ``{client: clock}``.

    >>> read_state(bytes([1, 7, 3]))
    {7: 3}
    """
    count, at = _read_var_uint(state, 0)
    clocks = {}
    for _ in range(count):
        client, at = _read_var_uint(state, at)
        clocks[client], at = _read_var_uint(state, at)
    return clocks


def _out_of_order(update: bytes, state: bytes) -> bool:
    """Whether ``update`` holds items or deletions a document at ``state`` (it applied) has not placed.

    Such parts wait inside the document and are placed by a later update,
    perhaps another person's, which would then carry them past the guard: so
    they are refused. What remains of the update beyond ``state`` must be no
    item, and a deletion set within ``state``.
    """
    rest = get_update(update, state)
    clients, at = _read_var_uint(rest, 0)
    if clients:
        return True
    known = read_state(state)
    count, at = _read_var_uint(rest, at)
    for _ in range(count):
        client, at = _read_var_uint(rest, at)
        ranges, at = _read_var_uint(rest, at)
        for _ in range(ranges):
            clock, at = _read_var_uint(rest, at)
            length, at = _read_var_uint(rest, at)
            if clock + length > known.get(client, 0):
                return True
    return False


def _may_write(root: str, path: list, keys: Iterable[str], actor: Actor, lead: str) -> bool:
    """The table of the module docstring, for one change at ``root/path`` touching ``keys``."""
    if root == "view":
        return actor.name == lead
    if root == "reveal":
        return actor.instructor
    if root == "layers":
        return bool(path) and path[0] == actor.name
    if root == "poll":
        if not path:
            return actor.instructor and "clicks" not in keys
        if path[0] != "clicks":
            return actor.instructor
        if len(path) == 1:
            return set(keys) <= {actor.name}
        return path[1] == actor.name
    return False  # session, present, consensus: the service's


class Guard:
    """Checks a client's update against a shadow copy of ``doc`` before ``doc`` takes it.

    The shadow follows ``doc`` (every transaction of ``doc`` is applied to it
    too); :meth:`check` applies the client's update to the shadow with deep
    observers on every root, and refuses it when one changed path is not the
    sender's (module docstring), when it makes a root of its own, or when it
    holds parts that wait for an update not yet seen. A refused update has
    changed the shadow, which is then copied afresh from ``doc``: the cost of
    a refusal is the document's size, of an accepted update its own size.
    """

    def __init__(self, doc: Doc):
        self.doc = doc
        self._changes: list[tuple[str, list, list[str]]] = []
        self._shadow = self._copy()
        self._follow = doc.observe(self._on_doc)

    def _copy(self) -> Doc:
        shadow = Doc()
        shadow.apply_update(self.doc.get_update())
        # kept: a subscription no longer referenced stops observing
        self._observers = [
            shadow.get(name, type=Map).observe_deep(self._recorder(name)) for name in ROOTS
        ]
        return shadow

    def _recorder(self, root: str) -> Any:
        # one parameter: pycrdt passes the transaction too to a callback taking two
        return lambda events: self._record(root, events)

    def _on_doc(self, event: Any) -> None:
        self._shadow.apply_update(event.update)

    def _record(self, root: str, events: list) -> None:
        for event in events:
            keys = getattr(event, "keys", None)
            self._changes.append((root, list(event.path), list(keys or ())))

    def close(self) -> None:
        self.doc.unobserve(self._follow)

    def check(self, update: bytes, actor: Actor) -> None:
        """Raise :class:`Refused` unless every change ``update`` makes is ``actor``'s to make."""
        lead = str(self.doc.get("session", type=Map).get("lead") or "")
        self._changes = []
        try:
            self._shadow.apply_update(update)
            roots = set(self._shadow.keys()) - set(ROOTS)
            if roots:
                raise Refused(f"{actor.name} may not add the root {sorted(roots)[0]!r}")
            if _out_of_order(update, self._shadow.get_state()):
                raise Refused(f"{actor.name} sent parts that follow an update the service lacks")
            for root, path, keys in self._changes:
                if not _may_write(root, path, keys, actor, lead):
                    where = "/".join([root, *map(str, path)] + (keys[:1] if not path else []))
                    raise Refused(f"{actor.name} ({actor.role}) may not change {where}")
        except Refused:
            self._shadow = self._copy()
            raise
        except Exception as exc:  # an update pycrdt cannot read
            self._shadow = self._copy()
            raise Refused(f"{actor.name} sent an unreadable update ({exc})") from None
        finally:
            self._changes = []
