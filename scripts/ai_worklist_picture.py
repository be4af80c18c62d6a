"""A triage worklist graded, as docs/ai.md shows it.

    PYTHONPATH=. python scripts/ai_worklist_picture.py docs/ai/worklist.png

Six held-out films of :mod:`dicomteach.ai.films` (patients 0, 2 and 3, each
without and with findings; the triage model misses the findings of patients 2
and 3), written as DICOM into a temporary folder and listed in this arrival
order: 2 normal, 0 abnormal, 3 abnormal, 0 normal, 3 normal, 2 abnormal. The
:class:`~dicomteach.activities.Worklist` (``order: ai``) scores them with the
triage model. The reading is made up, and says so in docs/ai.md: a reader who
follows the AI, opening the cases in its order, 40 s on the flagged one and
20 s on each of the others, calling each as the AI flagged it. Its feedback's
picture is written to the path given, its lines printed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    from dicomteach.activities import Worklist
    from dicomteach.activities.worklist import Event, WorklistAnswer, save_worklist_answer
    from dicomteach.ai.films import film_specs, render_films, write_film

    out = Path(argv[0]) if argv else ROOT / "docs" / "ai" / "worklist.png"
    specs = film_specs("held-out", 4)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        films = {}
        for number in (0, 2, 3):
            for film in render_films(specs[number]):
                films[(number, film.abnormal)] = film
        arrival = [(2, False), (0, True), (3, True), (0, False), (3, False), (2, True)]
        paths = [str(write_film(films[k], folder / f"{films[k].name}.dcm")) for k in arrival]
        truth = ["abnormal" if films[k].holds_lesion else "normal" for k in arrival]
        worklist = Worklist(
            "triage",
            prompt="Say of each film whether it holds a nodule or a mass.",
            points=6,
            cases=paths,
            order="ai",
            reference=truth,
            answer=folder / "triage.json",
        )
        scores = worklist.scores()
        shown = [worklist.labels[n] for n in worklist.shown()]
        events, t = [], 0.0
        for n in worklist.shown():
            label, (_, flagged) = worklist.labels[n], scores[n]
            events.append(Event(t, label, "open"))
            t += 40.0 if flagged else 20.0
            events.append(Event(t, label, "abnormal" if flagged else "normal"))
            t += 3.0
        save_worklist_answer(folder / "triage.json", WorklistAnswer("triage", "ai", shown, events))
        feedback = worklist.grade()
    print(feedback)
    out.write_bytes(feedback.images["worklist.png"])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
