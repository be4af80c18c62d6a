"""Sample studies written once and reused: lessons open in seconds and survive a restart.

A lesson used to write its studies into a fresh temporary folder on every run,
so each run cost seconds, left megabytes in ``/tmp``, and a kernel restart
pointed the lesson at a new, empty place. :func:`lesson_study` writes a study
once into a cache folder and returns the same path every time after.

The cache folder is ``$DICOMTEACH_CACHE`` when set (an operator can point every
learner at one prepared, read-only copy), else ``$XDG_CACHE_HOME/dicomteach``,
else ``~/.cache/dicomteach``. Each entry's name carries a digest of the
generator's source code and its arguments, so a changed generator never serves
stale files; a new entry is written beside its final place and renamed into it,
so a reader never sees half a study, and two kernels writing at once both end
with the same complete copy.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from dicomteach.samples import STUDIES

_SAMPLES = Path(__file__).resolve().parent


def cache_root() -> Path:
    """The folder that holds cached sample studies (see the module docstring).

    >>> import os
    >>> os.environ["DICOMTEACH_CACHE"] = "/srv/dicomteach-cache"
    >>> str(cache_root())
    '/srv/dicomteach-cache'
    >>> del os.environ["DICOMTEACH_CACHE"]
    """
    explicit = os.environ.get("DICOMTEACH_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "dicomteach"


def _generator_digest() -> str:
    # Every study shares helpers (phantoms, writers), so any change to the
    # package's code or to the writers it calls invalidates every entry.
    digest = hashlib.sha256()
    sources = sorted(_SAMPLES.glob("*.py")) + [_SAMPLES.parent / "io" / "writer.py"]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def lesson_study(study: str, *, seed: int = 0, **options: object) -> Path:
    """The folder of one sample study, written on first use and reused after.

    ``study`` is a folder name of :data:`dicomteach.samples.STUDIES`
    (``"ct-chest"``, ``"cr-chest"``, …); ``seed`` and ``options`` go to that
    study's ``write`` (e.g. ``size=256, slices=60`` for a lesson-sized CT).

    >>> import os, tempfile
    >>> os.environ["DICOMTEACH_CACHE"] = tempfile.mkdtemp()
    >>> first = lesson_study("op-fundus")
    >>> sorted(p.name for p in first.iterdir())
    ['IM000001.dcm']
    >>> lesson_study("op-fundus") == first
    True
    >>> del os.environ["DICOMTEACH_CACHE"]
    """
    modules = dict(STUDIES)
    if study not in modules:
        raise ValueError(f"Argument 'study' must be one of {sorted(modules)}, not {study!r}")
    key = json.dumps({"seed": seed, **options}, sort_keys=True, default=str)
    tag = hashlib.sha256((_generator_digest() + key).encode()).hexdigest()[:16]
    target = cache_root() / "samples" / f"{study}-{tag}"
    writer = importlib.import_module(modules[study]).write
    return written_once(target, lambda staging: writer(staging, seed=seed, **options))


def written_once(target: Path, write: Callable[[Path], object]) -> Path:
    """``target``, a folder that ``write(folder)`` fills, written only when it is not there.

    ``write`` fills a hidden folder beside ``target``, which is then renamed into
    place: a reader never sees half a folder, and when two processes write at
    once, both end with one complete copy (the second rename finds the first's
    folder there). The hidden folder is removed whatever happens.

    >>> import tempfile
    >>> calls = []
    >>> def write(folder):
    ...     calls.append(folder.name)
    ...     (folder / "a.txt").write_text("A")
    >>> target = Path(tempfile.mkdtemp()) / "entry"
    >>> written_once(target, write) == written_once(target, write) == target
    True
    >>> len(calls), sorted(p.name for p in target.parent.iterdir())
    (1, ['entry'])
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name[:40]}-", dir=target.parent))
    try:
        write(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not another process's finished copy: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def studies_opened_by(notebooks: Iterable[str | os.PathLike[str]]) -> list[tuple[str, dict]]:
    """Every distinct ``lesson_study(study, option=value, …)`` call with literal arguments
    in the code cells of ``notebooks``: what to write before a class opens them.

    A call with a computed argument is left out (that notebook writes its study on
    first use); so is a cell that is not Python (magics, shell escapes).

    >>> import json, tempfile, pathlib
    >>> cell = {"cell_type": "code", "source": ['ct = lesson_study("ct-chest", seed=1, size=256)']}
    >>> nb = pathlib.Path(tempfile.mkdtemp()) / "lesson.ipynb"
    >>> _ = nb.write_text(json.dumps({"cells": [cell]}))
    >>> studies_opened_by([nb])
    [('ct-chest', {'seed': 1, 'size': 256})]
    """
    return [
        (args[0], options)
        for _, args, options in calls_in(notebooks, ("lesson_study",))
        if len(args) == 1 and isinstance(args[0], str)
    ]


def calls_in(
    notebooks: Iterable[str | os.PathLike[str]], names: Iterable[str]
) -> list[tuple[str, tuple, dict]]:
    """Every distinct call of a function named in ``names`` whose arguments are all literals,
    in the code cells of ``notebooks``: ``(name, args, keywords)``, in the order found.

    >>> import json, tempfile, pathlib
    >>> cell = {"cell_type": "code", "source": ["a = film_folder(2); b = film_folder(n)"]}
    >>> nb = pathlib.Path(tempfile.mkdtemp()) / "lesson.ipynb"
    >>> _ = nb.write_text(json.dumps({"cells": [cell]}))
    >>> calls_in([nb], ["film_folder", "lesson_pair"])
    [('film_folder', (2,), {})]
    """
    import ast

    wanted = set(names)
    found: list[tuple[str, tuple, dict]] = []
    for path in notebooks:
        cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            try:
                tree = ast.parse("".join(source) if isinstance(source, list) else source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                func = node.func if isinstance(node, ast.Call) else None
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if name not in wanted:
                    continue
                try:
                    args = tuple(ast.literal_eval(a) for a in node.args)  # type: ignore[union-attr]
                    options = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}  # type: ignore[union-attr]
                except ValueError:
                    continue
                if (name, args, options) not in found:
                    found.append((name, args, options))
    return found
