"""Decode a series' compressed frames in worker processes, several at a time.

pydicom's decoder plugins (pylibjpeg-openjpeg, pylibjpeg-libjpeg,
pylibjpeg-rle, pyjpegls, Pillow) hold Python's global interpreter lock while
they decode, so threads would still decode one frame at a time; processes
decode as many frames at once as there are CPUs (docs/decisions.md,
decision 21).

For one volume, worker processes are forked from the kernel, are sent one
compressed frame at a time (:class:`~dicomteach.io.pixels.EncodedFrame`:
bytes and plain values, no dataset) and send back its decoded values, which
are copied into the volume's preallocated array in the order of the volume;
then they stop. At most two frames per worker are on their way at any time,
so memory stays near the size of the final array. A frame that fails raises
the same one-line error as it would in the kernel, naming its file, and the
frames after it are not decoded. Where processes cannot be forked (not
Linux, a daemonic process, the system refuses), frames are decoded in the
kernel, one after the other.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import warnings
from collections import deque
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
from pydicom.uid import UID, RLELossless

from dicomteach.errors import DicomTeachError
from dicomteach.io.pixels import EncodedFrame, decode_frame

WORKERS_ENV = "DICOMTEACH_DECODE_WORKERS"
"""Environment variable: how many processes decode a series' compressed frames.

``1`` decodes them in the kernel (no worker processes), ``N`` with N
processes. Unset, one per CPU (at most :data:`MAX_WORKERS`) for series of
:data:`MIN_FRAMES` frames or more in a codec where it pays (not RLE).
An operator of a shared hub may lower it.
"""

MAX_WORKERS = 8
"""At most this many worker processes unless :data:`WORKERS_ENV` says more: a
kernel on a large shared machine should not start one process per CPU."""

MIN_FRAMES = 8
"""Fewer compressed frames than this are decoded in the kernel: forking the
workers would cost more than it saves."""

#: Codecs decoded about as fast as their frames travel between processes: kept in the kernel.
_CHEAP_TO_DECODE = frozenset({RLELossless})


def decode_workers(frames: int, transfer_syntaxes: Collection[str]) -> int:
    """How many processes should decode ``frames`` compressed frames (1: the kernel alone).

    Examples
    --------
    >>> from pydicom.uid import JPEG2000Lossless
    >>> decode_workers(1, {JPEG2000Lossless})
    1
    """
    if frames < 2 or not _can_fork():
        return 1
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if setting:
        wanted = int(setting) if setting.isdigit() else 0
        if wanted < 1:
            raise DicomTeachError(
                f"Environment variable {WORKERS_ENV} must be a whole number >= 1, not {setting!r}"
            )
        return min(wanted, frames)
    if frames < MIN_FRAMES or set(transfer_syntaxes) <= _CHEAP_TO_DECODE:
        return 1
    return max(1, min(_cpu_count(), MAX_WORKERS, frames))


def decode_into(pixels: np.ndarray, jobs: Sequence[tuple[int, EncodedFrame]], workers: int) -> None:
    """Decode each ``(k, frame)`` of ``jobs`` into ``pixels[k]`` with ``workers`` processes.

    The first frame that fails, in the order of ``jobs``, raises its
    :class:`~dicomteach.errors.DicomTeachError`.
    """
    done = _decode_in_workers(pixels, jobs, workers) if workers > 1 else 0
    for k, frame in jobs[done:]:
        pixels[k] = decode_frame(frame)


def _decode_in_workers(
    pixels: np.ndarray, jobs: Sequence[tuple[int, EncodedFrame]], workers: int
) -> int:
    """How many of ``jobs`` were decoded: all of them, or none when no process could start."""
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
    )
    pending: deque[tuple[int, EncodedFrame, Future]] = deque()
    try:
        try:
            # the first submission forks the workers
            pending.append((jobs[0][0], jobs[0][1], pool.submit(_decode_in_worker, jobs[0][1])))
        except OSError:  # out of processes or memory: decode in the kernel instead
            return 0
        for k, frame in jobs[1:]:
            if len(pending) >= 2 * workers:
                _place(pixels, *pending.popleft())
            pending.append((k, frame, _submit(pool, frame)))
        while pending:
            _place(pixels, *pending.popleft())
    finally:
        # after a failure the frames not started are dropped; a running one finishes its frame
        pool.shutdown(wait=True, cancel_futures=True)
    return len(jobs)


def _submit(pool: ProcessPoolExecutor, frame: EncodedFrame) -> Future:
    try:
        return pool.submit(_decode_in_worker, frame)
    except BrokenProcessPool:
        raise _stopped(frame) from None


def _place(pixels: np.ndarray, k: int, frame: EncodedFrame, future: Future) -> None:
    try:
        outcome = future.result()
    except BrokenProcessPool:
        raise _stopped(frame) from None
    if isinstance(outcome, _Failure):
        raise outcome.kind(outcome.problem, outcome.path)
    values, caught = outcome
    for category, message in caught:
        warnings.warn(message, category, stacklevel=2)
    pixels[k] = values


def _stopped(frame: EncodedFrame) -> DicomTeachError:
    return DicomTeachError(
        f"the process decoding the {UID(frame.transfer_syntax).name} frames of this file (or of "
        "one beside it) stopped unexpectedly: the decoder crashed, or the system killed it "
        "(out of memory?)",
        frame.name,
    )


@dataclass(frozen=True)
class _Failure:
    """A worker's DicomTeachError as plain values (the exception itself would lose its path)."""

    kind: type[DicomTeachError]
    problem: str
    path: str | None


def _decode_in_worker(
    frame: EncodedFrame,
) -> tuple[np.ndarray, list[tuple[type[Warning], str]]] | _Failure:
    """Runs in a worker: the frame's values and the warnings the decoder gave, or its failure."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values = decode_frame(frame)
        except DicomTeachError as exc:
            return _Failure(type(exc), exc.problem, exc.path)
    return values, [(w.category, str(w.message)) for w in caught]


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the kernel stops the load and the
    # workers, left alone, finish their frame and leave when the pool shuts down
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _can_fork() -> bool:
    # fork, not spawn: a worker starts in milliseconds and never re-imports the
    # caller's script (docs/decisions.md, decision 21); macOS and Windows lack a safe fork
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon  # daemons may not have children
    )


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers)
    except AttributeError:
        return os.cpu_count() or 1


__all__ = ["MAX_WORKERS", "MIN_FRAMES", "WORKERS_ENV", "decode_into", "decode_workers"]
