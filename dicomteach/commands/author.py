"""``dicomteach author``: the authoring app (Voilà), saving activities into a course folder."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from dicomteach.errors import DicomTeachError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach author`` to the command line."""
    author = subparsers.add_parser(
        "author",
        help="author activities without code, saved as nbgrader assignments (a Voilà app)",
        description="Open the authoring app: pick a study (or import one, de-identified first), "
        "choose the activity type, place the answer key on the image, write the prompt and "
        "points, preview it as a learner sees it, and save it into the course: the assignment "
        "in source/<assignment>/, its key in references/<assignment>/. Stop with ctrl-c.",
    )
    author.add_argument(
        "--course",
        metavar="DIR",
        help="the nbgrader course folder (default: here, or ./graders, if it holds "
        "nbgrader_config.py)",
    )
    author.add_argument("--port", type=int, default=8866, help="port to listen on (8866)")
    author.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)"
    )
    author.set_defaults(run=run)


def prepare_session(course: str | os.PathLike[str], folder: str | None = None) -> str:
    """A folder of the app's own holding a copy of its notebook; returns the notebook's path.

    Voilà runs the notebook's kernel in the notebook's folder: the copy keeps the
    editors' state and the preview's answers out of the installed package.
    """
    from dicomteach.course.author_app import NOTEBOOK

    folder = folder or tempfile.mkdtemp(prefix="dicomteach-author-")
    target = os.path.join(folder, NOTEBOOK.name)
    shutil.copyfile(NOTEBOOK, target)
    return target


def run(args: argparse.Namespace) -> int:
    from dicomteach.apps import voila_command, voila_env
    from dicomteach.commands.app import free_port_from
    from dicomteach.course.author_app import COURSE_ENV
    from dicomteach.course.authoring import Course

    if args.course is not None and not os.path.isdir(args.course):
        raise DicomTeachError("no such folder (--course)", args.course)
    course = Course.find(args.course)
    try:
        import voila  # noqa: F401
    except ImportError:
        raise DicomTeachError("Voilà is not installed: pip install 'voila>=0.5.13,<0.6'") from None
    notebook = prepare_session(course.root)
    port = free_port_from(args.port, args.ip)
    if port != args.port:
        print(f"dicomteach: port {args.port} is in use, using {port}")
    cmd = [
        *voila_command(os.path.basename(notebook), port=port, ip=args.ip),
        "--Voila.port_retries=0",
    ]
    env = voila_env()
    env[COURSE_ENV] = str(course.root)
    print(f"dicomteach: authoring into {course.root} at http://{args.ip}:{port}/ (ctrl-c stops)")
    sys.stdout.flush()
    return subprocess.call(cmd, env=env, cwd=os.path.dirname(notebook))
