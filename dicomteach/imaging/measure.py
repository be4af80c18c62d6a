"""Measurements a viewer shows: ruler length and ellipse statistics, in mm.

Coordinates are the displayed image's continuous coordinates, as the browser
reports them: ``(y, x)`` with pixel ``(row, col)`` covering
``[row, row + 1) × [col, col + 1)``, so a pixel's centre is
``(row + 0.5, col + 0.5)``. The browser's Viewer computes the same numbers
with the same rules (``widgets/static/core/measurements.js``); tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EllipseStats", "ellipse_mask", "ellipse_stats", "ruler_length_mm"]


def ruler_length_mm(p0, p1, row_spacing: float, col_spacing: float) -> float:
    """Distance in mm between two ``(y, x)`` points of an image with the given spacing.

    >>> ruler_length_mm((0, 0), (3, 4), 1.0, 1.0)
    5.0
    >>> round(ruler_length_mm((0, 0), (10, 0), 2.5, 0.7), 6)
    25.0
    """
    dy = (float(p1[0]) - float(p0[0])) * row_spacing
    dx = (float(p1[1]) - float(p0[1])) * col_spacing
    return float(np.hypot(dx, dy))


def ellipse_mask(shape: tuple[int, int], p0, p1) -> np.ndarray:
    """Pixels whose centre lies inside the ellipse inscribed in the box from ``p0`` to ``p1``.

    >>> ellipse_mask((5, 5), (0, 0), (5, 5)).astype(int)
    array([[0, 1, 1, 1, 0],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [0, 1, 1, 1, 0]])
    """
    cy, cx = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
    b, a = abs(p1[0] - p0[0]) / 2, abs(p1[1] - p0[1]) / 2
    if a <= 0 or b <= 0:
        return np.zeros(shape, bool)
    rows = (np.arange(shape[0]) + 0.5 - cy) / b
    cols = (np.arange(shape[1]) + 0.5 - cx) / a
    return rows[:, None] ** 2 + cols[None, :] ** 2 <= 1


@dataclass(frozen=True)
class EllipseStats:
    """Mean and SD (population) of the values inside, pixel count, ellipse area in mm²."""

    mean: float
    sd: float
    n: int
    area_mm2: float


def ellipse_stats(
    values: np.ndarray, p0, p1, row_spacing: float, col_spacing: float
) -> EllipseStats:
    """Statistics of a 2-D image of modality values inside an ellipse ROI.

    The area is the ellipse's (π·a·b in mm²), as OHIF and Slicer report it,
    not the pixel count times the pixel area.

    >>> s = ellipse_stats(np.arange(25.0).reshape(5, 5), (0, 0), (5, 5), 1.0, 1.0)
    >>> s.mean, s.n, round(s.area_mm2, 3)
    (12.0, 21, 19.635)
    """
    values = np.asarray(values, dtype=np.float64)
    inside = values[ellipse_mask(values.shape, p0, p1)]
    a = abs(p1[1] - p0[1]) / 2 * col_spacing
    b = abs(p1[0] - p0[0]) / 2 * row_spacing
    n = int(inside.size)
    mean = float(inside.mean()) if n else float("nan")
    sd = float(inside.std()) if n else float("nan")
    return EllipseStats(mean, sd, n, float(np.pi * a * b))
