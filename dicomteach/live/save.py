"""An ended session's work as files a course grades and reviews: ``.npz`` answers and DICOM SEGs.

Each participant's layer is the list of their edits (docs/live.md): boxes of
the series in array order, each holding its labels as runs. Replayed in
order on an empty label map they give the layer's mask, which is written as

- ``saved/<username>.npz``: the usual delineation answer file
  (:func:`dicomteach.roi.npz.save_delineation`), graded as any Delineator's;
- ``saved/<username>-seg.dcm``: a DICOM SEG on the session's series
  (:func:`dicomteach.roi.seg.write_seg`), its author named in each segment's
  description and as the content creator (docs/decisions.md, decision 5).

What the class did together goes in ``saved/class/`` (a folder no username
can clash with):

- ``consensus.npz`` and ``consensus-seg.dcm``: the STAPLE consensus of each
  structure (:mod:`dicomteach.live.agreement`), as an answer file and a SEG
  whose segments name the method and the raters;
- ``scores.json``: each participant's scores against the reference or the
  consensus, and the poll's clicks measured; ``scores.png``: the picture of
  the first structure's outlines;
- ``poll.json``: the poll's question, answer and each click measured; each
  learner's click is also ``saved/<username>-poll.json``, the click answer of
  :mod:`dicomteach.roi.answers` (graded with
  :func:`dicomteach.grading.grade_click` as any Hotspot's).

The series and its reference are the session's (:mod:`dicomteach.live.series`).
An edit that does not fit the series is skipped and reported.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from dicomteach.io import Volume

__all__ = ["Box", "apply_edits", "edit_box", "save_session"]

log = logging.getLogger("dicomteach.live")


Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
"""A box of the series in array order: ``((k0, k1), (r0, r1), (c0, c1))``, ends excluded."""


def edit_box(edit: Any, shape: tuple[int, int, int]) -> Box:
    """The box ``edit`` draws in, checked against the series' ``shape`` (``ValueError`` if outside).

    >>> edit_box({"box": [[1, 2], [0, 2], [0, 3]], "runs": [1, 6]}, (2, 2, 3))
    ((1, 2), (0, 2), (0, 3))
    """
    box = tuple((int(a), int(b)) for a, b in edit["box"])
    if len(box) != 3 or any(not 0 <= a < b <= n for (a, b), n in zip(box, shape, strict=True)):
        raise ValueError(f"box {[list(b) for b in box]} outside {shape}")
    return box  # type: ignore[return-value]


def drawn_box(edits: list[Any], shape: tuple[int, int, int]) -> Box | None:
    """The smallest box holding every edit that fits the series (None when none does).

    >>> drawn_box([{"box": [[1, 2], [0, 2], [0, 3]]}, {"box": [[0, 1], [1, 3], [2, 4]]},
    ...            {"box": [[0, 9], [0, 1], [0, 1]]}], (2, 4, 4))
    ((0, 2), (0, 3), (0, 4))
    """
    boxes = []
    for edit in edits:
        try:
            boxes.append(edit_box(edit, shape))
        except (KeyError, TypeError, ValueError):
            continue
    if not boxes:
        return None
    return tuple(  # type: ignore[return-value]
        (min(b[axis][0] for b in boxes), max(b[axis][1] for b in boxes)) for axis in range(3)
    )


def apply_edits(
    edits: list[Any], shape: tuple[int, int, int], within: Box | None = None
) -> tuple[np.ndarray, list[str]]:
    """The label map ``edits`` draw on an empty map of ``shape``, and why any edit was skipped.

    With ``within``, only that box of the map is made (an array of the box's
    shape): a class's layers are compared where they drew, not on the whole
    series (:mod:`dicomteach.live.agreement`).

    >>> edits = [{"box": [[1, 2], [0, 2], [0, 3]], "runs": [1, 4, 0, 2]},
    ...          {"box": [[1, 2], [0, 1], [0, 1]], "runs": [0, 1]},
    ...          {"box": [[0, 9], [0, 1], [0, 1]], "runs": [1, 9]}]
    >>> labels, skipped = apply_edits(edits, (2, 2, 3))
    >>> labels[1].tolist(), skipped
    ([[0, 1, 1], [1, 0, 0]], ['edit 3: box [[0, 9], [0, 1], [0, 1]] outside (2, 2, 3)'])
    >>> apply_edits(edits, (2, 2, 3), within=((1, 2), (0, 2), (1, 3)))[0].tolist()
    [[[1, 1], [0, 0]]]
    """
    within = within or ((0, shape[0]), (0, shape[1]), (0, shape[2]))
    labels = np.zeros([b - a for a, b in within], np.uint8)
    skipped = []
    for number, edit in enumerate(edits, 1):
        try:
            box = edit_box(edit, shape)
            size = int(np.prod([b - a for a, b in box]))
            runs = np.asarray(edit["runs"], dtype=np.int64).reshape(-1, 2)
            if runs.size and (
                runs[:, 0].min() < 0 or runs[:, 0].max() > 255 or runs[:, 1].min() < 0
            ):
                raise ValueError("runs must be pairs of a label 0..255 and a count")
            if int(runs[:, 1].sum()) != size:
                raise ValueError(f"runs cover {int(runs[:, 1].sum())} voxels, the box {size}")
        except (KeyError, TypeError, ValueError) as exc:
            skipped.append(f"edit {number}: {exc}")
            continue
        low = [max(a, w) for (a, _), (w, _) in zip(box, within, strict=True)]
        high = [min(b, w) for (_, b), (_, w) in zip(box, within, strict=True)]
        if any(lo >= hi for lo, hi in zip(low, high, strict=True)):
            continue
        values = np.repeat(runs[:, 0].astype(np.uint8), runs[:, 1])
        values = values.reshape([b - a for a, b in box])
        labels[
            tuple(slice(lo - w, hi - w) for lo, hi, (w, _) in zip(low, high, within, strict=True))
        ] = values[
            tuple(slice(lo - a, hi - a) for lo, hi, (a, _) in zip(low, high, box, strict=True))
        ]
    return labels, skipped


def _person_name(full_name: str) -> str:
    """A DICOM person name (PS3.5 6.2.1.2): family^given; one word is a family name (``Name^``).

    >>> _person_name("Alice van Martin"), _person_name("teacher")
    ('Martin^Alice van', 'teacher^')
    """
    parts = full_name.split()
    return "^".join([parts[-1], " ".join(parts[:-1])]) if len(parts) > 1 else f"{full_name}^"


def _write_labels(
    labels: np.ndarray,
    box: Box,
    volume: Volume,
    sources: Any,
    folder: Path,
    stem: str,
    describe: Any,
    **seg: Any,
) -> tuple[Path, Path]:
    """``labels`` (on ``box`` of the series) as ``<stem>.npz`` and ``<stem>-seg.dcm``.

    Each segment is described by ``describe(i, n)`` (segment ``i``, label ``n``);
    ``sources`` are the series' images as :func:`dicomteach.roi.seg.write_seg` takes them.
    """
    from dicomteach.roi.npz import DelineationAnswer, save_delineation
    from dicomteach.roi.seg import write_seg

    inside = tuple(slice(a, b) for a, b in box)
    numbers = [int(n) for n in np.unique(labels) if n]
    names = tuple(f"Structure {n}" for n in range(1, max(numbers) + 1))
    whole = np.zeros(volume.pixels.shape[:3], np.uint8)
    whole[inside] = labels
    answer = DelineationAnswer(
        whole, tuple(float(s) for s in volume.spacing), names, series_uid=volume.series_uid,
        origin=tuple(float(o) for o in volume.origin),
    )  # fmt: skip
    npz = save_delineation(answer, folder / f"{stem}.npz")
    relabelled = np.zeros_like(labels)
    for i, n in enumerate(numbers, 1):
        relabelled[labels == n] = i
    whole[inside] = relabelled  # the SEG numbers its segments 1, 2, … without gaps
    descriptions = [describe(i, n) for i, n in enumerate(numbers, 1)]
    dcm = write_seg(whole, sources, folder / f"{stem}-seg.dcm", descriptions=descriptions, **seg)
    return npz, dcm


def _segment(i: int, n: int, tracking: str, description: str, algorithm: Any = None) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    kind = hd.seg.SegmentAlgorithmTypeValues
    item = hd.seg.SegmentDescription(
        segment_number=i,
        segment_label=f"Structure {n}"[:64],
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=kind.MANUAL if algorithm is None else kind.SEMIAUTOMATIC,
        algorithm_identification=algorithm,
        tracking_uid=generate_uid(),
        tracking_id=tracking[:64],
    )
    item.SegmentDescription = description[:64]
    return item


def _staple_algorithm(raters: int) -> Any:
    """How the consensus was made, for its SEG: STAPLE (SimpleITK) over the class's manual outlines.

    SEMIAUTOMATIC (PS3.3 C.8.20.2: computed with a user's help): the voxels are
    computed, from outlines people drew. No family of CID 7162 names label
    fusion; "Manual Processing" says where its input comes from.
    """
    import highdicom as hd
    import SimpleITK as sitk
    from pydicom.sr.codedict import codes

    return hd.AlgorithmIdentificationSequence(
        name="STAPLE",
        family=codes.cid7162.ManualProcessing,
        version=f"SimpleITK {sitk.Version.VersionString()}",
        source="dicomteach.scoring.consensus",
        parameters={"raters": str(raters), "threshold": "0.5"},
    )


def _save_poll(poll: dict[str, Any], volume: Volume, folder: Path) -> dict[str, str]:
    """Each click of the poll asked last as the click answer file ``<username>-poll.json``."""
    from dicomteach.live.agreement import current_clicks
    from dicomteach.roi.answers import Answer, point_at, save_answer

    written = {}
    for username, click in sorted(current_clicks(poll).items()):
        try:
            where = [float(click[k]) for k in ("frame", "row", "column")]
        except (KeyError, TypeError, ValueError):
            continue
        if not all(np.isfinite(where)):
            continue
        point = point_at(volume, *where, label="poll")
        answer = Answer(volume.series_uid, [point], activity="live-poll")
        written[username] = save_answer(answer, folder / f"{username}-poll.json").name
    return written


def save_session(
    meta: dict[str, Any],
    state: dict[str, Any],
    folder: Path,
    *,
    session_id: str = "",
    measured: tuple[Any, list] | None = None,
) -> dict[str, Any]:
    """Write an ended session's layers, poll, consensus and scores under ``folder``; what was written.

    ``state`` is the document as plain values (:func:`dicomteach.live.document.snapshot`,
    taken where the document lives); ``meta`` the session's facts (its study and reference);
    ``measured`` the agreement and score rows the service already has for these layers.
    Returns ``{"layers": {username: {npz, seg, skipped}}, "polls": {username: file},
    "class": {...}}`` (names relative to ``folder``).
    """
    from dicomteach.io.atomic import write_atomically
    from dicomteach.live.agreement import (
        class_agreement,
        class_picture,
        class_scores,
        poll_results,
    )
    from dicomteach.live.series import open_series
    from dicomteach.roi._sources import source_datasets

    volume, series = open_series(meta.get("study") or {}, meta.get("reference"))
    shape = series.shape
    layers = state.get("layers") or {}
    present = state.get("present") or {}
    full_names = {u: str((e or {}).get("name") or u) for u, e in present.items()}
    title = str(meta.get("title") or "")
    folder.mkdir(exist_ok=True)
    saved: dict[str, Any] = {"layers": {}, "polls": {}, "class": {}}
    sources: Any = volume
    headers = source_datasets(volume)
    if len(headers) == volume.n_frames:  # one file a frame, in frame order: read them once
        sources = headers
    for username, layer in sorted(layers.items()):
        edits = list((layer or {}).get("edits") or [])
        box = drawn_box(edits, shape)
        labels, skipped = apply_edits(edits, shape, within=box) if box else (None, [])
        if labels is None or not labels.any():
            continue
        full = full_names.get(username, username)

        def describe(i: int, n: int, username: str = username, full: str = full) -> Any:
            return _segment(i, n, f"{username} structure {n}", f"drawn by {full} ({username})")

        npz, seg = _write_labels(
            labels, box, volume, sources, folder, username, describe,
            series_description=f"Live: {title}"[:64], content_label="LIVE",
            content_creator=_person_name(full),
            content_description=f"{full}'s layer, live session {title}"[:64],
        )  # fmt: skip
        saved["layers"][username] = {"npz": npz.name, "seg": seg.name, "skipped": skipped}
        for reason in skipped:
            log.warning("live session %s: %s's %s", session_id, username, reason)
        del labels
    poll = state.get("poll") or {}
    saved["polls"] = _save_poll(poll, volume, folder)

    common = folder / "class"
    common.mkdir(exist_ok=True)
    if measured is None:
        boxes = [b.box for b in series.reference.values()]
        agreement = class_agreement(layers, shape, also=boxes)
        rows = class_scores(agreement, series, full_names=full_names)
    else:
        agreement, rows = measured
    if agreement.structures:
        consensus = np.zeros([b - a for a, b in agreement.box], np.uint8)
        for found in agreement.structures:
            consensus[found.consensus] = found.label
        by_label = {s.label: s for s in agreement.structures}
        if consensus.any():

            def made(i: int, n: int) -> Any:
                raters = by_label[n].raters
                return _segment(
                    i, n, f"consensus structure {n}",
                    f"STAPLE of {len(raters)}: {', '.join(raters)}",
                    _staple_algorithm(len(raters)),
                )  # fmt: skip

            npz, seg = _write_labels(
                consensus, agreement.box, volume, sources, common, "consensus", made,
                series_description=f"Live consensus: {title}"[:64], content_label="CONSENSUS",
                content_description=f"STAPLE consensus, live session {title}"[:64],
            )  # fmt: skip
            saved["class"]["consensus"] = {"npz": f"class/{npz.name}", "seg": f"class/{seg.name}"}
        del consensus
    measured_poll = poll_results(poll, series, full_names=full_names)
    reference = Path(series.reference_path).name if series.reference_path else None
    for name, value in (
        ("scores.json", {"reference": reference, "rows": rows, "poll": measured_poll}),
        ("poll.json", measured_poll),
    ):
        text = json.dumps(value, indent=1, allow_nan=False).encode()
        write_atomically(common / name, lambda fh, text=text: fh.write(text))
        saved["class"][name.split(".")[0]] = f"class/{name}"
    picture = class_picture(agreement, series, full_names=full_names, rows=rows)
    if picture is not None:
        write_atomically(common / "scores.png", lambda fh: fh.write(picture))
        saved["class"]["picture"] = "class/scores.png"
    return saved
