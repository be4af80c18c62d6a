"""An app's kernel takes only its widgets' messages, in each account's server on the hub.

Voilà run on its own (``dicomteach app``, Binder's apps) lets a page's kernel
take only the messages of widgets: a message to run code that the page did not
send is dropped. Run inside a server, as each account's server on the hub runs
it (``/user/<name>/voila/render/…``), Voilà starts its kernels with the
server's kernel manager, which takes every message, since JupyterLab's kernels
are its kernels too. This module makes the server tell the two apart:

- :class:`AppKernelManager` remembers which kernels Voilà started (Voilà gives
  them the page's address in their environment, ``VOILA_REQUEST_URL``);
- :class:`AppKernelConnection`, the kernels' websocket, drops any message to
  one of those kernels that Voilà on its own would drop (:data:`APP_MESSAGES`
  are the ones it keeps), and logs it.

The learner's JupyterLab kernels are untouched. This is no wall between a
learner and their own server (they have JupyterLab and a terminal, as their own
system user: docs/hub.md, "Lessons as apps"): it keeps an app what it says it
is, a page that runs its lesson and nothing typed into it. The servers are
configured with both classes in ``jupyter/singleuser/jupyter_server_config.py``.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Set

__all__ = ["APP_MESSAGES", "AppKernelConnection", "AppKernelManager", "message_type"]

APP_MESSAGES = frozenset(
    {
        "comm_open",
        "comm_close",
        "comm_msg",
        "comm_info_request",
        "kernel_info_request",
        "shutdown_request",
    }
)
"""What a page may send to an app's kernel: the list Voilà on its own keeps (voila.app)."""

_V1 = "v1.kernel.websocket.jupyter.org"


class AppKernelManager(AsyncMappingKernelManager):
    """The server's kernel manager, remembering which kernels Voilà started."""

    app_kernels = Set(help="Ids of the kernels Voilà started for an app's page.")

    async def start_kernel(self, *, kernel_id: str | None = None, **kwargs: Any) -> str:
        started = await super().start_kernel(kernel_id=kernel_id, **kwargs)
        if "VOILA_REQUEST_URL" in (kwargs.get("env") or {}):
            self.app_kernels.add(started)
        return started

    def remove_kernel(self, kernel_id: str) -> Any:
        self.app_kernels.discard(kernel_id)
        return super().remove_kernel(kernel_id)


def message_type(message: str | bytes, subprotocol: str | None, unpack: Any = json.loads) -> str:
    """The ``msg_type`` of a message a page sent on a kernel's websocket ("" if none is found).

    >>> message_type('{"header": {"msg_type": "execute_request"}, "channel": "shell"}', None)
    'execute_request'
    >>> message_type("not json", None)
    ''
    """
    try:
        if subprotocol == _V1:
            _, parts = deserialize_msg_from_ws_v1(message)
            header = unpack(parts[0])
        elif isinstance(message, bytes):
            header = deserialize_binary_message(message)["header"]
        else:
            header = json.loads(message)["header"]
        return str(header.get("msg_type", ""))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""


class AppKernelConnection(ZMQChannelsWebsocketConnection):
    """The kernels' websocket: an app's kernel gets only :data:`APP_MESSAGES`."""

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        apps = getattr(self.multi_kernel_manager, "app_kernels", ())
        if self.kernel_id in apps:
            kind = message_type(incoming_msg, self.subprotocol, self.session.unpack)
            if kind not in APP_MESSAGES:
                self.log.warning(
                    "refused a %r message to kernel %s: an app's page sends only its widgets'",
                    kind or "unreadable",
                    self.kernel_id,
                )
                return
        super().handle_incoming_message(incoming_msg)
