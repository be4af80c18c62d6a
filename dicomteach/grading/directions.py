"""Naming a direction in the learner's terms: anatomical (from LPS) or, failing that, on screen.

Patient coordinates are DICOM's LPS (PS3.3 C.7.6.2.1.1): +x towards the
patient's left, +y posterior, +z superior. A ``direction`` matrix is a
:class:`~dicomteach.io.Volume`'s: row ``k`` is the LPS unit vector along array
axis ``k`` (``(slice, row, column)``). Without one, directions are named as the
image is displayed: rows run down the screen, columns to the right, slices
towards higher slice numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Side", "as_direction", "describe", "edge_letters", "relation", "sides"]


@dataclass(frozen=True)
class Side:
    """One named direction: as a margin ("the posterior margin") and as a way to move."""

    name: str
    """Adjective, as in "the posterior margin"."""
    towards: str
    """Adverb, as in "extend your outline posteriorly"."""
    relative: str
    """Relation, as in "it lies posterior of your click" ("to the left of", "below")."""


_ANATOMY = {
    (0, 1): Side("left", "towards the patient's left", "to the patient's left"),
    (0, -1): Side("right", "towards the patient's right", "to the patient's right"),
    (1, 1): Side("posterior", "posteriorly", "posterior"),
    (1, -1): Side("anterior", "anteriorly", "anterior"),
    (2, 1): Side("superior", "superiorly", "superior"),
    (2, -1): Side("inferior", "inferiorly", "inferior"),
}

_SCREEN = {
    (0, 1): Side("higher-slice", "towards higher slice numbers", "on higher slices"),
    (0, -1): Side("lower-slice", "towards lower slice numbers", "on lower slices"),
    (1, 1): Side("lower", "downwards (on screen)", "below"),
    (1, -1): Side("upper", "upwards (on screen)", "above"),
    (2, 1): Side("right-hand", "to the right (on screen)", "to the right"),
    (2, -1): Side("left-hand", "to the left (on screen)", "to the left"),
}

#: Patient-axis letters drawn at the edges of the feedback images (+ then − direction).
LETTERS = {0: ("L", "R"), 1: ("P", "A"), 2: ("S", "I")}


def as_direction(direction: object) -> np.ndarray | None:
    """A 3×3 float direction matrix, or None when ``direction`` is None or not usable."""
    if direction is None:
        return None
    try:
        matrix = np.asarray(direction, dtype=float)
    except (TypeError, ValueError):
        return None
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        return None
    if abs(abs(np.linalg.det(matrix)) - 1) > 0.05:
        return None
    return matrix


def sides(vector_index_mm: np.ndarray, direction: np.ndarray | None) -> list[Side]:
    """The one or two named directions a vector points to, the stronger first.

    ``vector_index_mm`` is a displacement in mm along the array axes
    ``(slice, row, column)``. A second direction is named when it is at least
    half as strong as the first ("posterior", "left"). An empty list for a
    vector of length 0.

    Examples
    --------
    >>> axial = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])  # slices S, rows P, columns L
    >>> [s.name for s in sides(np.array([0, 3.0, -1.0]), axial)]
    ['posterior']
    >>> [s.name for s in sides(np.array([0, -3.0, -2.0]), axial)]
    ['anterior', 'right']
    >>> [s.name for s in sides(np.array([0, 3.0, 0]), None)]
    ['lower']
    """
    vector = np.asarray(vector_index_mm, dtype=float)
    if direction is not None:
        vector, names = vector @ direction, _ANATOMY
    else:
        names = _SCREEN
    strength = np.abs(vector)
    if not np.any(strength > 1e-9):
        return []
    order = np.argsort(-strength, kind="stable")
    chosen = [order[0]]
    if strength[order[1]] >= 0.5 * strength[order[0]]:
        chosen.append(order[1])
    return [names[(int(axis), 1 if vector[axis] > 0 else -1)] for axis in chosen]


def describe(found: list[Side]) -> tuple[str, str]:
    """("posterior and left", "posteriorly and towards the patient's left") for a list of sides."""
    if not found:
        return "", ""
    return " and ".join(s.name for s in found), " and ".join(s.towards for s in found)


def relation(found: list[Side], of: str) -> str:
    """Where something lies relative to ``of``: "posterior and to the patient's left of your click".

    Examples
    --------
    >>> relation(sides(np.array([0, 3.0, 0]), None), "your click")
    'below your click (on screen)'
    """
    if not found:
        return ""
    screen = any(s in _SCREEN.values() for s in found)
    words = " and ".join(s.relative for s in found)
    joined = f"{words} {of}" if words.endswith(("below", "above")) else f"{words} of {of}"
    return joined + (" (on screen)" if screen else "")


def edge_letters(direction: np.ndarray | None) -> dict[str, str]:
    """Letters for the top, bottom, left and right edges of a slice as displayed.

    The top of the image is the −row direction, the left edge the −column
    direction; each is labelled by its strongest patient axis, as viewers do.

    Examples
    --------
    >>> axial = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])
    >>> edge_letters(axial)
    {'top': 'A', 'bottom': 'P', 'left': 'R', 'right': 'L'}
    """
    if direction is None:
        return {}

    def letter(vector: np.ndarray) -> str:
        axis = int(np.argmax(np.abs(vector)))
        return LETTERS[axis][0 if vector[axis] > 0 else 1]

    return {
        "top": letter(-direction[1]),
        "bottom": letter(direction[1]),
        "left": letter(-direction[2]),
        "right": letter(direction[2]),
    }
