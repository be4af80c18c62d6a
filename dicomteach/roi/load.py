"""Load delineations from any of the formats ``dicomteach score`` accepts, onto an image grid.

A DICOM SEG, an RTSTRUCT (with the image it was drawn on), or a ``.npz``
holding ``mask`` and ``spacing`` (mm per axis, in the axis order of ``mask``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dicomteach import io
from dicomteach.errors import DicomTeachError
from dicomteach.io.instance import Instance
from dicomteach.io.reader import read_object
from dicomteach.io.values import value
from dicomteach.io.volume import Volume
from dicomteach.roi.errors import GridMismatchError, RoiError
from dicomteach.roi.grid import same_origin, same_spacing
from dicomteach.roi.npz import read_npz
from dicomteach.roi.rtstruct import RT_STRUCTURE_SET_STORAGE, rtstruct_structures
from dicomteach.roi.seg import SEGMENTATION_STORAGE, Structures, seg_structures

__all__ = ["Images", "check_same_grid", "image_volumes", "load_structures", "referenced_series"]

#: At most this many files are looked at when searching a SEG's source images beside it.
MAX_FILES_SEARCHED = 5000


def load_structures(
    path: str | os.PathLike[str],
    image: Volume | Images | str | os.PathLike[str] | None = None,
    *,
    shape: Sequence[int] | None = None,
) -> Structures:
    """Masks from a SEG, an RTSTRUCT or a ``.npz``, on the image grid they belong to.

    ``image`` (a Volume, or a file, folder or zip that :func:`dicomteach.io.load`
    reads, or the :class:`Images` :func:`image_volumes` read from one, so that several
    delineations on the same images read them once) gives the grid: needed for an
    RTSTRUCT; for a SEG, the source images are
    otherwise looked for beside it (its folder and its parent's), and failing
    that the SEG's own geometry is used. ``shape``, the grid the masks are
    compared with, lets a ``.npz`` drawn on another grid be refused before
    its data are read (:func:`dicomteach.roi.npz.read_npz`). DICOM files are
    opened as :mod:`dicomteach.io` opens every file, with its limits.

    Raises
    ------
    DicomTeachError
        Missing or unreadable file, over a limit, or a DICOM object that is
        neither SEG nor RTSTRUCT (a :class:`RoiError` then).
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise RoiError("no such file", name)
    if not os.path.isfile(name):
        raise RoiError("not a file", name)
    if name.lower().endswith(".npz"):
        return read_npz(name, shape=shape)
    found = read_object(name)
    header = found.ds
    sop_class = str(header.get("SOPClassUID", ""))
    if isinstance(image, Volume) or image is None:
        volume = image
    else:
        images = image if isinstance(image, Images) else image_volumes(image)
        volume = _choose(images.volumes, header, images.source)
    if sop_class == SEGMENTATION_STORAGE:
        if volume is not None:
            return seg_structures(found, volume)
        return _on_source_volume(Path(name), found) or seg_structures(found)
    if sop_class == RT_STRUCTURE_SET_STORAGE:
        if volume is None:
            raise RoiError("an RTSTRUCT needs the image it was drawn on: give --image DIR", name)
        return rtstruct_structures(found, volume)
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


@dataclass(frozen=True)
class Images:
    """The images read from ``source`` (a file, folder or zip), SEGs left out."""

    source: str
    volumes: Sequence[Volume]


def image_volumes(image: str | os.PathLike[str]) -> Images:
    """The images in a file, folder or zip, read once for :func:`load_structures`.

    Given to each delineation drawn on them, as ``dicomteach score`` does for the
    reference and the learner's outline, they are read and decoded once.
    """
    if io.is_single_file(image):
        volumes = [io.read_file(image)]
    else:
        volumes = [v for v in io.read(image).volumes if v.modality != "SEG"]
    return Images(os.fspath(image), volumes)


def _choose(volumes: Sequence[Volume], header, image: str | os.PathLike[str]) -> Volume:
    """The volume the object references (a folder may hold the SEG/RTSTRUCT too)."""
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
    """Files in the SEG's folder and its parent folder, two levels deep at most.

    A link is followed only to a file inside the folder searched: a SEG's
    folder cannot send the search to a file elsewhere (another learner's, a
    device, /proc) by a link beside it.
    """
    out: list[str] = []
    for top in dict.fromkeys((seg.parent.resolve(), seg.parent.resolve().parent)):
        if top == Path(top.anchor):
            continue  # never walk the whole file system
        base = len(top.parts)
        for folder, dirs, files in os.walk(top):  # never into linked folders
            if len(Path(folder).parts) - base >= 2:
                dirs[:] = []
            paths = (os.path.join(folder, f) for f in sorted(files))
            out.extend(p for p in paths if _inside(p, top) and os.path.isfile(p))  # no pipes
            if len(out) > MAX_FILES_SEARCHED:
                return list(dict.fromkeys(out))[:MAX_FILES_SEARCHED]
    return list(dict.fromkeys(out))


def _inside(path: str, top: Path) -> bool:
    """True unless ``path`` is a link to something outside ``top`` (a real folder)."""
    if not os.path.islink(path):
        return True
    return Path(os.path.realpath(path)).is_relative_to(top)


def _same_file(a: str, b: Path) -> bool:
    """True when both name one file; False too when ``a`` vanished meanwhile (a busy
    folder such as /tmp), so another program's temporary files never stop a search."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _on_source_volume(seg: Path, found: Instance) -> Structures | None:
    """The SEG on the volume of the series it references, if that series' files lie beside it."""
    wanted = referenced_series(found.ds)
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
            return seg_structures(found, volume)
        except RoiError:
            continue
    return None


def check_same_grid(reference: Structures, prediction: Structures) -> None:
    """Raise :class:`GridMismatchError` unless both lie on one grid.

    Same shape, and spacing and (when both files give one) origin within
    :data:`~dicomteach.roi.grid.GRID_TOLERANCE_MM`, the tolerance grading
    uses too (two SEGs on their own grids may start on different slices).
    """
    if not (
        reference.shape == prediction.shape
        and same_spacing(reference.spacing, prediction.spacing)
        and same_origin(reference.origin, prediction.origin)
    ):

        def grid(s: Structures) -> str:
            where = f" from {[round(x, 3) for x in s.origin]}" if s.origin is not None else ""
            return (
                f"{s.path} {'×'.join(map(str, s.shape))} at "
                f"{'×'.join(f'{x:g}' for x in s.spacing)} mm{where}"
            )

        raise GridMismatchError(
            f"the grids differ: reference {grid(reference)}, prediction {grid(prediction)}"
        )
