"""``dicomteach app NOTEBOOK``: the notebook as a Voilà app, with our offline template."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys

from dicomteach.apps import voila_command, voila_env
from dicomteach.errors import DicomTeachError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach app`` to the command line."""
    app = subparsers.add_parser(
        "app",
        help="serve a notebook as a Voilà app (no code shown, offline)",
        description="Serve NOTEBOOK as a Voilà app: its outputs and widgets without its code, "
        "for people who never touch code. Uses dicomteach's Voilà template, which asks nothing "
        "of the network (no CDN). Stop with ctrl-c.",
    )
    app.add_argument("notebook", metavar="NOTEBOOK")
    app.add_argument("--port", type=int, default=8866, help="port to listen on (8866)")
    app.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)"
    )
    app.set_defaults(run=run)


def free_port_from(port: int, ip: str, tries: int = 50) -> int:
    """``port`` if nothing listens on it at ``ip``, else the next free one (as Jupyter does).

    >>> import socket
    >>> with socket.socket() as taken:
    ...     taken.bind(("127.0.0.1", 0)); taken.listen()
    ...     busy = taken.getsockname()[1]
    ...     free_port_from(busy, "127.0.0.1") != busy
    True
    """
    for candidate in range(port, port + tries + 1):
        with socket.socket() as probe:
            try:
                probe.bind((ip, candidate))
            except OSError:
                continue
            return candidate
    raise DicomTeachError(f"no free port from {port} to {port + tries}", ip)


def run(args: argparse.Namespace) -> int:
    notebook = os.fspath(args.notebook)
    if not notebook.endswith(".ipynb") or not os.path.isfile(notebook):
        raise DicomTeachError("not a notebook file (.ipynb) here", notebook)
    try:
        import voila  # noqa: F401
    except ImportError:
        raise DicomTeachError(
            "Voilà is not installed: pip install 'voila>=0.5.13,<0.6'", notebook
        ) from None
    folder = os.path.dirname(os.path.abspath(notebook))
    port = free_port_from(args.port, args.ip)
    if port != args.port:
        print(f"dicomteach: port {args.port} is in use, using {port}")
    # Voilà itself must not move again, or the address printed below would be wrong.
    cmd = [
        *voila_command(os.path.basename(notebook), port=port, ip=args.ip),
        "--Voila.port_retries=0",
    ]
    print(f"dicomteach: serving {notebook} at http://{args.ip}:{port}/ (ctrl-c stops)")
    sys.stdout.flush()
    return subprocess.call(cmd, env=voila_env(), cwd=folder)
