"""Voilà as our apps run it: ``python -m dicomteach.voila_app NOTEBOOK [voila options]``.

The same program as ``python -m voila``, with one hook set that the command line
cannot set (it takes a function). When an app's page closes or reloads, Voilà's
page asks its server to shut the page's kernel down, sending the ``_xsrf``
cookie's value with the request; but nothing in Voilà 0.5 sets that cookie, so
the request is refused (403) and every reload leaves a kernel running, with the
lesson's images in its memory, until the server stops. The hook runs when a page
is requested, before its kernel starts, and reads the request's XSRF token, which
is what makes the web framework set the cookie on that response.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["give_xsrf_cookie", "main"]


def give_xsrf_cookie(request: Any, notebook: Any, cwd: str) -> None:
    """Voilà's prelaunch hook: the page's response carries the ``_xsrf`` cookie."""
    request.xsrf_token  # noqa: B018 - reading it is what sets the cookie


def main(argv: list[str] | None = None) -> None:
    """Run Voilà with ``argv`` (default: this process's arguments) and our hook."""
    from traitlets.config import Config
    from voila.app import Voila

    config = Config()
    config.VoilaConfiguration.prelaunch_hook = give_xsrf_cookie
    Voila.launch_instance(sys.argv[1:] if argv is None else argv, config=config)


if __name__ == "__main__":
    main()
