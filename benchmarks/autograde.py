"""What dicomteach's grading adds to nbgrader's autograde, per submission (goal: ≤ 0.5 s).

A copy of the course in ``graders/`` is made in a temporary folder, with one
more assignment, ``trivial``: a notebook of one autograder cell (``1``, one
point). Both it and the CT nodule delineation (``ct-nodule``) are generated;
N learners hand in each, the delineations drawn as a Delineator saves them
(the nodule, shifted by 0–3 voxels). Then every submission is autograded by
nbgrader's own autograde (``NbGraderAPI.autograde``: the submission copied,
sanitized, run in a fresh kernel, its grades saved in the gradebook), the two
assignments taking turns so that both meet the same machine load.

    .venv/bin/python benchmarks/autograde.py [--submissions 30] [--keep]

Printed: seconds per submission for each assignment (median, mean, min, max;
and the CPU seconds of the grading process and its kernel, which a busy
machine inflates less than the time), the difference of the medians (what grading a delineation adds: reading the
study, the key and the answer, scoring, drawing the feedback) and the ratio.
The sample CT is written into the sample cache first if it is not there, and
one submission of each is autograded before timing starts: its kernels
compile Python's modules into a cache of the run (as an installed wheel has
them), and the first ``grade("nodule")`` reads the study and the reference
and keeps them beside the key (``dicomteach/activities/prepared.py``); its
time is printed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MADE_BY_NBGRADER = ("release", "submitted", "autograded", "feedback", "exchange", "gradebook.db*")
MADE_BY_GRADING = (*MADE_BY_NBGRADER, ".prepared")
TRIVIAL = "trivial"


def _trivial_notebook(folder: Path) -> None:
    """An nbgrader source notebook of one autograder cell worth one point."""
    folder.mkdir(parents=True)
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "grade-trivial",
        "metadata": {
            "nbgrader": {
                "grade": True,
                "grade_id": "grade-trivial",
                "locked": True,
                "points": 1,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        },
        "outputs": [],
        "source": "1",
    }
    notebook = {
        "cells": [cell],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / f"{TRIVIAL}.ipynb").write_text(json.dumps(notebook, indent=1))


def _course(base: Path) -> Path:
    course = base / "course"
    shutil.copytree(ROOT / "graders", course, ignore=shutil.ignore_patterns(*MADE_BY_GRADING))
    _trivial_notebook(course / "source" / TRIVIAL)
    return course


def _outlines(course: Path, n: int) -> list[tuple[np.ndarray, object]]:
    """N delineations of the nodule as a Delineator saves them: the key's, shifted a little."""
    from dicomteach.activities import Activity
    from dicomteach.roi import DelineationAnswer, load_structures

    key = Activity.load(course / "references" / "ct-nodule" / "nodule.yaml")
    volume = key.volume
    # the key lists three observers' outlines (docs/decisions.md, decision 29): the first one's
    files = key.reference.resolve()
    found = load_structures(files[0] if isinstance(files, list) else files, image=volume)
    nodule = next(iter(found.masks.values())).astype(np.uint8)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        dy, dx = (int(v) for v in rng.integers(-3, 4, size=2))
        mask = np.roll(nodule, (dy, dx), axis=(1, 2))
        out.append(
            DelineationAnswer(
                mask, volume.spacing, ("Nodule",), series_uid=volume.series_uid, origin=None
            )
        )
    return out


def _hand_in(course: Path, n: int) -> list[str]:
    from dicomteach.roi import save_delineation

    learners = [f"learner-{i:02d}" for i in range(n + 1)]  # one more, for the warm-up
    outlines = _outlines(course, len(learners))
    for learner, outline in zip(learners, outlines, strict=True):
        for assignment in ("ct-nodule", TRIVIAL):
            folder = course / "submitted" / learner / assignment
            shutil.copytree(course / "release" / assignment, folder)
            (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
        save_delineation(outline, course / "submitted" / learner / "ct-nodule" / "nodule.npz")
    return learners


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the kernels)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _summary(times: list[float]) -> tuple[float, float, float, float]:
    return statistics.median(times), statistics.fmean(times), min(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--submissions", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the temporary course folder")
    args = ap.parse_args()

    # nbgrader runs alembic from PATH
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    load = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="dicomteach-autograde-"))
    # the kernels import compiled modules, as from an installed wheel (an editable install
    # with PYTHONDONTWRITEBYTECODE set compiles dicomteach's sources in every kernel)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    from nbgrader import __version__ as nbgrader_version
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    try:
        course = _course(base)
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        config.Application.log_level = "WARN"
        api = NbGraderAPI(config=config)
        for assignment in ("ct-nodule", TRIVIAL):
            result = api.generate_assignment(assignment)
            if not result["success"]:
                raise SystemExit(f"generate_assignment {assignment} failed:\n{result['log']}")
        learners = _hand_in(course, args.submissions)
        times: dict[str, list[float]] = {TRIVIAL: [], "ct-nodule": []}
        first: dict[str, float] = {}
        cpu: dict[str, list[float]] = {TRIVIAL: [], "ct-nodule": []}
        points: dict[str, list[float]] = {TRIVIAL: [], "ct-nodule": []}
        print(
            f"autograde, {args.submissions} submissions of each (nbgrader {nbgrader_version}, "
            f"a fresh kernel each); course copy {course}",
            flush=True,
        )
        for i, learner in enumerate(learners):
            for assignment in (TRIVIAL, "ct-nodule"):
                t0, c0 = time.perf_counter(), _cpu()
                result = api.autograde(assignment, learner)
                seconds = time.perf_counter() - t0
                cpu[assignment].append(_cpu() - c0)
                if not result["success"]:
                    raise SystemExit(f"autograde {assignment} {learner} failed:\n{result['log']}")
                if i:  # the first of each is the warm-up
                    times[assignment].append(seconds)
                else:
                    first[assignment] = seconds
            if sys.stdout.isatty():
                print(f"\r{i}/{args.submissions} submissions", end="", flush=True)
        if sys.stdout.isatty():
            print("\r" + " " * 40 + "\r", end="")
        from nbgrader.api import Gradebook

        with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as book:
            for assignment in points:
                points[assignment] = [
                    book.find_submission(assignment, learner).score for learner in learners[1:]
                ]
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    print(
        f"{'assignment':<20}{'median s':>9}{'mean s':>8}{'min s':>7}{'max s':>7}"
        f"{'CPU s':>7}{'points':>13}"
    )
    for assignment, label in ((TRIVIAL, "trivial (one cell)"), ("ct-nodule", "ct-nodule (ours)")):
        median, mean, low, high = _summary(times[assignment])
        scored = points[assignment]
        print(
            f"{label:<20}{median:>9.2f}{mean:>8.2f}{low:>7.2f}{high:>7.2f}"
            f"{statistics.median(cpu[assignment][1:]):>7.2f}"
            f"{min(scored):>7.2f}–{max(scored):<5.2f}"
        )
    ours, trivial = (statistics.median(times[a]) for a in ("ct-nodule", TRIVIAL))
    mean_ours, mean_trivial = (statistics.fmean(times[a]) for a in ("ct-nodule", TRIVIAL))
    cpu_ours, cpu_trivial = (statistics.median(cpu[a][1:]) for a in ("ct-nodule", TRIVIAL))
    print(
        f"added by grading a delineation: {ours - trivial:.2f} s per submission (medians; "
        f"means {mean_ours - mean_trivial:.2f} s; CPU {cpu_ours - cpu_trivial:.2f} s)   "
        "(goal ≤ 0.5 s)"
    )
    print(f"ct-nodule / trivial time: {ours / trivial:.2f}×")
    print(f"load average (1 min) before and after: {load[0]:.1f}, {os.getloadavg()[0]:.1f}")
    print(
        f"first submission (not counted above; ct-nodule reads the study and the reference "
        f"and keeps them in references/ct-nodule/.prepared): trivial {first[TRIVIAL]:.2f} s, "
        f"ct-nodule {first['ct-nodule']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
