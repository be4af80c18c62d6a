"""An ended session's layers as files a course grades and reviews: ``.npz`` answers and DICOM SEGs.

Each participant's layer is the list of their edits (docs/live.md): boxes of
the series in array order, each holding its labels as runs. Replayed in
order on an empty label map they give the layer's mask, which is written as

- ``saved/<username>.npz``: the usual delineation answer file
  (:func:`dicomteach.roi.npz.save_delineation`), graded as any Delineator's;
- ``saved/<username>-seg.dcm``: a DICOM SEG on the session's series
  (:func:`dicomteach.roi.seg.write_seg`), its author named in each segment's
  description and as the content creator (docs/decisions.md, decision 5).

The series is the session's ``study``: ``{"sample": <study>, "seed": n,
"options": {...}}`` from the sample library (written to the cache if missing)
or ``{"folder": <path>}``, with an optional ``"series"`` UID when it holds
several (else its first image series). An edit that does not fit the series is skipped and reported.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from pycrdt import Map

from dicomteach.errors import DicomTeachError
from dicomteach.io import Volume

__all__ = ["apply_edits", "save_layers", "session_volume"]

log = logging.getLogger("dicomteach.live")


def apply_edits(edits: list[Any], shape: tuple[int, int, int]) -> tuple[np.ndarray, list[str]]:
    """The label map ``edits`` draw on an empty map of ``shape``, and why any edit was skipped.

    >>> labels, skipped = apply_edits(
    ...     [{"box": [[1, 2], [0, 2], [0, 3]], "runs": [1, 4, 0, 2]},
    ...      {"box": [[1, 2], [0, 1], [0, 1]], "runs": [0, 1]},
    ...      {"box": [[0, 9], [0, 1], [0, 1]], "runs": [1, 9]}], (2, 2, 3))
    >>> labels[1].tolist(), skipped
    ([[0, 1, 1], [1, 0, 0]], ['edit 3: box [[0, 9], [0, 1], [0, 1]] outside (2, 2, 3)'])
    """
    labels = np.zeros(shape, np.uint8)
    skipped = []
    for number, edit in enumerate(edits, 1):
        try:
            box = [[int(a), int(b)] for a, b in edit["box"]]
            if len(box) != 3 or any(
                not 0 <= a < b <= n for (a, b), n in zip(box, shape, strict=True)
            ):
                raise ValueError(f"box {box} outside {shape}")
            size = int(np.prod([b - a for a, b in box]))
            runs = np.asarray(edit["runs"], dtype=np.int64).reshape(-1, 2)
            if runs.size and (
                runs[:, 0].min() < 0 or runs[:, 0].max() > 255 or runs[:, 1].min() < 0
            ):
                raise ValueError("runs must be pairs of a label 0..255 and a count")
            if int(runs[:, 1].sum()) != size:
                raise ValueError(f"runs cover {int(runs[:, 1].sum())} voxels, the box {size}")
            values = np.repeat(runs[:, 0].astype(np.uint8), runs[:, 1])
            labels[tuple(slice(a, b) for a, b in box)] = values.reshape([b - a for a, b in box])
        except (KeyError, TypeError, ValueError) as exc:
            skipped.append(f"edit {number}: {exc}")
    return labels, skipped


def session_volume(study: dict[str, Any]) -> Volume:
    """The series a session was held on (module docstring)."""
    from dicomteach import io

    if study.get("sample"):
        from dicomteach.samples.cache import lesson_study

        options = dict(study.get("options") or {})
        folder = lesson_study(str(study["sample"]), seed=int(study.get("seed", 0)), **options)
    elif study.get("folder"):
        folder = Path(str(study["folder"]))
    else:
        raise DicomTeachError("the session names no study to save its layers on")
    volumes = io.read(folder).volumes
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


def _person_name(full_name: str) -> str:
    parts = full_name.split()
    return "^".join([parts[-1], " ".join(parts[:-1])]) if len(parts) > 1 else full_name


def save_layers(session: Any) -> dict[str, Any]:
    """Write every non-empty layer of ``session`` (a ``sessions.Session``); what was written."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from dicomteach.roi.npz import DelineationAnswer, save_delineation
    from dicomteach.roi.seg import write_seg

    volume = session_volume(session.meta.get("study") or {})
    shape = tuple(int(n) for n in volume.pixels.shape[:3])
    layers = session.doc.get("layers", type=Map).to_py() or {}
    present = session.participants()
    folder = session.files.saved
    folder.mkdir(exist_ok=True)
    saved: dict[str, Any] = {}
    for username, layer in sorted(layers.items()):
        labels, skipped = apply_edits(list((layer or {}).get("edits") or []), shape)
        if not labels.any():
            continue
        full = str(present.get(username, {}).get("name") or username)
        numbers = [int(n) for n in np.unique(labels) if n]
        names = tuple(f"Structure {n}" for n in range(1, max(numbers) + 1))
        answer = DelineationAnswer(
            labels, tuple(float(s) for s in volume.spacing), names, series_uid=volume.series_uid,
            origin=tuple(float(o) for o in volume.origin),
        )  # fmt: skip
        npz = save_delineation(answer, folder / f"{username}.npz")
        descriptions = []
        for i, n in enumerate(numbers, 1):
            item = hd.seg.SegmentDescription(
                segment_number=i,
                segment_label=f"Structure {n}"[:64],
                segmented_property_category=codes.SCT.Tissue,
                segmented_property_type=codes.SCT.Tissue,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                tracking_uid=generate_uid(),
                tracking_id=f"{username} structure {n}"[:64],
            )
            item.SegmentDescription = f"drawn by {full} ({username})"[:64]
            descriptions.append(item)
        relabelled = np.zeros_like(labels)
        for i, n in enumerate(numbers, 1):
            relabelled[labels == n] = i
        seg = write_seg(
            relabelled, volume, folder / f"{username}-seg.dcm",
            descriptions=descriptions, series_description=f"Live: {session.meta['title']}"[:64],
            content_label="LIVE", content_creator=_person_name(full),
            content_description=f"{full}'s layer, live session {session.meta['title']}"[:64],
        )  # fmt: skip
        saved[username] = {"npz": npz.name, "seg": seg.name, "skipped": skipped}
        for reason in skipped:
            log.warning("live session %s: %s's %s", session.id, username, reason)
    return saved
