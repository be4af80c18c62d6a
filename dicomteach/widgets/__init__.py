"""anywidget classes for notebooks and Voilà apps; their ES modules ship in ``static/``.

Pixels go to the browser once, as stored values; windowing, inversion and
drawing happen there (docs/decisions.md, decisions 1 and 2). Nothing here loads from a CDN.
"""

from __future__ import annotations

import importlib

__all__ = [
    "AnswerFileMovedWarning",
    "CheckAnswer",
    "Compare",
    "Delineator",
    "Hotspot",
    "LabelDrop",
    "View3D",
    "Viewer",
]

_HOMES = {
    "AnswerFileMovedWarning": "_answers",
    "CheckAnswer": "check",
    "Compare": "compare",
    "Delineator": "delineator",
    "Hotspot": "questions",
    "LabelDrop": "questions",
    "View3D": "view3d",
    "Viewer": "viewer",
}
"""The module each widget lives in, imported on first use: a widget's class joins its ES
modules when it is made, and View3D brings nibabel and ipyniivue (0.4 s), which a process
that only reads answer files (an autograde, ``dicomteach grade-class``) never needs."""


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
