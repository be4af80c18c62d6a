"""The sample teaching library: realistic studies, written deterministically, no download.

``write_sample_library(dest)`` writes every study into its own folder under
``dest`` (see :data:`STUDIES`). Each study module exposes ``write(dest, seed)``
returning the paths it wrote, and may expose ``check()``, which raises a
:class:`~dicomteach.errors.DicomTeachError` when something the study is made
from is missing (the MR brain's template): every check runs before any file is
written, so a library is never left half written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

#: (folder, module) for each study of the library, in the order lessons use them.
STUDIES: tuple[tuple[str, str], ...] = (
    ("ct-chest", "dicomteach.samples.ct_chest"),
    ("ct-chest-findings", "dicomteach.samples.ct_findings"),
    ("cr-chest", "dicomteach.samples.cr_chest"),
    ("mr-brain", "dicomteach.samples.mr_brain"),
    ("pet-ct", "dicomteach.samples.pet_ct"),
    ("nm-spect", "dicomteach.samples.nm_spect"),
    ("op-fundus", "dicomteach.samples.fundus"),
    ("us-cine", "dicomteach.samples.us_cine"),
)


def write_sample_library(
    dest: str | Path,
    *,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Path]:
    """Write the whole library under ``dest``; returns every file written.

    ``progress(done, total, what)`` is called before each study.
    """
    dest = Path(dest)
    modules = [importlib.import_module(module_name) for _folder, module_name in STUDIES]
    for module in modules:
        if hasattr(module, "check"):
            module.check()
    written: list[Path] = []
    for done, ((folder, _name), module) in enumerate(zip(STUDIES, modules, strict=True)):
        if progress is not None:
            progress(done, len(STUDIES), folder)
        written.extend(module.write(dest / folder, seed=seed))
    if progress is not None:
        progress(len(STUDIES), len(STUDIES), "done")
    return written
