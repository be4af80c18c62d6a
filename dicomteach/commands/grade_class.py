"""``dicomteach grade-class``: autograde a whole class and write the gradebook with metrics."""

from __future__ import annotations

import argparse
import sys


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dicomteach grade-class`` to the command line."""
    grade = subparsers.add_parser(
        "grade-class",
        help="autograde every submission of an assignment; gradebook CSV with metrics",
        description="Autograde every submission of ASSIGNMENT in an nbgrader course folder "
        "(nbgrader's autograde, with the course's nbgrader_config.py), then grade each learner's "
        "answer files again against the keys in references/ASSIGNMENT/ and write one CSV row per "
        "learner, activity and structure: points, the points nbgrader recorded and whether they "
        "agree, Dice, surface Dice, HD95, mean surface distance, volume difference, how far each "
        "click or label fell, and the reason for a zero. For each second-reader activity, a "
        "picture of how often the class followed the AI when it was wrong "
        "(COURSE/ASSIGNMENT-following-ACTIVITY.png).",
    )
    grade.add_argument("assignment", metavar="ASSIGNMENT")
    grade.add_argument(
        "--course", default=".", metavar="DIR", help="the course folder (the current one)"
    )
    grade.add_argument(
        "--csv", metavar="PATH", help="where the gradebook goes (COURSE/ASSIGNMENT-grades.csv)"
    )
    grade.add_argument(
        "--student", action="append", metavar="ID", help="grade only this learner (repeatable)"
    )
    grade.add_argument(
        "--no-autograde",
        action="store_true",
        help="only grade the answer files (nbgrader's gradebook is left as it is)",
    )
    grade.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dicomteach.course import grade_class, write_csv

    bar = None

    def progress(done: int, total: int, student: str) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total, unit="learner", file=sys.stderr, disable=not sys.stderr.isatty()
            )
        if done < total:
            bar.set_description(student)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    course = Path(args.course)
    rows = grade_class(
        course,
        args.assignment,
        students=args.student,
        autograde=not args.no_autograde,
        progress=progress,
    )
    out = write_csv(rows, Path(args.csv) if args.csv else course / f"{args.assignment}-grades.csv")
    learners = sorted({r["student"] for r in rows})
    disagree = sorted({r["student"] for r in rows if r.get("agrees") is False})
    print(f"graded {len(learners)} submissions of {args.assignment}; gradebook: {out}")
    if disagree:
        print(
            "nbgrader recorded other points than the answer files earn for: " + ", ".join(disagree)
        )
    _following(course, args.assignment, args.student)
    return 0


def _following(course, assignment: str, students: list[str] | None) -> None:
    """The class view of each second-reader activity: a picture, and a line saying where it is."""
    from dicomteach.activities import SecondReader
    from dicomteach.activities.spec import read_spec
    from dicomteach.course.following import follow_the_ai

    keys = sorted((course / "references" / assignment).glob("*.yaml"))
    if not any(read_spec(k).get("type") == SecondReader.kind for k in keys):
        return
    for view in follow_the_ai(course, assignment, students=students):
        out = course / f"{assignment}-following-{view.activity}.png"
        out.write_bytes(view.png())
        chances = [v for row in view.states for v in row if v in ("followed", "resisted")]
        followed = sum(v == "followed" for v in chances)
        share = f" ({100 * followed / len(chances):.0f} %)" if chances else ""
        print(
            f"{view.activity}: the class followed the AI when it was wrong {followed} times "
            f"of {len(chances)}{share}; picture: {out}"
        )
