"""Held-out chest films written once as DICOM into the sample cache, for lessons and worklists.

:func:`film_folder` makes a patient's two films of :mod:`dicomteach.ai.films`
(without and with findings, as the triage model's held-out evaluation makes
them) and writes them, with what each holds, into the sample cache the
first time (``ai-film-cases/``); every later call returns the same folder.
A lesson's worklist opens in seconds after its first run, and survives a
kernel restart with the same files.

The folder holds ``normal.dcm``, ``abnormal.dcm`` and ``truth.json``::

    {"patient": "held-out-002", "person_seed": …, "films": {
        "normal": {"file": "normal.dcm", "holds_lesion": false, "lesions": []},
        "abnormal": {"file": "abnormal.dcm", "holds_lesion": true, "lesions": [
            {"kind": "ground-glass nodule", "label": "…", "diameter_mm": 24.0,
             "pixel": [row, column]}, …]}}}

``pixel`` is where the lesion's shadow is thickest on the film. The truth is
the generator's, never the model's: nothing of it reaches the triage model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["film_folder", "read_truth"]


def film_folder(
    number: int, *, group: str = "held-out", root: str | os.PathLike[str] | None = None
) -> Path:
    """The folder of patient ``number``'s two films of ``group``, written on first use.

    Written into ``root`` (default: the sample cache of
    :func:`dicomteach.samples.cache.cache_root`, ``ai-film-cases/``), named by
    the patient and a digest of the code that makes films, so a changed
    generator never serves stale films. Making them takes 5 to 15 s.
    """
    from dicomteach.ai.films import film_specs, generator_digest
    from dicomteach.samples.cache import cache_root, written_once

    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"Argument 'number' must be a whole number from 0, not {number!r}")
    spec = film_specs(group, number + 1)[number]
    base = Path(root) if root is not None else cache_root() / "ai-film-cases"
    target = base / f"{spec.name}-{spec.person_seed}-{generator_digest()}"
    return written_once(target, lambda staging: _write(spec, staging))


def read_truth(folder: str | os.PathLike[str]) -> dict:
    """``truth.json`` of a :func:`film_folder`: each film's file, whether it holds a lesion, which."""
    return json.loads((Path(folder) / "truth.json").read_text("utf-8"))


def _write(spec, dest: Path) -> None:
    from dicomteach.ai.films import render_films, write_film

    films = {}
    for film in render_films(spec):
        which = "abnormal" if film.abnormal else "normal"
        write_film(film, dest / f"{which}.dcm")
        films[which] = {
            "file": f"{which}.dcm",
            "holds_lesion": film.holds_lesion,
            "lesions": [
                {
                    "kind": f.kind.value,
                    "label": f.label,
                    "diameter_mm": f.diameter_mm,
                    "pixel": [round(v, 1) for v in film.lesion_pixel(f)],
                }
                for f in film.lesions
            ],
        }
    truth = {"patient": spec.name, "person_seed": spec.person_seed, "films": films}
    (dest / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", "utf-8")
