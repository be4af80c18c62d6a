"""Free-response ROC: how many nodules a detector finds for how many false marks per scan.

A detector's candidates are judged against the reference nodules of each
scan (:func:`judge`): a candidate *hits* a nodule when its centre lies in the
nodule's reference segmentation or within the nodule's radius of its centre
(as LUNA16 counted hits); each nodule counts once, so a second candidate on
a nodule already hit is neither a hit nor a false positive; any other
candidate is a false positive. Lowering the threshold on the candidates'
probability finds more nodules and makes more false positives: the FROC
curve (:func:`froc_curve`) is the sensitivity against false positives per
scan, read at 1, 2 and 4 per scan (:func:`sensitivity_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A second candidate on a nodule already hit: neither a hit nor a false positive.
DUPLICATE = -1


@dataclass(frozen=True)
class Nodule:
    """A reference nodule: its centre (patient LPS, mm) and its radius (mm)."""

    centre_mm: tuple[float, float, float]
    radius_mm: float


def judge(
    centres_mm: np.ndarray,
    probabilities: Sequence[float],
    nodules: Sequence[Nodule],
    inside: Sequence[Sequence[bool]] | None = None,
) -> list[int | None]:
    """For each candidate of one scan: the nodule it hits (index), :data:`DUPLICATE`, or None.

    ``inside[c][n]`` says whether candidate ``c``'s centre lies in nodule
    ``n``'s segmentation (optional). Candidates are judged most probable
    first, so the most probable candidate on a nodule is its hit.

    >>> nodules = [Nodule((0.0, 0.0, 0.0), 5.0)]
    >>> judge(np.array([[1.0, 0, 0], [2.0, 0, 0], [40.0, 0, 0]]), [0.6, 0.9, 0.7], nodules)
    [-1, 0, None]
    """
    centres = np.asarray(centres_mm, dtype=float).reshape(-1, 3)
    order = np.argsort(-np.asarray(probabilities, dtype=float), kind="stable")
    out: list[int | None] = [None] * len(centres)
    hit: set[int] = set()
    for c in order:
        best, nearest = None, np.inf
        for n, nodule in enumerate(nodules):
            distance = float(np.linalg.norm(centres[c] - np.asarray(nodule.centre_mm)))
            within = distance <= nodule.radius_mm or (inside is not None and inside[c][n])
            if within and distance < nearest:
                best, nearest = n, distance
        if best is None:
            continue
        out[c] = DUPLICATE if best in hit else best
        hit.add(best)
    return out


@dataclass(frozen=True)
class Mark:
    """One judged candidate: its scan, probability, and the nodule it hits (a global key)."""

    scan: str
    probability: float
    nodule: str | None
    """``"<scan>/<n>"`` for a hit, ``"duplicate"`` for a second mark on one, None for a false positive."""


def froc_curve(
    marks: Sequence[Mark], nodules: int, scans: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False positives per scan, sensitivity, and the threshold of each point, threshold falling.

    Marks of equal probability are taken together (one threshold).

    >>> marks = [Mark("a", 0.9, "a/0"), Mark("a", 0.8, None), Mark("b", 0.7, "b/0"),
    ...          Mark("b", 0.6, None), Mark("b", 0.5, None)]
    >>> fp, sens, thr = froc_curve(marks, nodules=3, scans=2)
    >>> fp.tolist(), sens.round(2).tolist()
    ([0.0, 0.5, 0.5, 1.0, 1.5], [0.33, 0.33, 0.67, 0.67, 0.67])
    """
    if nodules < 1 or scans < 1:
        raise ValueError(
            f"Argument 'nodules' and 'scans' must be at least 1, not {nodules}, {scans}"
        )
    ordered = sorted((m for m in marks if m.nodule != "duplicate"), key=lambda m: -m.probability)
    fps, found, points = 0, set(), []
    for n, mark in enumerate(ordered):
        if mark.nodule is None:
            fps += 1
        else:
            found.add(mark.nodule)
        if n + 1 == len(ordered) or ordered[n + 1].probability != mark.probability:
            points.append((fps / scans, len(found) / nodules, mark.probability))
    if not points:
        return np.zeros(1), np.zeros(1), np.ones(1)
    fp, sensitivity, threshold = (np.array(v, dtype=float) for v in zip(*points, strict=True))
    return fp, sensitivity, threshold


def sensitivity_at(
    marks: Sequence[Mark], nodules: int, scans: int, rates: Sequence[float] = (1.0, 2.0, 4.0)
) -> dict[float, tuple[float, float]]:
    """Sensitivity at each rate of false positives per scan, and the threshold that gives it.

    The most sensitive point of the curve with no more false positives per
    scan than the rate (the threshold 1.0 and sensitivity 0 when none).

    >>> marks = [Mark("a", 0.9, "a/0"), Mark("a", 0.8, None), Mark("b", 0.7, "b/0"),
    ...          Mark("b", 0.6, None), Mark("b", 0.5, None)]
    >>> sensitivity_at(marks, 3, 2, rates=(0.5, 1.0))
    {0.5: (0.6667, 0.7), 1.0: (0.6667, 0.7)}
    """
    fp, sensitivity, threshold = froc_curve(marks, nodules, scans)
    out = {}
    for rate in rates:
        ok = np.flatnonzero(fp <= rate + 1e-9)
        if not len(ok):
            out[float(rate)] = (0.0, 1.0)
            continue
        best = ok[np.argmax(sensitivity[ok])]
        out[float(rate)] = (round(float(sensitivity[best]), 4), float(threshold[best]))
    return out
