"""Where the real DICOM files of the installed packages are, without any download."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _dicom_files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.suffix.lower() in (
            ".py",
            ".pyc",
            ".txt",
            ".json",
            ".gz",
            ".bz2",
            ".zip",
            ".xml",
            ".md",
        ):
            continue
        with open(p, "rb") as fh:
            head = fh.read(132)
        if head[128:132] == b"DICM" or p.suffix.lower() == ".dcm":
            out.append(p)
    return out


def pydicom_files() -> list[Path]:
    """pydicom's bundled test files (its wheel ships 86 real and crafted files)."""
    root = _package_dir("pydicom")
    return _dicom_files(root / "data" / "test_files" if root else None)


def pydicom_data_files() -> list[Path]:
    """The ``pydicom-data`` package: real CR, MR, CT, US, NM files from many vendors."""
    root = _package_dir("data_store")
    return _dicom_files(root / "data" if root else None)


def nibabel_files() -> list[Path]:
    """Siemens MR slices shipped in nibabel's tests."""
    root = _package_dir("nibabel")
    return _dicom_files(root / "nicom" / "tests" / "data" if root else None)


def pynetdicom_files() -> list[Path]:
    """GE CT and Elekta RT image files shipped in pynetdicom's tests."""
    root = _package_dir("pynetdicom")
    return _dicom_files(root / "tests" / "dicom_files" if root else None)


def all_files() -> list[Path]:
    return pydicom_files() + pydicom_data_files() + nibabel_files() + pynetdicom_files()


def data_file(name: str) -> str:
    """The path of one of pydicom's (or pydicom-data's) files, which must be installed."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed"
    return path
