"""Suite-wide set-up: sample studies the lessons cache go to a folder of this run."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _sample_cache(tmp_path_factory):
    """Lessons and kernels started by tests write their cached studies here, not in ~/.cache.

    Set in the environment so that kernels, Lab and Voilà servers the tests
    start inherit it; one folder for the whole run, so each study is written once. Under
    pytest-xdist the workers share it (each worker's temporary folder is one below the
    run's): the cache writes a study into a staging folder and renames it into place, so
    two workers asking for one study at once both get a whole copy.
    """
    before = os.environ.get("DICOMTEACH_CACHE")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    cache = root / "sample-cache"
    cache.mkdir(exist_ok=True)
    os.environ["DICOMTEACH_CACHE"] = str(cache)
    yield
    if before is None:
        os.environ.pop("DICOMTEACH_CACHE", None)
    else:
        os.environ["DICOMTEACH_CACHE"] = before
