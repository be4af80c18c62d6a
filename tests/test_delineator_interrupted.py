"""A Delineator whose save is interrupted keeps the learner's previous answer.

docs/decisions.md, decision 3. A kernel process holds a Delineator whose
answer file has one stroke; the learner sets a new label map and the save
that follows is stopped halfway by the kernel's file-size limit: the process
killed (SIGXFSZ), or the write refused (EFBIG). Only the public API is used
(``Delineator(...)``, ``labels = ...``, ``save()``), so the test holds wherever
the .npz writing lives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import dicomteach
from dicomteach import io
from dicomteach.io.volume import Volume
from dicomteach.io.writer import write_ct_series
from dicomteach.roi import read_npz
from dicomteach.widgets import Delineator

SHAPE = (16, 96, 80)


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, np.zeros(SHAPE), spacing=(2.0, 0.7, 0.7))
    return folder


@pytest.fixture(scope="module")
def ct(ct_folder) -> Volume:
    return io.load(ct_folder)


def first_stroke() -> np.ndarray:
    labels = np.zeros(SHAPE, np.uint8)
    labels[4:7, 10:20, 8:18] = 1
    return labels


def new_answer() -> np.ndarray:
    # speckle: deflate cannot shrink it much, so its file is large
    return (np.random.default_rng(0).random(SHAPE) < 0.3).astype(np.uint8)


def child_env() -> dict[str, str]:
    """The test's own dicomteach first on the child's path; no .pyc written (file limits)."""
    root = str(Path(dicomteach.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


# The learner's kernel: reopen the answer, then save a new label map under a
# file-size limit; SIGXFSZ handled as argv[4] says.
KERNEL = textwrap.dedent(
    """
    import json, resource, signal, sys
    import numpy as np
    from dicomteach import io
    from dicomteach.widgets import Delineator

    ct_folder, answer, limit, on_limit = sys.argv[1:]
    widget = Delineator(io.load(ct_folder), answer=answer)
    widget.send = lambda *args, **kwargs: None  # no browser view
    labels = (np.random.default_rng(0).random(widget.labels.shape) < 0.3).astype(np.uint8)
    signal.signal(signal.SIGXFSZ, getattr(signal, on_limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.RLIM_INFINITY))
    widget.labels = labels  # an edit: saved at once
    saved = widget.save()
    print(json.dumps({"saved": saved, "notice": widget.notice,
                      "kept": bool(np.array_equal(widget.labels, labels))}))
    """
)


@pytest.fixture
def answer(ct, tmp_path) -> Path:
    """An answer file holding the first stroke, as a learner's earlier save left it."""
    path = tmp_path / "answers" / "delineation.npz"
    widget = Delineator(ct, answer=path)
    widget.send = lambda *args, **kwargs: None
    widget.labels = first_stroke()
    assert widget.save() and path.exists()
    return path


@pytest.fixture
def half_of_new_answer(ct, tmp_path) -> int:
    """Half the size of the file the new label map makes (saved elsewhere to measure)."""
    path = tmp_path / "measure" / "delineation.npz"
    widget = Delineator(ct, answer=path)
    widget.send = lambda *args, **kwargs: None
    widget.labels = new_answer()
    assert widget.save()
    size = path.stat().st_size
    assert size > 10_000  # the label map is nearly all of it: half is well into the map
    return size // 2


def run_kernel(ct_folder, answer, limit, on_limit) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KERNEL, str(ct_folder), str(answer), str(limit), on_limit],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_previous_answer_intact(ct, answer: Path, previous: bytes) -> None:
    assert answer.read_bytes() == previous
    assert np.array_equal(read_npz(answer).masks[1], first_stroke().astype(bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not moved aside as unreadable
        again = Delineator(ct, answer=answer)
    assert np.array_equal(again.labels, first_stroke())
    assert "Loaded" in again.notice


def test_a_kernel_killed_halfway_through_a_save_leaves_the_previous_answer(
    ct, ct_folder, answer, half_of_new_answer
):
    previous = answer.read_bytes()
    result = run_kernel(ct_folder, answer, half_of_new_answer, "SIG_DFL")
    assert result.returncode == -signal.SIGXFSZ, result.stderr
    # the save was under way: half the new file is on disk, under another name
    partial = [p for p in answer.parent.iterdir() if p != answer]
    assert [p.stat().st_size for p in partial] == [half_of_new_answer]
    assert_previous_answer_intact(ct, answer, previous)


def test_a_save_refused_halfway_says_so_keeps_the_work_and_the_previous_answer(
    ct, ct_folder, answer, half_of_new_answer
):
    previous = answer.read_bytes()
    result = run_kernel(ct_folder, answer, half_of_new_answer, "SIG_IGN")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["saved"] is False and report["kept"] is True
    assert "Could not save" in report["notice"] and "too large" in report["notice"]
    assert [p for p in answer.parent.iterdir() if p != answer] == []  # nothing half-written
    assert_previous_answer_intact(ct, answer, previous)
