"""anywidget classes for notebooks and Voilà apps; their ES modules ship in ``static/``.

Pixels go to the browser once, as stored values; windowing, inversion and
drawing happen there (docs/decisions.md, decisions 1 and 2). Nothing here loads from a CDN.
"""

from __future__ import annotations

from dicomteach.widgets._answers import AnswerFileMovedWarning
from dicomteach.widgets.check import CheckAnswer
from dicomteach.widgets.compare import Compare
from dicomteach.widgets.delineator import Delineator
from dicomteach.widgets.questions import Hotspot, LabelDrop
from dicomteach.widgets.viewer import Viewer

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


def __getattr__(name: str):
    # View3D brings nibabel and ipyniivue (0.4 s): loaded by the lessons that show one only
    if name == "View3D":
        from dicomteach.widgets.view3d import View3D

        return View3D
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
