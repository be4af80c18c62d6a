"""A participant of a live session, in Python: a pycrdt document synced over the service's websocket.

What a widget's front end does with the ``yjs`` package, done with pycrdt and
websocket-client in one thread (pycrdt documents stay in the thread that made
them): :meth:`LiveClient.connect` opens ``/services/live/api/sessions/<id>/sync``
with the person's hub cookies and exchanges the sync steps; :meth:`change`
edits the document and sends the update; :meth:`pump` reads what the service
sends until a condition holds (a bounded wait, never a sleep). A client keeps
its document across :meth:`drop` and :meth:`connect`, as a browser tab does
when the network goes and comes back.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import websocket
from pycrdt import (
    Doc,
    Map,
    YMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from dicomteach.live.document import snapshot
from hubclient import Learner

AUTH = 2


class Closed(Exception):
    """The service closed the connection; ``code`` and ``reason`` say why."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"closed {code}: {reason}")
        self.code, self.reason = code, reason


class LiveClient:
    """One person's view of one session (module docstring)."""

    def __init__(self, person: Learner, session_id: str):
        self.person = person
        self.session_id = session_id
        self.doc = Doc()
        self.ws: websocket.WebSocket | None = None
        self.refused: list[str] = []
        self.closed: Closed | None = None

    @property
    def url(self) -> str:
        base = self.person.hub_url.replace("http", "ws", 1)
        return f"{base}/services/live/api/sessions/{self.session_id}/sync"

    def connect(self, timeout: float = 30) -> LiveClient:
        """Open the websocket and sync both ways (raises ``websocket.WebSocketBadStatusException``)."""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.person.cookies)
        self.ws = websocket.create_connection(
            self.url, header=[f"Cookie: {cookies}"], origin=self.person.hub_url, timeout=timeout
        )
        self.closed = None
        self.ws.send_binary(create_sync_message(self.doc))
        return self

    def drop(self) -> None:
        """Lose the connection without a goodbye, as a closed laptop lid does."""
        assert self.ws is not None
        self.ws.sock.shutdown(socket.SHUT_RDWR)
        self.ws.sock.close()
        self.ws = None

    def change(self, edit: Callable[[Doc], Any]) -> None:
        """Run ``edit(doc)``; send the update it made if connected (else it waits in the doc)."""
        before = self.doc.get_state()
        edit(self.doc)
        if self.ws is not None:
            self.ws.send_binary(create_update_message(self.doc.get_update(before)))

    def _handle(self, frame: bytes) -> None:
        if frame[0] == YMessageType.SYNC:
            reply = handle_sync_message(frame[1:], self.doc)
            if reply is not None and self.ws is not None:
                self.ws.send_binary(reply)
        elif frame[0] == AUTH:
            self.refused.append(frame[3:].decode(errors="replace"))

    def pump(self, until: Callable[[LiveClient], bool], timeout: float = 30) -> LiveClient:
        """Read the service's messages until ``until(self)``; raise TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not until(self):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.person.username}: not reached in {timeout} s: {self.state}"
                )
            if self.ws is None:
                raise AssertionError(f"{self.person.username} is not connected")
            self.ws.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                self.closed = self.closed or Closed(1006, "connection lost")
                self.ws = None
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                self.closed = Closed(code, data[2:].decode(errors="replace"))
                self.ws.close()
                self.ws = None
            elif opcode == websocket.ABNF.OPCODE_BINARY:
                self._handle(data)
        return self

    def settle(self, timeout: float = 30) -> LiveClient:
        """Until the service has answered a message sent now: what it sent before is applied."""
        marker = f"{time.monotonic_ns()}"
        answered: list[bool] = []
        # the service reads frames in order and answers a ping when it reads it: everything
        # it sent this client before the pong came first
        assert self.ws is not None
        self.ws.ping(marker)
        deadline = time.monotonic() + timeout
        while not answered:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.person.username}: no pong in {timeout} s")
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_PONG and data.decode() == marker:
                answered.append(True)
            elif opcode == websocket.ABNF.OPCODE_BINARY:
                self._handle(data)
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                self.closed = Closed(code, data[2:].decode(errors="replace"))
                self.ws = None
                break
        return self

    @property
    def state(self) -> dict[str, Any]:
        return snapshot(self.doc)

    def root(self, name: str) -> Map:
        return self.doc.get(name, type=Map)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None
