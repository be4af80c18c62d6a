"""Live sessions from a Viewer or a Delineator: go live, join by code, follow, draw together.

A live session (docs/live.md) is a shared document held by the hub's live
service (``/services/live/``). The two halves of a widget share the work:

- **the kernel** talks to the service's REST API with the person's own hub
  token (``JUPYTERHUB_API_TOKEN``, which every server on the hub is given):
  it starts a session (:meth:`LiveWidget.go_live`), finds one by its join code
  (:meth:`LiveWidget.join`), hands the lead on and ends the session. What it
  learns goes to the browser in the synced ``live`` trait; a problem, in one
  line, in ``live_error``;
- **the browser** holds the document (``static/live/``): it signs in to the
  service once (HubOAuth's cookie), joins the session's websocket with Yjs,
  follows or leads the view, writes the person's strokes to their layer and
  draws the others'.

Yjs is not part of any widget's script: it ships once, as the ES module
``static/vendor/yjs.js`` (built by ``scripts/vendor_yjs.mjs`` from the
versions ``package.json`` pins, its licences in its header), and the browser
asks for it only when a widget goes live (a ``live`` message with action
``module``); the kernel answers with the file's bytes, which the page imports
from a blob URL once and shares between its widgets (docs/decisions.md,
decision 38).

The presenter's view of the class's work goes the same way: the kernel asks
the service for the agreement map and consensus (:meth:`LiveWidget.agreement`),
which the service writes into the document, where every browser finds it; and
for the scores and their picture (:meth:`LiveWidget.scores`,
:meth:`LiveWidget.scores_picture`), which only this widget's browser is sent.

Messages (JS → Python, ``{"type": "live", "action": …}``): ``module``;
``go`` ``{title}``; ``join`` ``{code}``; ``lead`` ``{to}`` (a username, or
null to take the lead back); ``end``; ``leave``; ``consensus``; ``scores``
``{structure}``. Python → JS: ``{"type": "live_module"}`` with the module's
bytes; ``{"type": "live_reply", "action", "ok", "error"}`` when a
``consensus`` or ``scores`` is done, with ``answer`` (the service's) and, for
the scores, ``picture`` (whether the PNG is the one buffer).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import traitlets

from dicomteach.errors import DicomTeachError
from dicomteach.widgets._base import ImageWidget, bundle_css
from dicomteach.widgets._bundle import STATIC

__all__ = ["LiveError", "LiveService", "LiveSession", "LiveWidget", "study_of"]

log = logging.getLogger(__name__)

YJS_MODULE = STATIC / "vendor" / "yjs.js"
"""The vendored Yjs bundle the browser imports for a live session (module docstring)."""

TIMEOUT = 15.0
"""Seconds a request to the live service may take."""

MEASURE_TIMEOUT = 120.0
"""Seconds the consensus, the scores or their picture may take: the first scores of a
class of 30 read the series and measure every outline (docs/live.md)."""

SERVICE = "live"
"""The hub service's name (dicomteach/hub/config.py)."""


class LiveError(DicomTeachError):
    """A live session cannot be started, joined or changed; the message says why."""

    status: int | None = None
    """The service's HTTP status when it refused (403: not yours to do), else None."""


@dataclass(frozen=True)
class LiveSession:
    """A live session as a widget knows it: what to paste in the class's videoconference.

    >>> LiveSession("ab12", "QWERTY", "Tumour board", "ct101", "teacher", "/services/live/")
    Live session 'Tumour board' (ct101): join code QWERTY, page /services/live/
    """

    id: str
    code: str
    title: str
    course: str
    presenter: str
    page: str
    """The service's page (under the hub's address): it lists each course's live sessions."""

    def __repr__(self) -> str:
        return (
            f"Live session {self.title!r} ({self.course}): join code {self.code}, page {self.page}"
        )

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<div class='dt-live-card'><b>Live: {escape(self.title)}</b> ({escape(self.course)})"
            f" · join code <code style='font-size:1.3em'>{escape(self.code)}</code>"
            f" · learners press <i>Join</i> on the same image and type the code"
            f" (page: <a href='{escape(self.page)}' target='_blank'>{escape(self.page)}</a>)</div>"
        )


@dataclass(frozen=True)
class LiveService:
    """Where the hub's live service answers, and the token to ask it with.

    ``url`` is the service's own address (``DICOMTEACH_LIVE_URL``, which the hub
    gives every server, then its routes under ``prefix``), reached from the
    kernel; ``prefix`` is its path on the hub's public address, the browser's
    (same origin as the page).
    """

    url: str
    prefix: str
    token: str
    user: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> LiveService:
        """The service of the hub this kernel's server runs under (its ``JUPYTERHUB_*``).

        >>> LiveService.from_environment({})
        Traceback (most recent call last):
        ...
        dicomteach.widgets.live.LiveError: live sessions need the classroom hub: this kernel's server was not started by JupyterHub (no JUPYTERHUB_API_TOKEN)
        """
        env = os.environ if env is None else env
        token = env.get("JUPYTERHUB_API_TOKEN", "")
        if not token:
            raise LiveError(
                "live sessions need the classroom hub: this kernel's server was not started "
                "by JupyterHub (no JUPYTERHUB_API_TOKEN)"
            )
        direct = env.get("DICOMTEACH_LIVE_URL", "")
        if not direct:
            raise LiveError(
                "live sessions need the classroom hub's live service: the hub gave this "
                "server no DICOMTEACH_LIVE_URL (dicomteach/hub/config.py sets it)"
            )
        base = env.get("JUPYTERHUB_BASE_URL", "/")
        prefix = f"{base.rstrip('/')}/services/{SERVICE}/"
        return cls(direct.rstrip("/") + prefix, prefix, token, env.get("JUPYTERHUB_USER", ""))

    def call(
        self, method: str, path: str, body: dict | None = None, *, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """One request to the service's API (``api/<path>``); its JSON answer."""
        answer = _request(method, f"{self.url}api/{path}", self.token, body, timeout=timeout)
        return dict(json.loads(answer or b"{}"))

    def fetch(self, path: str, *, timeout: float = TIMEOUT) -> bytes:
        """The bytes the service's API answers a GET of ``api/<path>`` with (a picture)."""
        return _request("GET", f"{self.url}api/{path}", self.token, timeout=timeout)


def _request(
    method: str, url: str, token: str, body: dict | None = None, *, timeout: float = TIMEOUT
) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return bytes(answer.read())
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error") or exc.reason
        except (ValueError, AttributeError, OSError):
            reason = exc.reason
        refused = LiveError(f"the live service refused ({exc.code}): {reason}")
        refused.status = exc.code
        raise refused from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LiveError(f"the live service did not answer at {url}: {exc}") from None


def _running_session(
    service: LiveService, course: str, title: str, study: dict[str, Any]
) -> dict[str, Any] | None:
    """The live session ``service.user`` presents in ``course`` with this title and study,
    the one made last if several; None when there is none (go_live then starts one)."""
    found = [
        s
        for s in service.call("GET", "sessions").get("sessions") or []
        if not s.get("ended")
        and s.get("presenter") == service.user
        and s.get("course") == course
        and s.get("title") == title
        and s.get("study") == study
    ]
    return max(found, key=lambda s: str(s.get("created") or ""), default=None)


def study_of(volume: Any) -> dict[str, Any]:
    """The ``study`` a session names for the series ``volume`` was read from (docs/live.md).

    The folder holding its files, and its series UID, so the service saves each
    layer on that series when the session ends.

    >>> import numpy as np
    >>> from dicomteach.io.volume import Volume
    >>> v = Volume(np.zeros((1, 2, 2), np.int16), (1.0,) * 3, (0.0,) * 3, np.eye(3))
    >>> study_of(v)
    Traceback (most recent call last):
    ...
    dicomteach.widgets.live.LiveError: this image was not read from DICOM files: go_live(title, study={'folder': ...}) names the series
    """
    paths = [Path(p) for p, _frame in (getattr(volume, "sources", None) or ())]
    folders = {p.parent for p in paths if p.parent.is_dir()}
    if not folders:
        raise LiveError(
            "this image was not read from DICOM files: go_live(title, study={'folder': ...}) "
            "names the series"
        )
    folder = Path(os.path.commonpath([str(f) for f in folders]))
    study: dict[str, Any] = {"folder": str(folder.resolve())}
    if getattr(volume, "series_uid", ""):
        study["series"] = volume.series_uid
    return study


class LiveWidget(ImageWidget):
    """An image widget that can join a live session (the Viewer and the Delineator).

    ``go_live`` starts one (an instructor), ``join`` joins one by its code,
    ``leave`` leaves it, ``hand_lead`` and ``end_live`` are the presenter's; the
    widget's *Live* group does the same with buttons (docs/live.md).
    """

    _css = bundle_css("live.css")

    live = traitlets.Dict().tag(sync=True)
    """The session this widget is in (``{}`` when none): id, code, title, course,
    presenter, the person (``me``) and their role, the service's path (``service``)
    and the sync websocket's (``sync``). The browser joins when it changes."""
    live_error = traitlets.Unicode("").tag(sync=True)
    """Why the last live action failed, in one line ("" when it did not)."""

    _live_service: LiveService | None = None

    def _show_series(self, uid: str) -> bool:
        """Show the series ``uid`` if this widget holds it among others (a Viewer of a
        study); False when it cannot (the session is on another image)."""
        return False

    def _service(self) -> LiveService:
        if self._live_service is None:
            self._live_service = LiveService.from_environment()
        return self._live_service

    def _enter(self, described: dict[str, Any], role: str) -> LiveSession:
        service = self._service()
        study = described.get("study") or {}
        wanted = study.get("series") if isinstance(study, dict) else None
        shown = getattr(self.volume, "series_uid", "") if self.volume is not None else ""
        if wanted and shown and wanted != shown and not self._show_series(str(wanted)):
            raise LiveError(
                f"the session {described.get('title')!r} is on series {wanted}; "
                f"this widget shows {shown}: open the session's image first"
            )
        session = LiveSession(
            str(described["id"]),
            str(described.get("code") or ""),
            str(described.get("title") or ""),
            str(described.get("course") or ""),
            str(described.get("presenter") or ""),
            service.prefix,
        )
        self.live = {
            "id": session.id,
            "code": session.code,
            "title": session.title,
            "course": session.course,
            "presenter": session.presenter,
            "me": service.user,
            "role": role,
            "service": service.prefix,
            "sync": f"{service.prefix}api/sessions/{session.id}/sync",
            "series": str(wanted or ""),
        }
        self.live_error = ""
        return session

    def go_live(
        self,
        title: str = "Live session",
        *,
        course: str | None = None,
        study: dict[str, Any] | None = None,
        new: bool = False,
    ) -> LiveSession:
        """Start a live session on this image and join it as its presenter.

        Learners join with the code it shows (:meth:`join`, or the widget's
        *Join* button): they follow your slice, plane, window, zoom and pointer,
        draw on their own layers, and answer polls (docs/live.md). Paste the
        code in the class's videoconference.

        If you already present a live session of the same title, course and
        study (your kernel restarted, or you opened the notebook again), this
        joins it again instead: the class keeps its code, its layers and its
        polls, and follows you as before. ``new=True`` starts another one.

        Parameters
        ----------
        title : str
            What the class sees, e.g. ``"Tumour board 3 Dec"``.
        course : str, optional
            The course whose learners may join; needed only if you teach several.
        study : dict, optional
            The series the session is on, as the service saves layers on it
            (``{"sample": ..., "seed": ..., "options": ...}`` or ``{"folder": ...}``);
            default: the folder this image was read from, and its series UID.

        new : bool, optional
            Start a new session even if you present one of this title on this study.

        Raises
        ------
        LiveError
            Not on the hub, not an instructor of the course, or the service refused.

        Examples
        --------
        In an instructor's notebook on the classroom hub:

        >>> d = Delineator(ct, "GTV")  # doctest: +SKIP
        >>> d.go_live("Tumour board 3 Dec")  # doctest: +SKIP
        Live session 'Tumour board 3 Dec' (ct101): join code QWERTY, page /services/live/
        """
        service = self._service()
        me = service.call("GET", "me")
        teaching = sorted(
            c for c, role in (me.get("courses") or {}).items() if role == "instructor"
        )
        if course is None:
            if len(teaching) != 1:
                what = ", ".join(teaching) if teaching else "no course"
                raise LiveError(
                    f"{service.user} teaches {what}: go_live(title, course=...) says which"
                    if teaching
                    else f"{service.user} teaches no course: only an instructor starts a session"
                )
            course = teaching[0]
        if study is None:
            if self.volume is None:
                raise LiveError("this widget shows no image to go live on")
            study = study_of(self.volume)
        if not new:
            running = _running_session(service, course, str(title)[:200], study)
            if running is not None:
                return self._enter(running, "instructor")
        described = service.call(
            "POST", "sessions", {"course": course, "title": str(title), "study": study}
        )
        return self._enter(described, "instructor")

    def join(self, code: str) -> LiveSession:
        """Join the live session whose join code is ``code`` (any case), on this image.

        Raises
        ------
        LiveError
            Not on the hub, no live session has that code, not in its course, or
            the session is on another series than this widget's.

        Examples
        --------
        In a learner's lesson, on the same image:

        >>> Delineator(ct, "GTV").join("qwerty")  # doctest: +SKIP
        Live session 'Tumour board 3 Dec' (ct101): join code QWERTY, page /services/live/
        """
        service = self._service()
        cleaned = "".join(str(code).split()).upper()
        if not cleaned.isalpha() or len(cleaned) > 12:
            raise LiveError(f"{code!r} is not a join code (six letters, e.g. QWERTY)")
        described = service.call("GET", f"join/{cleaned}")
        role = (service.call("GET", "me").get("courses") or {}).get(described.get("course"))
        return self._enter(described, str(role or "learner"))

    def leave(self) -> None:
        """Leave the session (the browser closes its connection); the session goes on."""
        self.live = {}
        self.live_error = ""

    def _session_id(self) -> str:
        if not self.live.get("id"):
            raise LiveError("this widget is not in a live session")
        return str(self.live["id"])

    def hand_lead(self, username: str | None) -> str:
        """Give the lead to ``username`` (they move everyone's view), or take it back with
        ``None``; who leads now. Instructors only."""
        answer = self._service().call(
            "POST", f"sessions/{self._session_id()}/lead", {"to": username}
        )
        return str(answer.get("lead", ""))

    def end_live(self) -> dict[str, Any]:
        """End the session for everyone; every layer is saved (docs/live.md). Instructors only.

        Returns what the service saved: ``{username: {"npz", "seg", "skipped"}}``.
        """
        answer = self._service().call("POST", f"sessions/{self._session_id()}/end")
        return dict(answer.get("saved") or {})

    def agreement(self, layers: list[str] | None = None) -> dict[str, Any]:
        """Ask the service for the class's agreement map and STAPLE consensus. Instructors only.

        The service computes them from the layers as they are now (or from
        ``layers``, usernames) and writes them into the session's document: this
        widget draws them at once, the class once the presenter shows them
        (*Show map to class*, *Show consensus to class*). Ask again after the
        class drew more. Returns the service's answer: who counted
        (``raters``), each structure's consensus volume and STAPLE's steps.

        Examples
        --------
        >>> d.agreement()["raters"]  # doctest: +SKIP
        ['alice', 'bob']
        """
        body = {} if layers is None else {"layers": [str(name) for name in layers]}
        return self._service().call(
            "POST", f"sessions/{self._session_id()}/consensus", body, timeout=MEASURE_TIMEOUT
        )

    def scores(self) -> dict[str, Any]:
        """Each participant's Dice, surface Dice and HD95, and the poll's clicks measured.

        Against the session's reference where it has the structure, else the
        class's consensus (docs/live.md, "Scores and the poll"): ``{reference,
        rows, poll, skipped}``. Instructors only: a learner never reads the
        others' scores.

        Examples
        --------
        >>> [(r["name"], r["dice"]) for r in d.scores()["rows"]]  # doctest: +SKIP
        [('Alice Martin', 0.81), ('Bob Okafor', 0.64)]
        """
        return self._service().call(
            "GET", f"sessions/{self._session_id()}/scores", timeout=MEASURE_TIMEOUT
        )

    def scores_picture(self, structure: int | None = None) -> bytes:
        """PNG: each participant's outline of ``structure`` (default: the first) against the
        reference or the consensus, with their Dice. Instructors only."""
        query = "" if structure is None else f"?structure={int(structure)}"
        return self._service().fetch(
            f"sessions/{self._session_id()}/scores.png{query}", timeout=MEASURE_TIMEOUT
        )

    # ------------------------------------------------------------------ from the browser

    def _handle_live(self, content: dict, _buffers: list) -> None:
        action = content.get("action")
        if action == "module":
            self.send({"type": "live_module"}, [YJS_MODULE.read_bytes()])
            return
        if action in ("consensus", "scores"):
            self._reply(action, content)
            return
        try:
            if action == "go":
                self.go_live(str(content.get("title") or "Live session"))
            elif action == "join":
                self.join(str(content.get("code") or ""))
            elif action == "lead":
                to = content.get("to")
                self.hand_lead(str(to) if to else None)
            elif action == "end":
                self.end_live()
            elif action == "leave":
                self.leave()
            else:
                return
            self.live_error = ""
        except DicomTeachError as exc:
            log.warning("live %s: %s", action, exc)
            self.live_error = exc.problem

    def _reply(self, action: str, content: dict) -> None:
        """The presenter's *Agreement* and *Scores* buttons: ask, then tell the browser."""
        reply: dict[str, Any] = {"type": "live_reply", "action": action, "ok": True, "error": ""}
        buffers: list[bytes] = []
        try:
            if action == "consensus":
                reply["answer"] = self.agreement()
            else:
                reply["answer"] = self.scores()
                structure = content.get("structure")
                try:
                    buffers = [self.scores_picture(int(structure) if structure else None)]
                except LiveError as exc:
                    if exc.status != 404:  # 404: no outline of it yet, no picture
                        raise
            self.live_error = ""
        except DicomTeachError as exc:
            log.warning("live %s: %s", action, exc)
            reply.update(ok=False, error=exc.problem)
            self.live_error = exc.problem
        reply["picture"] = bool(buffers)
        self.send(reply, buffers)
