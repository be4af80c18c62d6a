"""Notebooks served as Voilà apps, offline: the command line and environment to use.

Voilà's own "lab" template links two Font Awesome stylesheets on a CDN. Ours
(``dicomteach``, shipped in ``dicomteach/share/voila/templates``) is that
template with those links emptied, so an app asks nothing of the outside world
(docs/decisions.md, decisions 2 and 10); Voilà finds it through ``JUPYTER_PATH``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["SHARE", "TEMPLATE", "configure_voila", "voila_command", "voila_env"]

SHARE = Path(__file__).parent / "share"
"""A Jupyter data folder: ``voila/templates/dicomteach`` inside."""

TEMPLATE = "dicomteach"

# Voilà would try to load these JupyterLab extensions and log shared-module errors;
# never an allow-list instead: anywidget then fails to activate (docs/decisions.md, decision 10).
_DENY = ("@jupyter/nbgrader", "@jupyter-notebook/lab-extension")


def voila_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with our templates first on ``JUPYTER_PATH``.

    >>> voila_env({"JUPYTER_PATH": "/x"})["JUPYTER_PATH"].split(os.pathsep)[1]
    '/x'
    """
    env = dict(os.environ if env is None else env)
    paths = [str(SHARE), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    return env


def voila_command(
    notebook: str | os.PathLike[str], *, port: int, ip: str = "127.0.0.1"
) -> list[str]:
    """The command serving ``notebook`` as an app on ``ip:port`` with our template.

    >>> cmd = voila_command("lesson.ipynb", port=8866)
    >>> cmd[1:4], "--template=dicomteach" in cmd
    (['-m', 'dicomteach.voila_app', 'lesson.ipynb'], True)
    """
    return [
        sys.executable,
        "-m",
        "dicomteach.voila_app",  # Voilà with the hook its page's kernel shutdown needs
        os.fspath(notebook),
        "--no-browser",
        f"--port={int(port)}",
        f"--Voila.ip={ip}",
        f"--template={TEMPLATE}",
        *(f"--VoilaConfiguration.extension_denylist={name}" for name in _DENY),
        # send the page at once and each cell's output as it comes: a learner sees the
        # lesson's first image while its later cells still run (half the wait, measured)
        "--VoilaConfiguration.progressive_rendering=True",
    ]


def configure_voila(c: Any) -> None:
    """Voilà inside a Jupyter server (the hub's servers, Binder's image) as ``dicomteach app``
    runs it: our offline template, the extensions it must not load, sources hidden, the
    page's kernel shut down when the page closes (dicomteach/voila_app.py).

    ``c`` is the config a ``voila.py`` in a Jupyter configuration folder gets from
    ``get_config()``.

    >>> from traitlets.config import Config
    >>> c = Config()
    >>> configure_voila(c)
    >>> c.VoilaConfiguration.template, c.VoilaConfiguration.strip_sources
    ('dicomteach', True)
    """
    from dicomteach.voila_app import give_xsrf_cookie

    c.VoilaConfiguration.template = TEMPLATE
    c.VoilaConfiguration.extension_denylist = list(_DENY)
    c.VoilaConfiguration.progressive_rendering = True
    c.VoilaConfiguration.strip_sources = True
    c.VoilaConfiguration.prelaunch_hook = give_xsrf_cookie
