"""What a class drew together: the agreement map, the STAPLE consensus, each person's scores, the poll.

Every participant draws on their own layer of the series (docs/live.md);
:func:`class_agreement` replays the layers where they drew only (the union
of their edits' boxes, with the reference's and a margin of
:data:`~dicomteach.scoring.consensus.BOX_MARGIN` voxels: on a 512×512×120 CT a
class's nodule is a few thousand voxels, not thirty million) and gives, for
each structure (label value) someone drew,

- the agreement map: how many of the participants who drew that structure
  drew each voxel;
- the STAPLE consensus of their outlines
  (:func:`dicomteach.scoring.consensus.staple`; with one participant, their
  outline).

Only layers that hold something count, and a structure's raters are those
who drew it: a participant who outlined the tumour but not the oedema does
not vote the oedema away.

:func:`document_form` is what the service writes into the document's
``consensus`` root for the front ends to draw (its own root, written by the
service only: docs/live.md), each structure's maps in its tight box as runs,
as the layers' edits are. :func:`class_scores` scores each participant
against the session's reference when it has that structure, else against the
consensus, with :func:`dicomteach.scoring.score` (Dice, surface Dice, HD95);
:func:`class_picture` shows each one's outline against it on the slice where
it is largest; :func:`poll_results` measures each click of the poll from its
answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dicomteach.live.save import Box, apply_edits, drawn_box
from dicomteach.live.series import Boxed, SessionSeries
from dicomteach.scoring import score
from dicomteach.scoring.consensus import BOX_MARGIN, staple

__all__ = [
    "POLL_RADIUS_MM",
    "POLL_TOLERANCE_MM",
    "Agreement",
    "StructureAgreement",
    "best_slice",
    "class_agreement",
    "class_picture",
    "class_scores",
    "document_form",
    "poll_results",
    "runs_of",
]

POLL_RADIUS_MM = 10.0
"""A click within this of the poll's answer point hits (unless the answer gives ``radius_mm``)."""
POLL_TOLERANCE_MM = 5.0
"""A click within this of the reference outline hits, when the poll has no answer point
(the tolerance of :func:`dicomteach.grading.grade_click`)."""


def runs_of(values: np.ndarray) -> list[int]:
    """``values`` in C order as runs ``[value, count, value, count, ...]`` (what edits hold).

    >>> runs_of(np.array([[0, 0, 2], [2, 2, 0]]))
    [0, 2, 2, 3, 0, 1]
    >>> from dicomteach.live.save import apply_edits
    >>> back, _ = apply_edits([{"box": [[0, 1], [0, 2], [0, 3]], "runs": [0, 2, 2, 3, 0, 1]}], (1, 2, 3))
    >>> back[0].tolist()
    [[0, 0, 2], [2, 2, 0]]
    """
    flat = np.asarray(values).ravel()
    if flat.size == 0:
        return []
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    counts = np.diff(np.concatenate((starts, [flat.size])))
    return np.column_stack((flat[starts].astype(np.int64), counts)).ravel().tolist()


def _union(boxes: Iterable[Box]) -> Box | None:
    boxes = list(boxes)
    if not boxes:
        return None
    return tuple(  # type: ignore[return-value]
        (min(b[axis][0] for b in boxes), max(b[axis][1] for b in boxes)) for axis in range(3)
    )


def _grown(box: Box, margin: int, shape: Sequence[int]) -> Box:
    return tuple(  # type: ignore[return-value]
        (max(0, a - margin), min(int(n), b + margin)) for (a, b), n in zip(box, shape, strict=True)
    )


def _slices(box: Box, within: Box) -> tuple[slice, ...]:
    """Where ``box`` lies inside the array of ``within``."""
    return tuple(slice(a - w, b - w) for (a, b), (w, _) in zip(box, within, strict=True))


def _edits(layer: Any) -> list[Any]:
    if isinstance(layer, Mapping):
        return list(layer.get("edits") or [])
    return list(layer or [])


@dataclass(frozen=True)
class StructureAgreement:
    """One structure's agreement map and consensus, on the :class:`Agreement`'s box."""

    label: int
    raters: tuple[str, ...]
    """Who drew this structure, in the order of :attr:`sensitivity`."""
    counts: np.ndarray
    """How many of :attr:`raters` drew each voxel."""
    consensus: np.ndarray
    """Bool: STAPLE's estimate (probability ≥ 0.5); one rater's outline when alone."""
    sensitivity: tuple[float, ...] = ()
    """Per rater, STAPLE's estimate (empty with one rater)."""
    specificity: tuple[float, ...] = ()
    iterations: int = 0


@dataclass(frozen=True)
class Agreement:
    """A class's layers where they drew, and each structure's agreement (module docstring)."""

    shape: tuple[int, int, int]
    """The series'."""
    box: Box
    """Where :attr:`labels` and each structure's maps lie in the series."""
    labels: dict[str, np.ndarray]
    """Each participant's label map on :attr:`box` (only layers that hold something)."""
    structures: tuple[StructureAgreement, ...]
    skipped: dict[str, list[str]]
    """Edits that did not fit the series, by participant."""

    def place(self, boxed: Boxed) -> np.ndarray:
        """A mask kept on its own box (e.g. the reference's), on :attr:`box` (cut if outside)."""
        out = np.zeros([b - a for a, b in self.box], bool)
        low = [max(a, w) for (a, _), (w, _) in zip(boxed.box, self.box, strict=True)]
        high = [min(b, w) for (_, b), (_, w) in zip(boxed.box, self.box, strict=True)]
        if all(lo < hi for lo, hi in zip(low, high, strict=True)):
            part = tuple(zip(low, high, strict=True))
            out[_slices(part, self.box)] = boxed.mask[_slices(part, boxed.box)]
        return out

    def structure(self, label: int) -> StructureAgreement | None:
        return next((s for s in self.structures if s.label == label), None)


def class_agreement(
    layers: Mapping[str, Any],
    shape: Sequence[int],
    *,
    names: Iterable[str] | None = None,
    also: Iterable[Box] = (),
) -> Agreement:
    """Replay each layer where the class drew; each structure's agreement map and consensus.

    Parameters
    ----------
    layers : mapping
        Username → layer (``{"edits": [...]}``, as the document holds it) or its list of edits.
    shape : sequence of int
        The series' shape (frames, rows, columns).
    names : iterable of str, optional
        Count only these participants (default: everyone whose layer holds something).
    also : iterable of boxes
        Boxes the work box must hold too (the reference's, to score against it).

    Examples
    --------
    Three learners outline a square on slice 1; one draws a column more:

    >>> def square(c1):
    ...     labels = np.zeros((1, 4, 6), int); labels[0, 1:3, 1:c1] = 1
    ...     return [{"box": [[1, 2], [0, 4], [0, 6]], "runs": runs_of(labels)}]
    >>> found = class_agreement({"ann": square(4), "bo": square(4), "cy": square(5)}, (3, 4, 6))
    >>> found.box
    ((0, 3), (0, 4), (0, 6))
    >>> tumour = found.structures[0]
    >>> tumour.raters, tumour.counts[1, 1].tolist()
    (('ann', 'bo', 'cy'), [0, 3, 3, 3, 1, 0])
    >>> tumour.consensus[1, 1].astype(int).tolist()
    [0, 1, 1, 1, 0, 0]
    """
    shape = tuple(int(n) for n in shape)
    wanted = None if names is None else set(names)
    kept = {
        n: _edits(layer) for n, layer in sorted(layers.items()) if wanted is None or n in wanted
    }
    boxes = [drawn_box(edits, shape) for edits in kept.values()]  # type: ignore[arg-type]
    drawn = _union([*also, *(b for b in boxes if b is not None)])
    box = _grown(drawn, BOX_MARGIN, shape) if drawn else ((0, 0), (0, 0), (0, 0))
    labels: dict[str, np.ndarray] = {}
    skipped: dict[str, list[str]] = {}
    for name, edits in kept.items():
        if drawn is None:
            break
        found, reasons = apply_edits(edits, shape, within=box)  # type: ignore[arg-type]
        if reasons:
            skipped[name] = reasons
        if found.any():
            labels[name] = found
    structures = []
    values = sorted({int(v) for found in labels.values() for v in np.unique(found) if v})
    for label in values:
        raters = tuple(n for n, found in labels.items() if (found == label).any())
        masks = [labels[n] == label for n in raters]
        counts = np.zeros(masks[0].shape, np.uint8 if len(masks) < 256 else np.uint16)
        for mask in masks:
            counts += mask
        if len(masks) == 1:
            structures.append(StructureAgreement(label, raters, counts, masks[0]))
            continue
        estimate = staple(masks)
        structures.append(
            StructureAgreement(
                label,
                raters,
                counts,
                estimate.mask,
                estimate.sensitivity,
                estimate.specificity,
                estimate.iterations,
            )
        )
    return Agreement(shape, box, labels, tuple(structures), skipped)  # type: ignore[arg-type]


def _tight(mask: np.ndarray) -> Box | None:
    kept = Boxed.of(mask)
    return None if kept is None else kept.box  # type: ignore[return-value]


def document_form(agreement: Agreement, *, by: str = "", made: str | None = None) -> dict[str, Any]:
    """What the ``consensus`` root of the document holds (docs/live.md): JSON values only.

    Each structure: its ``label``, its ``raters``, a ``box`` of the series
    (array order, ends excluded) and, over it, ``agreement`` (how many drew
    each voxel) and ``consensus`` (1 inside) as runs, and STAPLE's
    ``sensitivity``/``specificity`` per rater (empty with one rater).

    >>> e = [{"box": [[0, 1], [1, 2], [1, 3]], "runs": [1, 2]}]
    >>> form = document_form(class_agreement({"ann": e, "bo": e}, (2, 4, 4)), by="t", made="now")
    >>> form["structures"][0]["box"], form["structures"][0]["agreement"], form["raters"]
    ([[0, 1], [1, 2], [1, 3]], [2, 2], ['ann', 'bo'])
    """
    structures = []
    for s in agreement.structures:
        tight = _tight((s.counts > 0) | s.consensus)
        if tight is None:
            continue
        inside = tuple(slice(a, b) for a, b in tight)
        structures.append(
            {
                "label": s.label,
                "raters": list(s.raters),
                "box": [
                    [a + w, b + w] for (a, b), (w, _) in zip(tight, agreement.box, strict=True)
                ],
                "agreement": runs_of(s.counts[inside]),
                "consensus": runs_of(s.consensus[inside].astype(np.uint8)),
                "sensitivity": [round(x, 4) for x in s.sensitivity],
                "specificity": [round(x, 4) for x in s.specificity],
            }
        )
    return {
        "made": made or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "by": by,
        "raters": sorted(agreement.labels),
        "structures": structures,
    }


def _number(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def class_scores(
    agreement: Agreement,
    series: SessionSeries,
    *,
    full_names: Mapping[str, str] | None = None,
    tolerance_mm: float = 2.0,
) -> list[dict[str, Any]]:
    """One row per participant who drew and structure: their scores against what they are judged by.

    A structure the session's reference holds is judged against the reference
    (``"against": "reference"``), any other against the class's consensus.
    Rows hold ``username``, ``name``, ``structure``, ``structure_name``,
    ``against``, ``drew`` (whether they drew that structure), ``dice``,
    ``surface_dice`` (at ``tolerance_mm``), ``hd95_mm`` (None when either is
    empty), ``volume_mm3``, and against the consensus STAPLE's
    ``sensitivity`` and ``specificity`` of that participant.
    """
    full_names = full_names or {}
    voxel = float(np.prod(series.spacing))
    rows: list[dict[str, Any]] = []
    labels = sorted(set(series.reference) | {s.label for s in agreement.structures})
    for label in labels:
        found = agreement.structure(label)
        if label in series.reference:
            target, against = agreement.place(series.reference[label]), "reference"
            name = series.reference_names.get(label, f"Structure {label}")
        elif found is not None:
            target, against, name = found.consensus, "consensus", f"Structure {label}"
        else:
            continue
        for username, drawn in agreement.labels.items():
            mask = drawn == label
            scores = score(target, mask, series.spacing, tolerance_mm)
            row: dict[str, Any] = {
                "username": username,
                "name": full_names.get(username, username),
                "structure": label,
                "structure_name": name,
                "against": against,
                "drew": bool(mask.any()),
                "dice": _number(scores.dice),
                "surface_dice": _number(scores.surface_dice),
                "hd95_mm": _number(scores.hd95_mm, 2),
                "volume_mm3": round(float(np.count_nonzero(mask)) * voxel, 1),
                "tolerance_mm": tolerance_mm,
            }
            if against == "consensus" and found is not None and found.sensitivity:
                at = found.raters.index(username) if username in found.raters else None
                row["sensitivity"] = None if at is None else _number(found.sensitivity[at])
                row["specificity"] = None if at is None else _number(found.specificity[at])
            rows.append(row)
    return rows


def best_slice(mask: np.ndarray) -> int:
    """The frame where ``mask`` (frames, rows, columns) is largest.

    >>> m = np.zeros((4, 3, 3), bool); m[1, 0, 0] = True; m[2, :2, :2] = True
    >>> best_slice(m)
    2
    """
    return int(np.argmax(np.asarray(mask, bool).sum(axis=(1, 2))))


def class_picture(
    agreement: Agreement,
    series: SessionSeries,
    label: int | None = None,
    *,
    full_names: Mapping[str, str] | None = None,
    rows: Sequence[Mapping[str, Any]] = (),
    window: Any = None,
) -> bytes | None:
    """PNG: each participant's outline of ``label`` against the reference (or the consensus).

    On the slice where the reference (else the consensus) is largest, one
    panel per participant who drew, captioned with their Dice from ``rows``
    (:func:`class_scores`). ``label`` defaults to the first structure scored.
    None when there is nothing to show.
    """
    from dicomteach.grading.render_class import class_png

    full_names = full_names or {}
    choices = sorted(set(series.reference) | {s.label for s in agreement.structures})
    if not choices or not agreement.labels:
        return None
    label = choices[0] if label is None else int(label)
    found = agreement.structure(label)
    if label in series.reference:
        target, against = agreement.place(series.reference[label]), "the reference"
        name = series.reference_names.get(label, f"Structure {label}")
    elif found is not None:
        target, against, name = found.consensus, "the class's consensus", f"Structure {label}"
    else:
        return None
    if not target.any():
        return None
    k = best_slice(target)
    frame = k + agreement.box[0][0]
    rows_by_name = {r["username"]: r for r in rows if r.get("structure") == label}
    outlines = []
    for username, drawn in agreement.labels.items():
        row = rows_by_name.get(username, {})
        dice = row.get("dice")
        caption = full_names.get(username, username)
        outlines.append((caption, "" if dice is None else f"Dice {dice:.2f}", drawn[k] == label))
    image = series.slice_values(frame)
    if image is not None:
        (r0, r1), (c0, c1) = agreement.box[1], agreement.box[2]
        image = image[r0:r1, c0:c1]
    return class_png(
        outlines,
        target[k],
        series.spacing,
        image=image,
        window=window or series.window,
        direction=series.direction,
        title=f"{name}: each outline against {against}, slice {frame + 1}",
        reference_name=against,
    )


def _click(value: Any) -> np.ndarray | None:
    try:
        point = np.array([float(value[k]) for k in ("frame", "row", "column")])
    except (KeyError, TypeError, ValueError):
        return None
    return point if np.all(np.isfinite(point)) else None


def current_clicks(poll: Mapping[str, Any]) -> dict[str, Any]:
    """The clicks that answer the poll asked last (a click names the poll it answers, ``asked``).

    A learner who answered an earlier poll and not this one has no click in it;
    a poll without ``asked`` (no widget ever asked it) keeps every click.

    >>> current_clicks({"asked": 2, "clicks": {"ada": {"asked": 1}, "bo": {"asked": 2}}})
    {'bo': {'asked': 2}}
    """
    clicks = poll.get("clicks") or {}
    if poll.get("asked") is None:
        return dict(clicks)
    asked = float(poll["asked"])
    return {
        name: click
        for name, click in clicks.items()
        if isinstance(click, Mapping) and float(click.get("asked") or 0) == asked
    }


def poll_results(
    poll: Mapping[str, Any],
    series: SessionSeries,
    *,
    full_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Each click of the poll, measured from its answer: distance in mm and whether it hits.

    The answer is the poll's ``answer`` point ``{frame, row, column}`` (a hit
    within its ``radius_mm``, :data:`POLL_RADIUS_MM` by default); without one,
    the reference's first structure (a hit within :data:`POLL_TOLERANCE_MM`
    of its outline); without either, clicks are listed unmeasured.
    """
    from dicomteach.grading.points import point_distance

    full_names = full_names or {}
    spacing = np.asarray(series.spacing, float)
    answer = poll.get("answer")
    point = _click(answer) if isinstance(answer, Mapping) else None
    target: Boxed | None = None
    if point is not None:
        radius = float(answer.get("radius_mm") or POLL_RADIUS_MM)  # type: ignore[union-attr]
        judged = "answer"
    elif series.reference:
        target = series.reference[min(series.reference)]
        radius, judged = POLL_TOLERANCE_MM, "reference"
    else:
        radius, judged = float("nan"), "nothing"
    rows = []
    for username, click in sorted(current_clicks(poll).items()):
        where = _click(click)
        if where is None:
            continue
        distance: float | None = None
        if point is not None:
            distance = float(np.linalg.norm((where - point) * spacing))
        elif target is not None:
            offset = np.array([a for a, _ in target.box], float)
            distance = point_distance(where - offset, target.mask, spacing)[0]
        rows.append(
            {
                "username": username,
                "name": full_names.get(username, username),
                "click": [float(x) for x in where],
                "distance_mm": None if distance is None else round(distance, 2),
                "hit": None if distance is None else bool(distance <= radius),
            }
        )
    return {
        "question": str(poll.get("question") or ""),
        "judged_by": judged,
        "answer": [float(x) for x in point] if point is not None else None,
        "radius_mm": None if judged == "nothing" else radius,
        "clicks": rows,
    }
