"""The series a live session is held on, and its reference outline when it has one.

A session's ``study`` (docs/live.md) names a sample of the library
(``{"sample": "ct-chest", "seed": 0, "options": {...}}``, written to the
sample cache if missing) or a folder (``{"folder": path}``), with an optional
``"series"`` UID when it holds several image series (else its first).

The reference the class is scored against is the session's ``reference``
(given when the session is made, never put in the shared document: learners
must not find it, docs/decisions.md, decision 4):

- a path: that SEG, RTSTRUCT or ``.npz`` (relative to the study's folder, or absolute);
- ``None`` (not given): the one DICOM SEG in the study's folder that
  references the series, outside any ``experts`` folder (a sample's
  ``seg-nodule.dcm`` beside its CT; its observers' outlines are not the key);
  none or several: no reference;
- ``False``: no reference (the class is scored against its own consensus).

:class:`SessionSeries` keeps what the measurements need (the grid, where
each frame's file is, the reference cropped to its box) without the pixels:
the service holds it for the whole session, and reads the one slice a
picture shows from its file (:meth:`SessionSeries.slice_values`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.io import Volume
from dicomteach.io.volume import Window

__all__ = ["Boxed", "SessionSeries", "open_series", "session_volume"]


@dataclass(frozen=True)
class Boxed:
    """A mask kept on its bounding box only: ``mask`` fills ``box`` of the series."""

    box: tuple[tuple[int, int], ...]
    """``((k0, k1), (r0, r1), (c0, c1))`` in array order, ends excluded."""
    mask: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray) -> Boxed | None:
        """The box of ``mask`` and the mask inside it; None when it is empty.

        >>> m = np.zeros((3, 4, 5), bool); m[1, 2:4, 1] = True
        >>> Boxed.of(m).box
        ((1, 2), (2, 4), (1, 2))
        """
        mask = np.asarray(mask, bool)
        if not mask.any():
            return None
        box = []
        for axis in range(mask.ndim):
            found = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
            box.append((int(found[0]), int(found[-1]) + 1))
        return cls(tuple(box), mask[tuple(slice(a, b) for a, b in box)].copy())


@dataclass(frozen=True)
class SessionSeries:
    """A session's series without its pixels, and its reference (module docstring)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    series_uid: str
    window: Window | None
    """The window the series is first shown with (the picture's, unless the presenter chose one)."""
    sources: tuple[tuple[str, int], ...] = ()
    """For each frame: its file and its index in that file."""
    reference: dict[int, Boxed] = field(default_factory=dict)
    """The reference's structures by number (empty masks left out)."""
    reference_names: dict[int, str] = field(default_factory=dict)
    reference_path: str = ""

    def slice_values(self, k: int) -> np.ndarray | None:
        """Modality values of frame ``k``, read from its file (None when it cannot be)."""
        from dicomteach import io
        from dicomteach.imaging import modality_values

        if not 0 <= k < len(self.sources):
            return None
        path, index = self.sources[k]
        try:
            found = io.read_file(path)
            position = [i for _, i in found.sources].index(index) if len(found.sources) > 1 else 0
            return np.asarray(modality_values(found)[position], float)
        except (DicomTeachError, ValueError, OSError):
            return None


def _study_volumes(study: dict[str, Any]) -> tuple[Path, list[Volume]]:
    from dicomteach import io

    if study.get("sample"):
        from dicomteach.samples.cache import lesson_study

        options = dict(study.get("options") or {})
        folder = lesson_study(str(study["sample"]), seed=int(study.get("seed", 0)), **options)
    elif study.get("folder"):
        folder = Path(str(study["folder"]))
    else:
        raise DicomTeachError("the session names no study to work on")
    return folder, list(io.read(folder).volumes)


def _chosen(study: dict[str, Any], folder: Path, volumes: list[Volume]) -> Volume:
    wanted = study.get("series")
    # a sample study holds its reference SEGs beside the images: drawn on are the images
    chosen = [
        v
        for v in volumes
        if v.modality not in ("SEG", "RTSTRUCT") and (not wanted or v.series_uid == wanted)
    ]
    if not chosen:
        raise DicomTeachError(f"holds no series {wanted}", folder)
    return chosen[0]


def session_volume(study: dict[str, Any]) -> Volume:
    """The series a session was held on, pixels included (module docstring)."""
    folder, volumes = _study_volumes(study)
    return _chosen(study, folder, volumes)


def _found_reference(folder: Path, volume: Volume, volumes: list[Volume]) -> Path | None:
    from dicomteach.roi.load import referenced_series

    found = set()
    for v in volumes:
        if v.modality != "SEG" or not v.sources:
            continue
        path = Path(v.sources[0][0])
        try:
            inside = path.relative_to(folder).parts
        except ValueError:
            continue
        if "experts" in inside[:-1] or volume.series_uid not in referenced_series(v.header):
            continue
        found.add(path)
    return found.pop() if len(found) == 1 else None


def open_series(
    study: dict[str, Any], reference: str | bool | None = None
) -> tuple[Volume, SessionSeries]:
    """The session's series (pixels included) and what the service keeps of it.

    Raises
    ------
    DicomTeachError
        No study, no such series, or a reference that cannot be read on it.
    """
    from dicomteach.imaging import default_window
    from dicomteach.roi.load import load_structures

    folder, volumes = _study_volumes(study)
    volume = _chosen(study, folder, volumes)
    path: Path | None = None
    if isinstance(reference, str) and reference:
        path = Path(reference) if Path(reference).is_absolute() else folder / reference
    elif reference is None:
        path = _found_reference(folder, volume, volumes)
    boxed: dict[int, Boxed] = {}
    names: dict[int, str] = {}
    if path is not None:
        structures = load_structures(path, volume, shape=volume.pixels.shape[:3])
        if tuple(structures.shape) != tuple(volume.pixels.shape[:3]):
            raise DicomTeachError(
                f"is {structures.shape}, not on the session's series {volume.pixels.shape[:3]}",
                path,
            )
        for number in sorted(structures.masks):
            kept = Boxed.of(structures.masks[number])
            if kept is not None:
                boxed[int(number)] = kept
                names[int(number)] = str(structures.names.get(number, f"Structure {number}"))
    try:
        window: Window | None = default_window(volume)
    except ValueError:
        window = None
    series = SessionSeries(
        shape=tuple(int(n) for n in volume.pixels.shape[:3]),  # type: ignore[arg-type]
        spacing=tuple(float(s) for s in volume.spacing),  # type: ignore[arg-type]
        origin=tuple(float(o) for o in volume.origin),  # type: ignore[arg-type]
        direction=np.asarray(volume.direction, float),
        series_uid=volume.series_uid,
        window=window,
        sources=tuple(volume.sources),
        reference=boxed,
        reference_names=names,
        reference_path=str(path) if path is not None else "",
    )
    return volume, series
