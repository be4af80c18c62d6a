"""Write the sample studies the lessons open into the lesson cache, once, at image build.

binder/postBuild runs this with ``DICOMTEACH_CACHE`` set to a folder inside the
image. The list is read from the lessons themselves: every
``lesson_study("name", option=value, …)`` call in ``notebooks/*.ipynb`` with
literal arguments, so a new lesson's study is prepared without a change here.
A lesson opening a study this does not prepare still works: it writes the study
on first use, in seconds to a minute (dicomteach/samples/cache.py).

    DICOMTEACH_CACHE=/tmp/cache python binder/prepare_studies.py [--list]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def lesson_studies(notebooks: Path = NOTEBOOKS) -> list[tuple[str, dict[str, object]]]:
    """Every distinct ``lesson_study`` call with literal arguments in the lessons' code."""
    from dicomteach.samples.cache import studies_opened_by

    return studies_opened_by(sorted(notebooks.glob("*.ipynb")))


def main(argv: list[str]) -> int:
    studies = lesson_studies()
    if "--list" in argv:
        for name, options in studies:
            print(name, json.dumps(options, sort_keys=True))
        return 0
    from dicomteach.samples.cache import cache_root, lesson_study

    for number, (name, options) in enumerate(studies, 1):
        print(f"[{number}/{len(studies)}] {name} {options or ''}", flush=True)
        lesson_study(name, **options)
    print(f"{len(studies)} studies in {cache_root()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
