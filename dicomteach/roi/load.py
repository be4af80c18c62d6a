"""Load delineations from any of the formats ``dicomteach score`` accepts, onto an image grid.

A DICOM SEG, an RTSTRUCT (with the image it was drawn on), or a ``.npz``
holding ``mask`` and ``spacing`` (mm per axis, in the axis order of ``mask``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from dicomteach import io
from dicomteach.errors import DicomTeachError
from dicomteach.io.values import value
from dicomteach.io.volume import Volume
from dicomteach.roi.errors import GridMismatchError, RoiError
from dicomteach.roi.rtstruct import RT_STRUCTURE_SET_STORAGE, read_rtstruct_structures
from dicomteach.roi.seg import SEGMENTATION_STORAGE, Structures, read_seg

__all__ = ["check_same_grid", "load_structures", "read_npz", "referenced_series"]

#: At most this many files are looked at when searching a SEG's source images beside it.
MAX_FILES_SEARCHED = 5000

#: Spacings closer than this (mm) are the same grid.
SPACING_TOLERANCE_MM = 1e-4

#: Grid origins closer than this (mm) are the same grid (DICOM positions are rounded decimals).
ORIGIN_TOLERANCE_MM = 1e-3


def read_npz(path: str | os.PathLike[str]) -> Structures:
    """A ``.npz`` with arrays ``mask`` (2D/3D; bool, 0/1, or an integer label map) and ``spacing``,
    and optionally ``names`` (text, the name of label 1, 2, …).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "mask.npz"
    >>> np.savez(target, mask=np.eye(4, dtype=bool), spacing=np.array([0.5, 0.5]))
    >>> found = read_npz(target)
    >>> found.shape, found.spacing, found.names
    ((4, 4), (0.5, 0.5), {1: 'mask'})
    """
    name = os.fspath(path)
    try:
        with np.load(name, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise RoiError(f"cannot read as .npz ({exc})", name) from None
    missing = [key for key in ("mask", "spacing") if key not in arrays]
    if missing:
        raise RoiError(
            f"the .npz lacks {' and '.join(repr(m) for m in missing)} "
            f"(it holds {sorted(arrays) or 'nothing'})",
            name,
        )
    mask, spacing = arrays["mask"], arrays["spacing"]
    if mask.ndim not in (2, 3):
        raise RoiError(f"'mask' must be 2D or 3D, not {mask.ndim}D", name)
    if mask.dtype.kind not in "biu":
        raise RoiError(f"'mask' must be bool or integer, not {mask.dtype}", name)
    spacing = np.asarray(spacing, dtype=float).ravel() if spacing.dtype.kind in "iuf" else None
    if (
        spacing is None
        or len(spacing) != mask.ndim
        or not np.all(np.isfinite(spacing) & (spacing > 0))
    ):
        raise RoiError(
            f"'spacing' must be {mask.ndim} positive sizes in mm, one per mask axis", name
        )
    if mask.dtype.kind == "b" or np.all((mask == 0) | (mask == 1)):
        masks, names = {1: mask.astype(bool)}, {1: "mask"}
    else:
        if np.any(mask < 0):
            raise RoiError("a label map 'mask' must not hold negative labels", name)
        numbers = [int(n) for n in np.unique(mask) if n != 0]
        masks = {n: mask == n for n in numbers}
        names = {n: f"label {n}" for n in numbers}
    # Optional ``names``: the name of label 1, 2, … (the Delineator writes them).
    given = arrays.get("names")
    if given is not None and given.ndim == 1 and given.dtype.kind == "U":
        names = {n: str(given[n - 1]) if n <= len(given) else names[n] for n in names}
    return Structures(masks, names, tuple(float(s) for s in spacing), name)


def _header(name: str):
    try:
        return pydicom.dcmread(name, stop_before_pixels=True, force=True)
    except (OSError, InvalidDicomError, ValueError, EOFError) as exc:
        raise RoiError(f"cannot read as DICOM ({exc})", name) from None


def load_structures(
    path: str | os.PathLike[str], image: Volume | str | os.PathLike[str] | None = None
) -> Structures:
    """Masks from a SEG, an RTSTRUCT or a ``.npz``, on the image grid they belong to.

    ``image`` (a Volume, or a file, folder or zip that :func:`dicomteach.io.load`
    reads) gives the grid: needed for an RTSTRUCT; for a SEG, the source images are
    otherwise looked for beside it (its folder and its parent's), and failing
    that the SEG's own geometry is used.

    Raises
    ------
    RoiError
        Missing or unreadable file, or a DICOM object that is neither SEG nor RTSTRUCT.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise RoiError("no such file", name)
    if not os.path.isfile(name):
        raise RoiError("not a file", name)
    if name.lower().endswith(".npz"):
        return read_npz(name)
    header = _header(name)
    sop_class = str(header.get("SOPClassUID", ""))
    if isinstance(image, Volume) or image is None:
        volume = image
    else:
        volume = _image_volume(image, header)
    if sop_class == SEGMENTATION_STORAGE:
        if volume is None:
            volume = _find_source_volume(Path(name), header)
        return read_seg(name, volume)
    if sop_class == RT_STRUCTURE_SET_STORAGE:
        if volume is None:
            raise RoiError("an RTSTRUCT needs the image it was drawn on: give --image DIR", name)
        return read_rtstruct_structures(name, volume)
    raise RoiError(
        "neither a DICOM SEG, an RTSTRUCT nor a .npz with 'mask' and 'spacing'"
        + (
            f" (SOP Class {getattr(header.get('SOPClassUID'), 'name', sop_class)})"
            if sop_class
            else ""
        ),
        name,
    )


def referenced_series(header) -> set[str]:
    """Series UIDs a SEG (Referenced Series) or an RTSTRUCT (RT Referenced Series) points to."""
    uids = {str(item.SeriesInstanceUID) for item in header.get("ReferencedSeriesSequence", [])}
    for item in header.get("StudiesContainingOtherReferencedInstancesSequence", []):
        uids |= {str(s.SeriesInstanceUID) for s in item.get("ReferencedSeriesSequence", [])}
    for frame in header.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame.get("RTReferencedStudySequence", []):
            uids |= {str(s.SeriesInstanceUID) for s in study.get("RTReferencedSeriesSequence", [])}
    return uids


def _image_volume(image: str | os.PathLike[str], header) -> Volume:
    """The volume in ``image`` the object references (a folder may hold the SEG/RTSTRUCT too)."""
    if io.is_single_file(image):
        return io.read_file(image)
    volumes = [v for v in io.read(image).volumes if v.modality != "SEG"]
    if len(volumes) == 1:
        return volumes[0]
    wanted = referenced_series(header)
    referenced = [v for v in volumes if v.series_uid in wanted]
    if len(referenced) == 1:
        return referenced[0]
    if not volumes:
        raise RoiError("no image found to place the delineation on", image)
    raise RoiError(
        f"holds {len(volumes)} images and {'none' if not referenced else 'several'} of them "
        "is the series the delineation references; name the series' folder",
        image,
    )


def _candidates(seg: Path) -> list[str]:
    """Files in the SEG's folder and its parent folder, two levels deep at most."""
    out: list[str] = []
    for top in dict.fromkeys((seg.parent.resolve(), seg.parent.resolve().parent)):
        if top == Path(top.anchor):
            continue  # never walk the whole file system
        base = len(top.parts)
        for folder, dirs, files in os.walk(top):
            if len(Path(folder).parts) - base >= 2:
                dirs[:] = []
            paths = (os.path.join(folder, f) for f in sorted(files))
            out.extend(p for p in paths if os.path.isfile(p))  # no pipes or devices
            if len(out) > MAX_FILES_SEARCHED:
                return list(dict.fromkeys(out))[:MAX_FILES_SEARCHED]
    return list(dict.fromkeys(out))


def _same_file(a: str, b: Path) -> bool:
    """True when both name one file; False too when ``a`` vanished meanwhile (a busy
    folder such as /tmp), so another program's temporary files never stop a search."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _find_source_volume(seg: Path, header) -> Volume | None:
    """The volume of the series the SEG references, if its files lie beside the SEG."""
    wanted = referenced_series(header)
    if not wanted:
        return None
    candidates = [c for c in _candidates(seg) if not _same_file(c, seg)]
    matching = []
    # headers through dicomteach.io (the layer that parses DICOM bytes): fast, and
    # anything unreadable is simply not one of the source images
    for candidate in candidates:
        try:
            for source, instance, _problem in io.iter_files([candidate]):
                uid = str(value(instance.ds, "SeriesInstanceUID", "")) if instance else ""
                if uid in wanted:
                    matching.append(source.path)
        except DicomTeachError:
            continue  # gone since the listing (a busy folder such as /tmp)
    if not matching:
        return None
    try:
        volumes = io.read(*matching).volumes
    except DicomTeachError:
        return None
    for volume in volumes:
        try:
            read_seg(seg, volume)
        except RoiError:
            continue
        return volume
    return None


def check_same_grid(reference: Structures, prediction: Structures) -> None:
    """Raise :class:`GridMismatchError` unless both lie on one grid.

    Same shape, spacing within 1e-4 mm, and, when both files give one, the
    same origin within 1e-3 mm (two SEGs on their own grids may start on
    different slices).
    """
    same_shape = reference.shape == prediction.shape
    same_spacing = len(reference.spacing) == len(prediction.spacing) and np.allclose(
        reference.spacing, prediction.spacing, rtol=0, atol=SPACING_TOLERANCE_MM
    )
    same_origin = (
        reference.origin is None
        or prediction.origin is None
        or np.allclose(reference.origin, prediction.origin, rtol=0, atol=ORIGIN_TOLERANCE_MM)
    )
    if not (same_shape and same_spacing and same_origin):

        def grid(s: Structures) -> str:
            where = f" from {[round(x, 3) for x in s.origin]}" if s.origin is not None else ""
            return (
                f"{s.path} {'×'.join(map(str, s.shape))} at "
                f"{'×'.join(f'{x:g}' for x in s.spacing)} mm{where}"
            )

        raise GridMismatchError(
            f"the grids differ: reference {grid(reference)}, prediction {grid(prediction)}"
        )
