"""Where live sessions are kept: one folder per session, its facts and every update, appended.

``<root>/<session id>/`` holds

- ``session.json``: the session's facts (id, join code, course, title, study,
  presenter, created, ended, saved files), written atomically;
- ``updates.log``: every update the session's document took, in order, each
  as a length (a Yjs variable-length number) then the update's bytes. An
  update is appended and flushed to the operating system before it is sent
  to anyone; the file is synced to disk at most every second and when the
  session ends. A service killed mid-write leaves a cut last record: reading
  stops there and the file is cut back to its last whole record;
- ``saved/``: each participant's layer once the session ended
  (:mod:`dicomteach.live.save`).

A log read at start with more than :data:`COMPACT_AFTER` records is rewritten
as one record (the whole document), through a temporary file and a rename, so
an interrupted rewrite leaves the old log.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pycrdt import Doc, write_var_uint

from dicomteach.errors import DicomTeachError
from dicomteach.io.atomic import write_atomically

__all__ = ["COMPACT_AFTER", "SESSION_ID", "SessionFiles", "read_records"]

COMPACT_AFTER = 2000
"""Records in a log beyond which it is rewritten as one when read."""

SESSION_ID = re.compile(r"[a-f0-9]{32}")
"""A session's id: 32 hexadecimal digits (random, never a path)."""


def read_records(path: Path) -> tuple[list[bytes], int]:
    """The whole records of a log and the length of the file they fill (a cut tail excluded).

    >>> import tempfile
    >>> log = Path(tempfile.mkdtemp()) / "updates.log"
    >>> _ = log.write_bytes(bytes([2, 9, 9, 1, 7, 5, 1]))  # two records, then a cut one
    >>> read_records(log)
    ([b'\\t\\t', b'\\x07'], 5)
    """
    data = path.read_bytes() if path.exists() else b""
    records, at = [], 0
    while at < len(data):
        length = shift = 0
        start = at
        while at < len(data):
            byte = data[at]
            length |= (byte & 0x7F) << shift
            shift += 7
            at += 1
            if byte < 0x80:
                break
        else:
            return records, start
        if at + length > len(data):
            return records, start
        records.append(data[at : at + length])
        at += length
    return records, at


class SessionFiles:
    """The folder of one session (module docstring)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.meta_path = self.folder / "session.json"
        self.log_path = self.folder / "updates.log"
        self.saved = self.folder / "saved"
        self._log: Any = None
        self._dirty = False

    def read_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DicomTeachError(
                f"unreadable ({exc.__class__.__name__})", self.meta_path
            ) from None

    def write_meta(self, meta: dict[str, Any]) -> None:
        text = json.dumps(meta, indent=1, sort_keys=True).encode()
        write_atomically(self.meta_path, lambda fh: fh.write(text))

    def load(self, doc: Doc) -> int:
        """Apply every record of the log to ``doc``; the number of records read."""
        records, length = read_records(self.log_path)
        if self.log_path.exists() and length < self.log_path.stat().st_size:
            with open(self.log_path, "r+b") as fh:  # a record cut by a crash
                fh.truncate(length)
        for record in records:
            doc.apply_update(record)
        if len(records) > COMPACT_AFTER:
            whole = doc.get_update()
            write_atomically(self.log_path, lambda fh: fh.write(write_var_uint(len(whole)) + whole))
        return len(records)

    def append(self, update: bytes) -> None:
        """Add one update to the log, flushed to the operating system before this returns."""
        if self._log is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the session
        self._log.write(write_var_uint(len(update)) + update)
        self._log.flush()
        self._dirty = True

    def sync(self) -> None:
        """Put what was appended on the disk (the service calls it every second)."""
        if self._log is not None and self._dirty:
            os.fsync(self._log.fileno())
            self._dirty = False

    def close(self) -> None:
        self.sync()
        if self._log is not None:
            self._log.close()
            self._log = None
