"""Argument checks shared by the scoring functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_mask(name: str, array: object) -> np.ndarray:
    """`array` as a boolean 2D/3D array; 0/1 integers are accepted."""
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(f"Argument '{name}' must be a 2D or 3D mask, not {array.ndim}D.")
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "uif" or np.any((array != 0) & (array != 1)):
        raise ValueError(
            f"Argument '{name}' must be binary (bool, or numbers that are all 0 or 1); "
            "use score_structures for label maps."
        )
    return array.astype(bool)


def check_pair(reference: np.ndarray, prediction: np.ndarray) -> None:
    if reference.shape != prediction.shape:
        raise ValueError(
            f"Arguments 'reference' and 'prediction' must have the same shape, "
            f"not {reference.shape} and {prediction.shape}."
        )


def as_spacing(spacing_mm: Sequence[float], ndim: int) -> tuple[float, ...]:
    try:
        spacing = tuple(float(s) for s in spacing_mm)
    except TypeError:
        raise ValueError(f"Argument 'spacing_mm' must be a sequence of {ndim} floats.") from None
    if len(spacing) != ndim:
        raise ValueError(
            f"Argument 'spacing_mm' must have length {ndim} (one per mask axis), not {len(spacing)}."
        )
    if not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"Argument 'spacing_mm' must hold positive finite sizes, not {spacing}.")
    return spacing


def as_tolerance(tolerance_mm: float) -> float:
    tolerance = float(tolerance_mm)
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(
            f"Argument 'tolerance_mm' must be a finite number ≥ 0, not {tolerance_mm}."
        )
    return tolerance
