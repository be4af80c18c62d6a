"""A small JSON file of ours with a ``version``, read with one-line errors.

The project writes several such files beside its data (a teaching file's
findings manifest, a model's description, the model's known-error list); each
is read the same way: missing, unreadable, not JSON, or of another version
raise the caller's own :class:`~dicomteach.errors.DicomTeachError` subclass in
one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dicomteach.errors import DicomTeachError

__all__ = ["read_versioned"]


def read_versioned(
    path: Path,
    *,
    what: str,
    version: int,
    error: type[DicomTeachError],
    missing: str = "",
) -> dict[str, Any]:
    """The JSON object in ``path`` if its ``version`` is ``version``; ``error`` otherwise.

    ``what`` names the file in messages ("findings manifest"); ``missing`` is
    added to the message of a file that is not there (what to do next).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "m.json").write_text('{"version": 2}')
    >>> read_versioned(folder / "m.json", what="manifest", version=1, error=DicomTeachError)
    Traceback (most recent call last):
    ...
    dicomteach.errors.DicomTeachError: ...m.json: manifest version 2; this dicomteach reads version 1
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"no {what} here{missing}", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"not a {what} ({exc})", path) from None
    if not isinstance(data, dict) or data.get("version") != version:
        found = data.get("version") if isinstance(data, dict) else None
        raise error(f"{what} version {found!r}; this dicomteach reads version {version}", path)
    return data
