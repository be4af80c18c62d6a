"""The largest file a server on the hub accepts: an upload over the limit is refused, nothing lost.

Jupyter Server itself bounds only a request's body (``ServerApp.max_body_size``,
default 512 MiB, buffered in memory), and JupyterLab sends a file larger than
15 MiB in pieces of 1 MiB (the contents API's ``chunk``), each one request: a
body limit alone bounds memory, never a file. So the servers on the hub
(``dicomteach/hub/jupyter/*/jupyter_server_config.py``) get both:

- :class:`LimitedContentsManager`, Jupyter Server's own contents manager
  refusing, with HTTP 413 and a line in the server's log, a save that would make
  a file larger than ``max_file_bytes`` (``DICOMTEACH_HUB_UPLOAD_LIMIT``), whole
  or by pieces. The refusal comes before anything is written: a file of that
  name already there stays as it was; the pieces of an upload refused half-way
  stay where they were, for the learner to delete;
- a body limit per request (:func:`request_limit`) a little above what
  JupyterLab ever sends in one request, so a script posting a huge body is cut
  off by the server before it fills the learner's memory.
"""

from __future__ import annotations

import json
import os
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Integer

__all__ = ["LimitedContentsManager", "configure_server", "content_bytes", "request_limit"]

MIB = 2**20
LAB_WHOLE_FILE = 16 * MIB
"""JupyterLab sends files up to 15 MiB in one request (above, in 1 MiB pieces)."""


def content_bytes(model: dict[str, Any]) -> int:
    """How many bytes the ``content`` of a contents-API ``model`` makes on disk (about).

    >>> content_bytes({"type": "file", "format": "base64", "content": "aGVsbG8="})
    5
    >>> content_bytes({"type": "file", "format": "text", "content": "é"})
    2
    """
    content = model.get("content")
    if content is None:
        return 0
    if model.get("type") == "notebook":
        return len(json.dumps(content))
    if model.get("format") == "base64":
        text = content.strip()
        return len(text) * 3 // 4 - (text.endswith("=") + text.endswith("=="))
    return len(str(content).encode("utf-8"))


def request_limit(max_file_bytes: int) -> int:
    """The largest request body a server takes: a file of up to ``max_file_bytes`` in one
    request (base64 in JSON), at least JupyterLab's largest whole file and at most 32 MiB of
    file; larger files come in pieces.

    >>> request_limit(4 * MIB) // MIB, request_limit(256 * MIB) // MIB
    (22, 43)
    """
    carried = min(max(max_file_bytes, LAB_WHOLE_FILE), 32 * MIB)
    return -(-carried * 4 // 3) + MIB


class LimitedContentsManager(AsyncLargeFileManager):
    """Jupyter Server's contents manager with a largest file (see the module docstring)."""

    max_file_bytes = Integer(
        0, config=True, help="Largest file saved through the contents API, in bytes (0: none)."
    )

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        limit = self.max_file_bytes
        if limit and model.get("content") is not None:
            size = content_bytes(model)
            chunk = model.get("chunk")
            if chunk not in (None, 1):  # a later piece: what the earlier ones wrote counts
                os_path = self._get_os_path(path.strip("/"))
                size += os.path.getsize(os_path) if os.path.isfile(os_path) else 0
            if size > limit:
                # the message is the API's answer (Jupyter Server does not format it) and the
                # log's line
                message = (
                    f"upload refused: {path.strip('/')} would be {size} bytes, over the limit of "
                    f"{limit} bytes ({limit / MIB:g} MiB)"
                )
                raise web.HTTPError(413, message.replace("%", "%%"))
        return await super().save(model, path)


def configure_server(c: Any, environ: dict[str, str] | None = None) -> None:
    """Set a server's contents manager and body limit from ``DICOMTEACH_UPLOAD_LIMIT``
    (bytes, set by the hub: dicomteach/hub/config.py); nothing when it is unset or 0."""
    limit = int((os.environ if environ is None else environ).get("DICOMTEACH_UPLOAD_LIMIT", 0))
    if limit <= 0:
        return
    c.ServerApp.contents_manager_class = LimitedContentsManager
    c.LimitedContentsManager.max_file_bytes = limit
    c.ServerApp.max_body_size = request_limit(limit)
    c.ServerApp.max_buffer_size = request_limit(limit)
