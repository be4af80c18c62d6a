"""When two delineations lie on one image grid: one tolerance for every comparison.

``dicomteach score`` (:func:`dicomteach.roi.check_same_grid`), grading
(:func:`dicomteach.grading.grade_delineation`) and the Delineator's reload of
its answer file all ask this module, so a pair of files is on one grid for all
of them or for none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["GRID_TOLERANCE_MM", "same_origin", "same_spacing"]

GRID_TOLERANCE_MM = 1e-3
"""Spacings or origins closer than this (mm) are one grid.

DICOM writes spacings and positions as decimal strings of at most 16
characters (PS3.5 6.2, DS), so two writers round the same grid differently;
a micrometre is far below any voxel a learner draws on."""


def same_spacing(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when both give the same number of axes, each within :data:`GRID_TOLERANCE_MM`.

    >>> same_spacing((2.0, 0.9766, 0.9766), (2.0, 0.97656, 0.97656))
    True
    >>> same_spacing((2.0, 1.0), (2.0, 1.002)), same_spacing((1.0, 1.0), (1.0, 1.0, 1.0))
    (False, False)
    """
    return len(a) == len(b) and bool(
        np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=0, atol=GRID_TOLERANCE_MM)
    )


def same_origin(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """True when either is unknown (None), or both lie within :data:`GRID_TOLERANCE_MM` per axis.

    >>> same_origin((0.0, -120.5, 30.0), (0.0004, -120.5, 30.0)), same_origin(None, (1.0, 2.0, 3.0))
    (True, True)
    """
    return a is None or b is None or same_spacing(a, b)
