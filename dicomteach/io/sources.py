"""Turn what a user names (files, folders, zips, a DICOMDIR) into a list of file sources."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dicomteach.errors import DicomTeachError, HostileInputError, NotDicomError, TooLargeError
from dicomteach.io.safety import DEFAULT_LIMITS, Limits, MiB, refuse_deflate_bomb, sniff

#: Files a folder walk never treats as DICOM candidates (OS and tool droppings).
_IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class Source:
    """One file to read: on disk (``path``), in memory (``data``) or a zip member (``member``)."""

    name: str
    """What messages call it: the path, or ``archive.zip!member``."""
    path: str | None = None
    data: bytes | None = None
    named: bool = False
    """True when the user named this file itself (then a non-DICOM file is an error)."""
    archive: str | None = None
    member: zipfile.ZipInfo | None = None
    """A member of ``archive``, extracted on each :meth:`open`: extracting every member up
    front would hold a whole zip bomb in memory at once."""
    max_bytes: int = DEFAULT_LIMITS.max_zip_member_bytes

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.member is not None:
            return self._extract()
        assert self.path is not None
        return open(self.path, "rb")

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        if self.member is not None:
            return self.member.file_size  # zipfile never inflates past it (and checks the CRC)
        assert self.path is not None
        st = os.stat(self.path)
        if not stat.S_ISREG(st.st_mode):
            # a pipe or device would block or never end: never open one
            raise NotDicomError("not a regular file (a pipe, device or socket)", self.name)
        return st.st_size

    def _extract(self) -> BinaryIO:
        assert self.member is not None and self.archive is not None
        if self.member.file_size > self.max_bytes:
            raise TooLargeError(
                f"zip member claims {self.member.file_size // MiB} MiB, over the "
                f"{self.max_bytes // MiB} MiB limit",
                self.name,
            )
        out = io.BytesIO()  # written in chunks: peak memory stays near the member's size
        try:
            with zipfile.ZipFile(self.archive) as zf, zf.open(self.member) as fh:
                while chunk := fh.read(1 << 20):
                    out.write(chunk)
                    if out.tell() > self.max_bytes:  # never trust a size without checking it
                        raise HostileInputError(
                            "zip member inflates past its declared size (a zip bomb?)", self.name
                        )
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise NotDicomError(f"cannot extract from the zip ({exc})", self.name) from None
        out.seek(0)
        return out


def iter_sources(
    inputs: Iterable[str | os.PathLike[str]], limits: Limits = DEFAULT_LIMITS
) -> Iterator[Source]:
    """Yield a :class:`Source` per candidate file: named files, folder contents (recursive), zip members.

    A DICOMDIR named directly is followed to the files it references, each of
    which must lie inside the DICOMDIR's folder. A DICOMDIR met while walking a
    folder is skipped: the walk already reaches every file beside it.
    """
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f in _IGNORED_NAMES or f.startswith("._"):
                        continue
                    full = Path(root) / f
                    if f.upper() == "DICOMDIR":
                        continue
                    if full.suffix.lower() == ".zip" and zipfile.is_zipfile(full):
                        yield from _zip_sources(full, limits)
                    else:
                        yield Source(str(full), path=str(full))
        elif p.is_file():
            if p.name.upper() == "DICOMDIR":
                yield from _dicomdir_sources(p, limits)
            elif p.suffix.lower() == ".zip" and zipfile.is_zipfile(p):
                yield from _zip_sources(p, limits)
            else:
                yield Source(str(p), path=str(p), named=True)
        elif p.exists():
            raise NotDicomError("not a regular file or folder", str(p))
        else:
            raise DicomTeachError("no such file or folder", str(p))


def _zip_sources(archive: Path, limits: Limits) -> Iterator[Source]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise NotDicomError(f"unreadable zip archive ({exc})", str(archive)) from None
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            base = info.filename.rsplit("/", 1)[-1]
            if base in _IGNORED_NAMES or base.startswith("._") or base.upper() == "DICOMDIR":
                continue
            # extracted when read, one at a time; a bad member is then skipped, not fatal
            yield Source(
                f"{archive}!{info.filename}",
                archive=str(archive),
                member=info,
                max_bytes=limits.max_zip_member_bytes,
            )


def _dicomdir_sources(dicomdir: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Source]:
    """Files a DICOMDIR references (PS3.3 F.3), each checked to stay inside its folder."""
    from pydicom import dcmread

    name = str(dicomdir)
    # the same first checks as any other file: pydicom reads a DICOMDIR whole, inflated
    size = dicomdir.stat().st_size
    if size > limits.max_file_bytes:
        raise TooLargeError(
            f"file is {size // MiB} MiB, over the {limits.max_file_bytes // MiB} MiB limit", name
        )
    with open(dicomdir, "rb") as fp:
        if sniff(fp.read(132), name):
            fp.seek(0)
            refuse_deflate_bomb(fp, limits.max_inflated_bytes, name)
    try:
        ds = dcmread(dicomdir, force=True)
        records = ds.DirectoryRecordSequence
    except RecursionError:
        raise HostileInputError(
            "DICOMDIR sequences nested too deeply to read; refusing it", name
        ) from None
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad DICOMDIR
        raise NotDicomError(f"unreadable DICOMDIR ({type(exc).__name__}: {exc})", name) from None
    root = dicomdir.parent.resolve()
    seen: set[Path] = set()
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        target = root.joinpath(*[str(x) for x in parts])
        resolved = target.resolve()
        if os.path.isabs(str(parts[0])) or not resolved.is_relative_to(root):
            raise HostileInputError(
                f"DICOMDIR references '{'/'.join(map(str, parts))}', outside its folder; refusing to follow it",
                str(dicomdir),
            )
        if resolved in seen:
            continue
        seen.add(resolved)
        if not resolved.is_file():
            # look-ups on case-insensitive media: DICOMDIR IDs are upper case
            alt = _case_insensitive(root, [str(x) for x in parts])
            if alt is None:
                raise DicomTeachError(
                    f"DICOMDIR references '{'/'.join(map(str, parts))}', which is missing",
                    str(dicomdir),
                )
            resolved = alt
        yield Source(str(resolved), path=str(resolved))


def _case_insensitive(root: Path, parts: list[str]) -> Path | None:
    here = root
    for part in parts:
        if not here.is_dir():
            return None
        match = [c for c in here.iterdir() if c.name.upper() == part.upper()]
        if not match:
            return None
        here = match[0]
    return here if here.is_file() else None
