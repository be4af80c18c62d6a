"""Grading clicks on findings and labels dropped on structures.

A click or a label point counts when it lies in its target region, or within
``tolerance_mm`` of it: the distance is from the point (fractional array
indices, as in :class:`~dicomteach.roi.Point`) to the centre of the nearest
target voxel, in mm; a point whose nearest voxel is in the target is at 0 mm.
Points are shared equally among the findings (or labels) expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from dicomteach.errors import DicomTeachError
from dicomteach.grading._inputs import (
    Problem,
    as_spacing_mm,
    failure,
    internal_error,
    reference_problem,
)
from dicomteach.grading.directions import as_direction, relation, sides
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.roi import Answer, Point, load_answer
from dicomteach.scoring.distances import union_box
from dicomteach.scoring.signed import surface_voxels

__all__ = ["grade_click", "grade_labels", "point_distance"]


def _points(answer: object, what: str) -> list[Point]:
    if answer is None:
        raise Problem(f"No {what} was found: place it and save before you submit.")
    if isinstance(answer, str | os.PathLike):
        name = os.path.basename(os.fspath(answer))
        if not os.path.exists(answer):
            raise Problem(f"Your answer file '{name}' was not found: place your {what} and save.")
        try:
            answer = load_answer(answer)
        except DicomTeachError as exc:
            raise Problem(
                f"Your answer file '{name}' could not be read ({exc.problem}): "
                "save it again from the activity."
            ) from None
    if isinstance(answer, Answer):
        return list(answer.points)
    if isinstance(answer, Point):
        return [answer]
    if isinstance(answer, Sequence) and all(isinstance(p, Point) for p in answer):
        return list(answer)
    raise Problem(f"Your answer is not a set of {what}s ({type(answer).__name__}).")


def _mask(value: object, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    mask = np.asarray(value)
    if mask.ndim == 2:
        mask = mask[None]
    if mask.ndim != 3 or mask.dtype.kind not in "biuf" or not mask.any():
        raise reference_problem(f"target {name!r} must be a non-empty 2D or 3D mask")
    if mask.dtype != np.bool_:
        if np.any((mask != 0) & (mask != 1)):
            raise reference_problem(f"target {name!r} is not binary")
        mask = mask.astype(bool)
    if shape is not None and mask.shape != shape:
        raise reference_problem(f"target {name!r} is {mask.shape}, the others {shape}")
    return mask


def _targets(target: object) -> dict[str, np.ndarray]:
    items = target.items() if isinstance(target, Mapping) else [("the finding", target)]
    out: dict[str, np.ndarray] = {}
    shape = None
    for name, value in items:
        out[str(name)] = _mask(value, str(name), shape)
        shape = out[str(name)].shape
    if not out:
        raise reference_problem("no target given")
    return out


def _spacing(spacing_mm: object) -> tuple[float, float, float]:
    values = np.atleast_1d(np.asarray(spacing_mm, dtype=float)) if spacing_mm is not None else []
    if len(values) == 2:
        spacing_mm = (1.0, *values)
    return as_spacing_mm(spacing_mm, 3)  # type: ignore[return-value]


def point_distance(
    point: Sequence[float], mask: np.ndarray, spacing_mm: Sequence[float]
) -> tuple[float, np.ndarray]:
    """Distance (mm) from a point ``(frame, row, column)`` to the nearest voxel of ``mask``.

    Returns the distance (0 when the voxel holding the point is in the mask)
    and the vector (mm along the array axes) from the point to that voxel.
    A 2D mask ignores the point's frame.

    Examples
    --------
    >>> mask = np.zeros((1, 10, 10), bool); mask[0, 2:4, 2:4] = True
    >>> d, v = point_distance((0, 3, 7), mask, (1.0, 1.0, 2.0))
    >>> d, v.tolist()
    (8.0, [0.0, 0.0, -8.0])
    """
    mask = np.asarray(mask, bool)
    p = np.asarray(point, dtype=float)
    if mask.ndim == 2:
        mask, p = mask[None], np.array([0.0, p[-2], p[-1]])
    spacing = np.asarray(spacing_mm, dtype=float)[-3:]
    if spacing.size == 2:
        spacing = np.array([1.0, *spacing])
    nearest = np.floor(p + 0.5).astype(int)
    if np.all(nearest >= 0) and np.all(nearest < mask.shape) and mask[tuple(nearest)]:
        return 0.0, np.zeros(3)
    box = union_box(mask, mask)
    if box is None:
        return float("inf"), np.zeros(3)
    offset = np.array([s.start for s in box])
    candidates = np.argwhere(surface_voxels(mask[box])) + offset
    vectors = (candidates - p) * spacing
    lengths = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    best = int(np.argmin(lengths))
    return float(lengths[best]), vectors[best]


def _where(vector: np.ndarray, direction: np.ndarray | None, of: str) -> str:
    return relation(sides(vector, direction), of)


def grade_click(
    answer: object,
    target_mask: np.ndarray | Mapping[str, np.ndarray],
    spacing_mm: Sequence[float],
    points: float = 1.0,
    tolerance_mm: float = 5.0,
    *,
    direction: np.ndarray | None = None,
    max_clicks: int | None = None,
    penalty_per_extra_click: float = 0.0,
) -> Feedback:
    """Points for clicks on findings: each finding clicked (or within tolerance) earns its share.

    Parameters
    ----------
    answer : Answer, Point, list of Point, or path to the answer JSON
        The learner's clicks (labels ignored).
    target_mask : mask or {name: mask}
        One finding, or several (each earns ``points / len``). 2D or 3D.
    spacing_mm : sequence of float
        Voxel size (mm) per mask axis.
    tolerance_mm : float, default 5.0
        How far outside a finding a click still counts.
    direction : 3×3 array, optional
        LPS unit vectors of the array axes (``Volume.direction``), to name
        directions anatomically.
    max_clicks : int, optional
        Only the first ``max_clicks`` clicks count (against clicking everywhere).
    penalty_per_extra_click : float, default 0
        Points taken off for each click that finds nothing: one within
        tolerance of no finding, or one more on a finding another click
        already found. The total never goes below 0.

    Each click serves one finding at most; clicks are paired with findings
    nearest first. Never raises: a missing or unreadable answer gets 0 points.

    Examples
    --------
    >>> nodule = np.zeros((1, 40, 40), bool); nodule[0, 10:14, 10:14] = True
    >>> f = grade_click(Point((0.0, 12.0, 30.0)), {"nodule": nodule}, (1, 1, 1), 2, 5)
    >>> f.points
    0.0
    >>> print(f.lines[0])
    nodule: your nearest click is 17.0 mm from it (5 mm allowed); it lies to the left of your click (on screen).

    Two clicks on the nodule and one far from it, at half a point each:

    >>> clicks = [Point((0.0, 11.0, 11.0)), Point((0.0, 12.0, 12.0)), Point((0.0, 35.0, 35.0))]
    >>> f = grade_click(clicks, {"nodule": nodule}, (1, 1, 1), 2, 5, penalty_per_extra_click=0.5)
    >>> f.points, f.lines[1:]
    (1.0, ['1 click hit nothing: −0.5 points.', '1 click is on a finding already found: −0.5 points.'])
    """
    max_points = float(points)
    try:
        penalty = float(penalty_per_extra_click)
        if not np.isfinite(penalty) or penalty < 0:
            raise reference_problem(
                f"penalty_per_extra_click must be a number ≥ 0, not {penalty_per_extra_click!r}"
            )
        targets = _targets(target_mask)
        spacing = _spacing(spacing_mm)
        direction = as_direction(direction)
        clicks = _points(answer, "click")
        if max_clicks is not None:
            clicks = clicks[:max_clicks]
        if not clicks:
            raise Problem("You placed no click: click on the finding and save before you submit.")
        share = max_points / len(targets)
        pairs = []
        for name, mask in targets.items():
            for n, click in enumerate(clicks):
                distance, vector = point_distance(click.image, mask, spacing)
                pairs.append((distance, name, n, vector))
        pairs.sort(key=lambda item: (item[0], list(targets).index(item[1]), item[2]))
        best: dict[str, tuple[float, int, np.ndarray]] = {}
        used: set[int] = set()
        for distance, name, n, vector in pairs:
            if name not in best and n not in used:
                best[name] = (distance, n, vector)
                used.add(n)
        nearest = {
            name: min((p for p in pairs if p[1] == name), key=lambda p: p[0]) for name in targets
        }
        awarded, lines, found = 0.0, [], {}
        for name in targets:
            distance, _, vector = best.get(name, (*nearest[name][0:1], -1, nearest[name][3]))
            ok = distance <= tolerance_mm
            found[name] = {"distance_mm": distance, "found": ok}
            if ok:
                awarded += share
                lines.append(
                    f"{name}: found (your click is on it)."
                    if distance == 0
                    else f"{name}: found (your click is {distance:.1f} mm from it, "
                    f"within the {tolerance_mm:g} mm allowed)."
                )
            else:
                where = _where(vector, direction, "your click")
                lies = f"; it lies {where}" if where else ""
                lines.append(
                    f"{name}: your nearest click is {distance:.1f} mm from it "
                    f"({tolerance_mm:g} mm allowed){lies}."
                )
        earning = {n for d, n, _ in best.values() if d <= tolerance_mm}
        # A click within tolerance of a finding that did not earn is a repeat: pairing
        # nearest first gives every finding within reach of a free click that click.
        repeats = sum(
            1
            for n in range(len(clicks))
            if n not in earning and any(p[0] <= tolerance_mm for p in pairs if p[2] == n)
        )
        nothing = len(clicks) - len(earning) - repeats
        details: dict = {"findings": found}
        if penalty > 0:
            taken = penalty * (nothing + repeats)
            if nothing:
                lines.append(
                    f"{nothing} click{'s' if nothing != 1 else ''} hit nothing: "
                    f"−{_points_text(penalty * nothing)}."
                )
            if repeats:
                lines.append(
                    f"{repeats} click{' is' if repeats == 1 else 's are'} on a finding already "
                    f"found: −{_points_text(penalty * repeats)}."
                )
            if taken > awarded:
                lines.append("Points never go below 0.")
            awarded = max(0.0, awarded - taken)
            details["extra_clicks"] = {"nothing": nothing, "repeats": repeats, "penalty": taken}
        elif nothing + repeats > 0 and len(clicks) > len(targets):
            lines.append(f"{nothing + repeats} of your {len(clicks)} clicks are not on a finding.")
        return Feedback(round(awarded, 2), max_points, None, lines, {}, Status.GRADED, details)
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)


def _points_text(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _key(label: str) -> str:
    return " ".join(label.split()).casefold()


def grade_labels(
    answer: object,
    label_map: Mapping[str, np.ndarray],
    spacing_mm: Sequence[float],
    points: float = 1.0,
    tolerance_mm: float = 2.0,
    *,
    direction: np.ndarray | None = None,
) -> Feedback:
    """Points for labels dropped on structures: each correct label earns ``points / len(label_map)``.

    A label is correct when its point lies in the structure of the same name
    (names compared ignoring case and extra spaces), or within
    ``tolerance_mm`` of it. If a label was dropped more than once the last
    drop counts. The feedback names what a wrong label landed on.

    Examples
    --------
    >>> aorta = np.zeros((1, 20, 20), bool); aorta[0, 2:6, 2:6] = True
    >>> trachea = np.zeros((1, 20, 20), bool); trachea[0, 12:16, 12:16] = True
    >>> drops = [Point((0, 3, 3), None, "trachea"), Point((0, 3, 4), None, "aorta")]
    >>> f = grade_labels(drops, {"aorta": aorta, "trachea": trachea}, (1, 1, 1), 2)
    >>> f.points
    1.0
    >>> print(f.lines[1])
    ✗ trachea: your label is on the aorta; the trachea is 12.7 mm away, below and to the right of your label (on screen).
    """
    max_points = float(points)
    try:
        if not isinstance(label_map, Mapping):
            raise reference_problem("label_map must be a mapping of names to masks")
        structures = _targets(dict(label_map))
        spacing = _spacing(spacing_mm)
        direction = as_direction(direction)
        dropped = _points(answer, "label")
        by_name = {}
        for point in dropped:
            by_name[_key(point.label)] = point
        share = max_points / len(structures)
        awarded, lines, results = 0.0, [], {}
        for name, mask in structures.items():
            point = by_name.get(_key(name))
            if point is None:
                lines.append(f"✗ {name}: not placed.")
                results[name] = {"placed": False, "correct": False}
                continue
            distance, vector = point_distance(point.image, mask, spacing)
            landed = [
                other
                for other, m in structures.items()
                if other != name and point_distance(point.image, m, spacing)[0] == 0
            ]
            on = f"the {' and the '.join(landed)}" if landed else "no labelled structure"
            correct = distance <= tolerance_mm
            results[name] = {
                "placed": True,
                "correct": correct,
                "distance_mm": distance,
                "landed_on": landed,
            }
            if correct:
                awarded += share
                lines.append(
                    f"✓ {name}: correct."
                    if distance == 0
                    else f"✓ {name}: correct ({distance:.1f} mm from its edge, "
                    f"{tolerance_mm:g} mm allowed)."
                )
            else:
                where = _where(vector, direction, "your label")
                lines.append(
                    f"✗ {name}: your label is on {on}; the {name} is {distance:.1f} mm away"
                    + (f", {where}." if where else ".")
                )
        unknown = sorted({p.label for p in dropped if _key(p.label) not in map(_key, structures)})
        if unknown:
            lines.append(
                "Not labels of this exercise (ignored): "
                + ", ".join(repr(u) for u in unknown)
                + "."
            )
        return Feedback(
            round(awarded, 2), max_points, None, lines, {}, Status.GRADED, {"labels": results}
        )
    except Problem as problem:
        return failure(problem, max_points)
    except Exception as exc:  # docs/decisions.md, decision 15: never stop an autograde
        return internal_error(exc, max_points)
