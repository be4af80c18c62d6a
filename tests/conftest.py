"""Suite-wide set-up: sample studies the lessons cache go to a folder of this run."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _sample_cache(tmp_path_factory):
    """Lessons and kernels started by tests write their cached studies here, not in ~/.cache.

    Set in the environment so that kernels, Lab and Voilà servers the tests
    start inherit it; one folder for the whole run, so each study is written once.
    Under pytest-xdist the workers of a run share it (their temporary folders
    have one parent per run): entries are named by what made them and renamed
    into place whole, so two workers writing one study end with one copy, and
    a lesson tested in Lab on one worker and in Voilà on the other makes its
    studies once.
    """
    before = os.environ.get("DICOMTEACH_CACHE")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "sample-cache"
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("sample-cache")
    os.environ["DICOMTEACH_CACHE"] = str(folder)
    yield
    if before is None:
        os.environ.pop("DICOMTEACH_CACHE", None)
    else:
        os.environ["DICOMTEACH_CACHE"] = before
