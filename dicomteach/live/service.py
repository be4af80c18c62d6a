"""The live-session service: a tornado app the hub runs at ``/services/live/``.

The hub starts it (``python -m dicomteach.live``, registered by
``dicomteach/hub/config.py``) with its address, prefix and OAuth client in
``JUPYTERHUB_*`` variables; ``DICOMTEACH_LIVE_STATE`` names the folder of the
sessions and ``DICOMTEACH_HUB_STATE`` the hub's state folder (the class list
gives people's full names; the sample cache the studies a session saves on).
Every request is the hub's user, through HubOAuth (JupyterHub's own service
authentication: a cookie set at the end of an OAuth round trip with the hub);
their hub groups give their role in each course: ``formgrade-<course>``
instructor, ``nbgrader-<course>`` learner.

==================================== ====== =============================================
path (under ``/services/live/``)     method what
==================================== ====== =============================================
````                                 GET    a page naming you and your courses' sessions;
                                            opening it once logs the browser in
``api/me``                           GET    ``{name, courses: {course: role}}``
``api/sessions``                     POST   ``{course, title, study}`` → the new session
                                            with its join ``code`` (instructors)
``api/sessions``                     GET    the live sessions of your courses
``api/join/<code>``                  GET    the session of a join code (its course only)
``api/sessions/<id>``                GET    one session's facts and who is present
``api/sessions/<id>/lead``           POST   ``{to: username | null}`` (instructors)
``api/sessions/<id>/end``            POST   end it; its files stay (instructors)
``api/sessions/<id>/consensus``      POST   ``{layers?: [username]}``: the class's agreement
                                            map and STAPLE consensus, written into the
                                            document (instructors)
``api/sessions/<id>/scores``         GET    each participant's scores against the reference
                                            or the consensus, and the poll (instructors)
``api/sessions/<id>/scores.png``     GET    ``?structure=n``: each outline against it on the
                                            slice where it is largest (instructors)
``api/sessions/<id>/sync``           WS     the Yjs sync protocol (docs/live.md)
==================================== ====== =============================================

Requests that change something carry the ``_xsrf`` cookie's value in an
``X-XSRFToken`` header, as the hub's own API asks.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from jupyterhub.services.auth import (
    HubOAuth,
    HubOAuthCallbackHandler,
    HubOAuthenticated,
    UserNotAllowed,
)
from pycrdt import Map
from tornado import ioloop, web, websocket
from tornado.httpserver import HTTPServer

from dicomteach.errors import DicomTeachError
from dicomteach.live.document import Actor, snapshot
from dicomteach.live.series import SessionSeries
from dicomteach.live.sessions import LiveError, Registry, Session, log

__all__ = ["cookie_secret", "course_roles", "main", "make_app"]

MAX_MESSAGE = 16 * 1024 * 1024
"""The largest websocket message a client may send (bytes)."""
MAX_BODY = 64 * 1024
COURSE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def course_roles(groups: list[str]) -> dict[str, str]:
    """Each course a person belongs to, with their role, from their hub groups.

    >>> course_roles(["nbgrader-ct101", "formgrade-mr2", "nbgrader-mr2", "staff"])
    {'ct101': 'learner', 'mr2': 'instructor'}
    """
    roles: dict[str, str] = {}
    for group in groups:
        kind, _, course = group.partition("-")
        if kind == "formgrade" and course:
            roles[course] = "instructor"
        elif kind == "nbgrader" and course:
            roles.setdefault(course, "learner")
    return dict(sorted(roles.items()))


class _Service:
    """What every handler shares: the sessions, people's full names, each session's series.

    A session's series (:class:`~dicomteach.live.series.SessionSeries`: its
    grid and reference, not its pixels) is read once, in a worker thread, as
    soon as the session is made, and kept while it is live; so is the last
    measurement of its layers, reused while they do not change.
    """

    def __init__(self, root: Path, roster: Path | None):
        self.registry = Registry(root)
        self.roster = roster
        self._series: dict[str, asyncio.Future[SessionSeries]] = {}
        self._measured: dict[str, tuple[Any, Any, list]] = {}

    def full_name(self, username: str) -> str:
        if self.roster is not None and self.roster.exists():
            try:
                accounts = json.loads(self.roster.read_text(encoding="utf-8"))["accounts"]
                return str(accounts.get(username, {}).get("name") or username)
            except (OSError, ValueError, KeyError, AttributeError):
                pass
        return username

    @staticmethod
    async def work(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` in a worker thread: the websockets keep flowing."""
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    def preload(self, session: Session) -> None:
        """Start reading ``session``'s series now, so that the first measurement need not wait."""
        future = self._series.get(session.id)
        if future is not None and not (future.done() and future.exception()):
            return

        def read() -> SessionSeries:
            from dicomteach.live.series import open_series

            return open_series(session.meta.get("study") or {}, session.meta.get("reference"))[1]

        future = asyncio.ensure_future(self.work(read))
        future.add_done_callback(
            lambda f: (
                f.cancelled()
                or f.exception() is None
                or log.error("live session %s: series not read: %s", session.id, f.exception())
            )
        )
        self._series[session.id] = future

    async def series(self, session: Session) -> SessionSeries:
        self.preload(session)
        try:
            return await asyncio.shield(self._series[session.id])
        except (DicomTeachError, ValueError, OSError) as exc:  # e.g. a sample that is not one
            raise LiveError(f"the session's series cannot be read: {exc}", 422) from None

    async def measured(self, session: Session, series: SessionSeries) -> tuple[Any, list]:
        """The class's agreement and scores for the layers as they are now (reused if unchanged)."""
        from dicomteach.live.agreement import class_agreement, class_scores

        layers = session.doc.get("layers", type=Map).to_py() or {}
        kept = self.measured_for(session, layers)
        if kept is not None:
            return kept
        names = {u: str(e.get("name") or u) for u, e in session.participants().items()}
        boxes = [b.box for b in series.reference.values()]

        def measure() -> tuple[Any, list]:
            agreement = class_agreement(layers, series.shape, also=boxes)
            return agreement, class_scores(agreement, series, full_names=names)

        agreement, rows = await self.work(measure)
        self._measured[session.id] = (layers, agreement, rows)
        return agreement, rows

    def measured_for(self, session: Session, layers: Any) -> tuple[Any, list] | None:
        """The last measurement of ``session`` if it was of exactly these layers."""
        kept = self._measured.get(session.id)
        return (kept[1], kept[2]) if kept is not None and kept[0] == layers else None

    def forget(self, session: Session) -> None:
        self._series.pop(session.id, None)
        self._measured.pop(session.id, None)
        _give_back_memory()


class _Authenticated(HubOAuthenticated):
    """The hub's user of a request, checked before the handler runs (``prepare``)."""

    service: _Service
    hub_auth_class = HubOAuth

    def initialize(self, service: _Service) -> None:
        self.service = service

    async def prepare(self) -> None:
        self.user: dict[str, Any] | None = None
        model = await self.hub_auth.get_user(self, sync=False)
        if model:
            try:
                self.user = self.check_hub_user(model)
            except UserNotAllowed:
                self.user = None
        self._hub_auth_user_cache = self.user
        if self.user is None:
            self.refuse_anonymous()

    def refuse_anonymous(self) -> None:
        raise web.HTTPError(403, "log in to the hub and open /services/live/ first")

    @property
    def username(self) -> str:
        assert self.user is not None
        return str(self.user["name"])

    def roles(self) -> dict[str, str]:
        assert self.user is not None
        return course_roles(list(self.user.get("groups") or []))

    def member(self, course: str) -> Actor:
        """This user as a member of ``course``; 403 unless they belong to it."""
        role = self.roles().get(course)
        if role is None:
            raise LiveError(f"{self.username} is not in the course {course}", 403)
        return Actor(self.username, role)

    def session(self, session_id: str) -> tuple[Session, Actor]:
        session = self.service.registry.get(session_id)
        return session, self.member(str(session.meta["course"]))

    def instructed(self, session_id: str) -> tuple[Session, Actor]:
        """The session and this user; 403 unless they are an instructor of its course."""
        session, actor = self.session(session_id)
        if not actor.instructor:
            raise LiveError(f"{actor.name} is not an instructor of {session.meta['course']}", 403)
        return session, actor


class _Api(_Authenticated, web.RequestHandler):
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.finish({"error": message})

    def body(self) -> dict[str, Any]:
        if len(self.request.body) > MAX_BODY:
            raise LiveError(f"a body of {len(self.request.body)} bytes is too long", 413)
        try:
            value = json.loads(self.request.body or b"{}")
        except ValueError:
            raise LiveError("the body is not JSON", 400) from None
        if not isinstance(value, dict):
            raise LiveError("the body is not a JSON object", 400)
        return value

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, LiveError):
            self.set_status(e.status)
            self.finish({"error": str(e)})
            return
        super()._handle_request_exception(e)

    def described(self, session: Session) -> dict[str, Any]:
        meta = session.meta
        private = {}
        if self.roles().get(str(meta["course"])) == "instructor":
            private["reference"] = meta.get("reference")
        return private | {
            "id": session.id,
            "code": None if session.ended else meta.get("code"),
            "course": meta["course"],
            "title": meta["title"],
            "study": meta.get("study", {}),
            "presenter": meta["presenter"],
            "created": meta["created"],
            "ended": meta.get("ended"),
            "lead": session.lead,
            "present": session.participants(),
            "sync": f"{self.hub_auth.base_url}api/sessions/{session.id}/sync",
        }


class PageHandler(_Authenticated, web.RequestHandler):
    """Opening it once finishes the OAuth round trip; it lists your courses' live sessions."""

    def refuse_anonymous(self) -> None:
        self.redirect(self.get_login_url())

    def get(self) -> None:
        if self.user is None:
            return
        roles = self.roles()
        rows = [
            f"<li>{web.escape.xhtml_escape(m['title'])} ({m['course']}): code <b>{m['code']}</b></li>"
            for m in self.service.registry.sessions()
            if m["course"] in roles
        ]
        self.write(
            "<!doctype html><title>Live sessions</title>"
            f"<p>Signed in as {web.escape.xhtml_escape(self.username)}.</p>"
            f"<ul>{''.join(rows) or '<li>No live session in your courses.</li>'}</ul>"
        )


class MeHandler(_Api):
    def get(self) -> None:
        self.finish({"name": self.username, "courses": self.roles()})


class SessionsHandler(_Api):
    def get(self) -> None:
        roles = self.roles()
        found = [
            self.described(self.service.registry.get(m["id"]))
            for m in self.service.registry.sessions()
            if m["course"] in roles
        ]
        self.finish({"sessions": found})

    def post(self) -> None:
        body = self.body()
        course = str(body.get("course", ""))
        if not COURSE.fullmatch(course):
            raise LiveError(f"course {course!r} is not a course id", 400)
        title = str(body.get("title") or "Live session")[:200]
        study = body.get("study") or {}
        if not isinstance(study, dict):
            raise LiveError("study must be an object, e.g. {'sample': 'ct-chest', 'seed': 1}", 400)
        reference = body.get("reference")
        if reference == "":
            reference = False
        if not (reference is None or reference is False or isinstance(reference, str)):
            raise LiveError("reference must be a file's path, false or absent", 400)
        actor = self.member(course)
        session = self.service.registry.create(actor, course, title, study, reference)
        self.service.preload(session)
        log.info("live session %s of %s made by %s", session.id, course, self.username)
        self.set_status(201)
        self.finish(self.described(session))


class JoinHandler(_Api):
    def get(self, code: str) -> None:
        session = self.service.registry.by_code(code)
        self.member(str(session.meta["course"]))
        self.finish(self.described(session))


class SessionHandler(_Api):
    def get(self, session_id: str) -> None:
        session, _ = self.session(session_id)
        self.finish(self.described(session))


class LeadHandler(_Api):
    def post(self, session_id: str) -> None:
        session, actor = self.session(session_id)
        if session.ended:
            raise LiveError("the session has ended", 409)
        to = self.body().get("to")
        lead = session.set_lead(actor, str(to) if to else None)
        self.finish({"lead": lead})


class EndHandler(_Api):
    async def post(self, session_id: str) -> None:
        session, actor = self.session(session_id)
        if session.ended:
            self.finish(self.described(session))
            return
        self.service.registry.end(session, actor)
        log.info("live session %s ended by %s", session.id, self.username)
        from dicomteach.live.save import save_session

        state = snapshot(session.doc)  # read here: the document stays in this thread
        measured = self.service.measured_for(session, state["layers"])
        try:
            saved = await self.service.work(
                save_session, dict(session.meta), state, session.files.saved,
                session_id=session.id, measured=measured,
            )  # fmt: skip
        except Exception as exc:  # the session stays on disk; saving can be run again
            log.error("live session %s: layers not saved: %s", session.id, exc)
            saved = {"error": str(exc)}
        self.service.forget(session)
        session.meta["saved"] = saved
        session.files.write_meta(session.meta)
        self.finish({**self.described(session), "saved": saved})


class ConsensusHandler(_Api):
    """The class's agreement map and STAPLE consensus, written into the document for all to draw."""

    async def post(self, session_id: str) -> None:
        from dicomteach.live.agreement import class_agreement, document_form

        session, actor = self.instructed(session_id)
        if session.ended:
            raise LiveError("the session has ended", 409)
        names = self.body().get("layers")
        layers = session.doc.get("layers", type=Map).to_py() or {}
        if names is not None:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise LiveError("layers must be a list of usernames", 400)
            unknown = sorted(set(names) - set(layers))
            if unknown:
                raise LiveError(f"{unknown[0]} has no layer in this session", 400)
        series = await self.service.series(session)
        began = time.perf_counter()
        agreement = await self.service.work(class_agreement, layers, series.shape, names=names)
        if session.ended:
            raise LiveError("the session has ended", 409)
        form = document_form(agreement, by=actor.name)
        session.set_consensus(form)
        seconds = time.perf_counter() - began
        log.info(
            "live session %s: consensus of %d layers in %.2f s",
            session.id, len(agreement.labels), seconds,
        )  # fmt: skip
        voxel = float(np.prod(series.spacing))
        self.finish(
            {
                "made": form["made"],
                "by": form["by"],
                "raters": form["raters"],
                "structures": [
                    {
                        "label": s.label,
                        "raters": list(s.raters),
                        "consensus_mm3": round(float(s.consensus.sum()) * voxel, 1),
                        "iterations": s.iterations,
                    }
                    for s in agreement.structures
                ],
                "skipped": agreement.skipped,
                "seconds": round(seconds, 3),
            }
        )


class ScoresHandler(_Api):
    """Each participant's scores and the poll's clicks, as a table or (``.png``) a picture."""

    async def get(self, session_id: str, picture: str | None = None) -> None:
        from dicomteach.live.agreement import class_picture, poll_results

        session, _ = self.instructed(session_id)
        series = await self.service.series(session)
        agreement, rows = await self.service.measured(session, series)
        names = {u: str(e.get("name") or u) for u, e in session.participants().items()}
        if picture:
            structure = self.get_query_argument("structure", None)
            if structure is not None and not structure.isdigit():
                raise LiveError(f"structure must be a number, not {structure!r}", 400)
            png = await self.service.work(
                class_picture, agreement, series, None if structure is None else int(structure),
                full_names=names, rows=rows, window=self._window(session),
            )  # fmt: skip
            if png is None:
                raise LiveError("nothing to show: no outline of that structure yet", 404)
            self.set_header("Content-Type", "image/png")
            self.set_header("Cache-Control", "no-store")
            self.finish(png)
            return
        poll = session.doc.get("poll", type=Map).to_py() or {}
        self.finish(
            {
                "reference": Path(series.reference_path).name if series.reference_path else None,
                "rows": rows,
                "poll": poll_results(poll, series, full_names=names),
                "skipped": agreement.skipped,
            }
        )

    @staticmethod
    def _window(session: Session) -> Any:
        """The presenter's window, if they set one: the picture shows what the class saw."""
        from dicomteach.io.volume import Window

        value = session.doc.get("view", type=Map).to_py() or {}
        try:
            centre, width = (float(x) for x in value.get("window") or ())
        except (TypeError, ValueError):
            return None
        return Window(centre, width) if width > 0 else None


class SyncHandler(_Authenticated, websocket.WebSocketHandler):
    """One client's Yjs connection to one session (``sessions.Session.receive``)."""

    async def prepare(self) -> None:
        await super().prepare()
        try:
            self.live, self.actor_ = self.session(self.path_kwargs.get("session_id") or "")
        except LiveError as exc:
            raise web.HTTPError(exc.status, str(exc)) from None
        if self.live.ended:
            raise web.HTTPError(410, "the session has ended")

    @property
    def actor(self) -> Actor:  # sessions.Connection
        return self.actor_

    def get_compression_options(self) -> dict[str, Any]:
        return {}

    def open(self, session_id: str) -> None:
        self.live.join(self, self.service.full_name(self.username))

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.live.receive(self, message)

    def on_close(self) -> None:
        self.live.leave(self)

    def send(self, message: bytes) -> None:
        try:
            self.write_message(message, binary=True)
        except websocket.WebSocketClosedError:
            self.live.connections.discard(self)


def _give_back_memory() -> None:
    """Return freed memory to the system after a session's big arrays (glibc keeps it otherwise).

    Saving a session decodes its whole series and each layer on it, in worker
    threads whose allocator arenas would keep the pages for the service's life.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def cookie_secret(root: Path) -> bytes:
    """The key of the service's login cookies, kept in ``root`` (0600) so a restart keeps people in.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> cookie_secret(folder) == cookie_secret(folder), len(cookie_secret(folder))
    (True, 32)
    """
    path = Path(root) / ".cookie_secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    Path(root).mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
        fh.flush()
        os.fsync(fh.fileno())
    return secret


def make_app(
    root: Path, roster: Path | None = None, prefix: str = "/services/live/"
) -> web.Application:
    """The tornado application of the service (module docstring) for the sessions under ``root``."""
    service = _Service(root, roster)
    sid = r"(?P<session_id>[^/]+)"
    routes = [
        (prefix, PageHandler),
        (prefix + "api/me", MeHandler),
        (prefix + "api/sessions", SessionsHandler),
        (prefix + r"api/join/(?P<code>[A-Za-z]{1,12})", JoinHandler),
        (prefix + f"api/sessions/{sid}", SessionHandler),
        (prefix + f"api/sessions/{sid}/lead", LeadHandler),
        (prefix + f"api/sessions/{sid}/end", EndHandler),
        (prefix + f"api/sessions/{sid}/consensus", ConsensusHandler),
        (prefix + f"api/sessions/{sid}/scores(?P<picture>\\.png)?", ScoresHandler),
        (prefix + f"api/sessions/{sid}/sync", SyncHandler),
    ]
    handlers: list[Any] = [(path, handler, {"service": service}) for path, handler in routes]
    handlers.append((prefix + "oauth_callback", HubOAuthCallbackHandler))
    app = web.Application(
        handlers,
        cookie_secret=cookie_secret(root),
        websocket_max_message_size=MAX_MESSAGE,
        websocket_ping_interval=20,
        websocket_ping_timeout=60,
        xsrf_cookies=False,
    )
    app.live = service  # type: ignore[attr-defined]
    return app


def main() -> None:
    """Run the service as the hub asks (module docstring); SIGTERM syncs every log and stops."""
    logging.basicConfig(level=logging.INFO, format="[live %(asctime)s] %(message)s")
    root = Path(os.environ["DICOMTEACH_LIVE_STATE"])
    hub_state = os.environ.get("DICOMTEACH_HUB_STATE")
    roster = Path(hub_state) / "hub" / "roster.json" if hub_state else None
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/live/")
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8765"))
    app = make_app(root, roster, prefix)
    server = HTTPServer(app, max_body_size=MAX_MESSAGE)
    server.listen(url.port or 80, url.hostname or "127.0.0.1")
    loop = ioloop.IOLoop.current()
    syncer = ioloop.PeriodicCallback(app.live.registry.sync, 1000)  # type: ignore[attr-defined]
    syncer.start()

    def stop(*_: Any) -> None:
        syncer.stop()
        server.stop()
        app.live.registry.close()  # type: ignore[attr-defined]
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("live sessions in %s, at %s%s", root, url.geturl(), prefix)
    loop.start()
