"""Suite-wide set-up: sample studies the lessons cache go to a folder of this run."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _sample_cache(tmp_path_factory):
    """Lessons and kernels started by tests write their cached studies here, not in ~/.cache.

    Set in the environment so that kernels, Lab and Voilà servers the tests
    start inherit it; one folder for the whole run, so each study is written once.
    """
    before = os.environ.get("DICOMTEACH_CACHE")
    os.environ["DICOMTEACH_CACHE"] = str(tmp_path_factory.mktemp("sample-cache"))
    yield
    if before is None:
        os.environ.pop("DICOMTEACH_CACHE", None)
    else:
        os.environ["DICOMTEACH_CACHE"] = before
