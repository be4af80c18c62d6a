"""dicomteach/io/atomic.py: a write interrupted halfway leaves the previous file whole.

docs/decisions.md, decision 3: a learner's work is never lost. These tests
interrupt real writes: a writer process killed while its file is half written
(by the test, and by the kernel's file-size limit), and writes that fail
halfway inside the process. Each time the file under the final name is the
previous one, byte for byte, or absent if there was none.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import dicomteach
from dicomteach.io import atomic
from dicomteach.io.atomic import save_dataset_atomically, write_atomically

PREVIOUS = b'{"clicks": [[12, 40]], "revision": 7}'
HALF = 256 * 1024


def child_env() -> dict[str, str]:
    """The test's own dicomteach first on the child's path; no .pyc written (file limits)."""
    root = str(Path(dicomteach.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


def others(folder: Path, path: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p != path)


@pytest.fixture
def answer(tmp_path) -> Path:
    path = tmp_path / "answer.json"
    path.write_bytes(PREVIOUS)
    return path


# A writer that writes half its bytes, says so, then waits to be killed.
HALF_THEN_WAIT = textwrap.dedent(
    """
    import sys
    from dicomteach.io.atomic import write_atomically

    def write(fh):
        fh.write(b"x" * {half})
        fh.flush()
        print("half written", flush=True)
        sys.stdin.read()  # the test kills us here
        fh.write(b"x" * {half})

    write_atomically(sys.argv[1], write)
    """
).format(half=HALF)

# A writer under a file-size limit of half its bytes; SIGXFSZ as argv[2] says.
OVER_THE_LIMIT = textwrap.dedent(
    """
    import resource, signal, sys
    from dicomteach.io.atomic import write_atomically

    signal.signal(signal.SIGXFSZ, getattr(signal, sys.argv[2]))
    resource.setrlimit(resource.RLIMIT_FSIZE, ({half}, resource.RLIM_INFINITY))
    try:
        write_atomically(sys.argv[1], lambda fh: fh.write(b"x" * 2 * {half}))
    except OSError as exc:
        print(exc.errno)
    """
).format(half=HALF)


class TestKilledWriter:
    def test_killed_halfway_the_previous_file_stays_whole(self, answer, tmp_path):
        child = subprocess.Popen(
            [sys.executable, "-c", HALF_THEN_WAIT, str(answer)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        try:
            assert child.stdout.readline() == b"half written\n"
            # the new bytes are on disk, beside the answer, not in it
            (partial,) = others(tmp_path, answer)
            assert partial.stat().st_size == HALF
            assert answer.read_bytes() == PREVIOUS
        finally:
            child.kill()
            child.wait(timeout=60)
            child.stdin.close()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        assert answer.read_bytes() == PREVIOUS
        # a killed process cannot tidy up: its temporary file stays, under another name
        assert [p.stat().st_size for p in others(tmp_path, answer)] == [HALF]
        # and the next save replaces the answer whole
        write_atomically(answer, lambda fh: fh.write(b"next"))
        assert answer.read_bytes() == b"next"

    def test_killed_by_the_file_size_limit_the_previous_file_stays_whole(self, answer, tmp_path):
        # the kernel stops the writer at HALF bytes (SIGXFSZ's default action)
        result = subprocess.run(
            [sys.executable, "-c", OVER_THE_LIMIT, str(answer), "SIG_DFL"],
            env=child_env(),
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == -signal.SIGXFSZ, result.stderr
        assert answer.read_bytes() == PREVIOUS
        assert [p.stat().st_size for p in others(tmp_path, answer)] == [HALF]

    def test_a_write_refused_halfway_raises_and_leaves_nothing_behind(self, answer, tmp_path):
        # with SIGXFSZ ignored the write fails with EFBIG instead: the error reaches
        # the caller and the half-written temporary file is removed
        result = subprocess.run(
            [sys.executable, "-c", OVER_THE_LIMIT, str(answer), "SIG_IGN"],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [str(errno.EFBIG)]
        assert answer.read_bytes() == PREVIOUS
        assert others(tmp_path, answer) == []

    def test_a_first_answer_killed_halfway_leaves_no_answer(self, tmp_path):
        answer = tmp_path / "answer.json"
        result = subprocess.run(
            [sys.executable, "-c", OVER_THE_LIMIT, str(answer), "SIG_DFL"],
            env=child_env(),
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == -signal.SIGXFSZ, result.stderr
        assert not answer.exists()


class TestFailingWrite:
    """Failures inside the process, at each step: the error is raised, the file kept."""

    def test_a_writer_that_fails_halfway(self, answer, tmp_path):
        def write(fh):
            fh.write(b"y" * HALF)
            raise RuntimeError("renderer crashed")

        with pytest.raises(RuntimeError, match="renderer crashed"):
            write_atomically(answer, write)
        assert answer.read_bytes() == PREVIOUS
        assert others(tmp_path, answer) == []

    @pytest.mark.parametrize("step", ["fsync", "replace"])
    def test_a_disk_that_fails_at_the_end(self, answer, tmp_path, monkeypatch, step):
        def fail(*args):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(atomic.os, step, fail)
        with pytest.raises(OSError, match="Input/output error"):
            write_atomically(answer, lambda fh: fh.write(b"y" * HALF))
        monkeypatch.undo()
        assert answer.read_bytes() == PREVIOUS
        assert others(tmp_path, answer) == []

    def test_a_dataset_that_cannot_be_encoded_keeps_the_previous_file(self, tmp_path):
        from pydicom.dataset import Dataset

        path = tmp_path / "slice.dcm"
        path.write_bytes(PREVIOUS)
        with pytest.raises(ValueError, match="encoding"):
            save_dataset_atomically(Dataset(), path)  # no transfer syntax: pydicom refuses it
        assert path.read_bytes() == PREVIOUS
        assert others(tmp_path, path) == []


class TestCompleteWrite:
    def test_the_new_file_replaces_the_old_whole_with_ordinary_permissions(self, answer):
        old_umask = os.umask(0o027)
        try:
            write_atomically(answer, lambda fh: fh.write(b"new"))
        finally:
            os.umask(old_umask)
        assert answer.read_bytes() == b"new"
        assert answer.stat().st_mode & 0o777 == 0o640
        assert others(answer.parent, answer) == []

    def test_missing_folders_are_made(self, tmp_path):
        path = tmp_path / "course" / "week 1" / "answer.json"
        assert write_atomically(path, lambda fh: fh.write(b"{}")) == path
        assert path.read_bytes() == b"{}"
