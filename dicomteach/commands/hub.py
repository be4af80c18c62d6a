"""``dicomteach hub setup`` and ``dicomteach hub roster CLASS.csv``: the classroom hub's accounts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dicomteach.errors import DicomTeachError

PROJECT = Path(__file__).resolve().parents[2]


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach hub`` to the command line."""
    hub = subparsers.add_parser(
        "hub",
        help="prepare the classroom hub: state folder, course, accounts (scripts/start.sh)",
        description="Prepare the JupyterHub that serves the course (jupyterhub_config.py). "
        "Settings come from DICOMTEACH_HUB_* variables (docs/hub.md).",
    )
    sub = hub.add_subparsers(dest="action", required=True)
    setup = sub.add_parser(
        "setup",
        help="state folder, sample studies, the course, the first instructor",
        description="Make the state folder, write the sample studies, install the course "
        "(graders/) and create the first instructor (DICOMTEACH_ADMIN, password from "
        "DICOMTEACH_ADMIN_PASSWORD or generated and printed once). Safe to run again.",
    )
    setup.add_argument("--no-samples", action="store_true", help="do not write the studies")
    setup.add_argument(
        "--course-folder",
        metavar="DIR",
        help="the nbgrader course folder to install as course DICOMTEACH_COURSE (default: "
        "graders/); run once per course, then restart the hub",
    )
    setup.set_defaults(run=run_setup)
    roster = sub.add_parser(
        "roster",
        help="create accounts from a class list (CSV: username,name,role,course)",
        description="Read a class list (columns username, name, role = learner or "
        "instructor, course; one row per person and course). New accounts get a random "
        "first password, printed once; known accounts join the courses listed. The hub "
        "takes new accounts at the next login and course groups at the next server start.",
    )
    roster.add_argument("csv", metavar="CLASS.csv")
    roster.add_argument(
        "--passwords",
        metavar="FILE",
        help="also write the new passwords to FILE (mode 0600) instead of only printing them",
    )
    roster.set_defaults(run=run_roster)


def _settings():
    from dicomteach.hub.settings import HubSettings

    return HubSettings.from_environment(PROJECT)


def run_setup(args: argparse.Namespace) -> int:
    from dicomteach.hub.install import setup_hub

    settings = _settings()
    result = setup_hub(
        settings,
        course_source=Path(args.course_folder).resolve() if args.course_folder else None,
        admin_password=os.environ.get("DICOMTEACH_ADMIN_PASSWORD") or None,
        samples=not args.no_samples,
    )
    mode = "isolated (one system user per account)" if settings.isolated else "DEMO (not isolated)"
    print(f"dicomteach: hub state in {settings.state.root}; course {settings.course}; {mode}")
    if result.admin_password:
        print(f"dicomteach: first instructor: {result.admin} / {result.admin_password}")
        print("dicomteach: (shown once: note it now; change it at /hub/change-password)")
    return 0


def run_roster(args: argparse.Namespace) -> int:
    from dicomteach.hub.config import installed_courses
    from dicomteach.hub.course import add_students
    from dicomteach.hub.install import course_owner
    from dicomteach.hub.roster import Roster, read_csv

    settings = _settings()
    accounts = read_csv(args.csv)
    courses = installed_courses(settings)
    for username, account in accounts.items():
        for course in account.courses:
            if course not in courses:
                raise DicomTeachError(
                    f"{username}: course {course} is not installed "
                    f"(installed: {', '.join(courses) or 'none'}; dicomteach hub setup)",
                    args.csv,
                )
    roster = Roster(settings.state.prepare().roster)
    made = roster.merge(accounts)
    for course in sorted({c for a in accounts.values() for c in a.courses}):
        learners = {n: roster.accounts[n].name for n in roster.members(course, "learner")}
        if learners:
            add_students(settings.state.course(course), learners, course_owner(settings, course))
    print(f"dicomteach: {len(accounts)} account(s) read, {len(made)} new")
    if args.passwords and made:
        path = Path(args.passwords)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("username,password\n")
            out.writelines(f"{u},{p}\n" for u, p in sorted(made.items()))
        print(f"dicomteach: their first passwords are in {path} (mode 0600)")
    else:
        for username, password in sorted(made.items()):
            print(f"{username}\t{password}")
    return 0
