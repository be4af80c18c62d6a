"""Activities: a question on a study, the learner's answer file, and its grader, in one object.

:class:`Hotspot` (click the findings), :class:`LabelDrop` (name the anatomy),
:class:`Delineate` (outline structures), :class:`MultipleChoice` (one answer,
beside the image), :class:`CompareFindings` (what changed between a
baseline and its follow-up, the lesion measured on both), :class:`SecondReader`
(read, then see the AI's marks and revise), :class:`CritiqueAI` (say which
of the AI's marks are findings) and :class:`Worklist` (triage several studies,
in the AI's order or as they came) are built in a few lines of Python or read from a small YAML
file with :meth:`Activity.load` (format: :mod:`dicomteach.activities.spec`).
Each shows the widget of :mod:`dicomteach.widgets` the learner answers in,
which saves the answer beside the notebook on every change, and grades it
with :mod:`dicomteach.grading` without ever raising. In an nbgrader
assignment the autograder cell calls :func:`grade` with the activity's name
only; the key is found through the course (docs/decisions.md, decision 28).

This layer sits above ``widgets`` and ``grading`` and may use both; nothing
below imports it (docs/decisions.md, decision 18).
"""

from __future__ import annotations

from dicomteach.activities.ai_reading import CritiqueAI, SecondReader, SecondReaderOutline
from dicomteach.activities.autograde import REFERENCES_ENV, GradeResult, grade, reference_file
from dicomteach.activities.base import Activity
from dicomteach.activities.choice import MultipleChoice
from dicomteach.activities.compare import CompareFindings
from dicomteach.activities.delineate import Delineate
from dicomteach.activities.questions import Hotspot, LabelDrop
from dicomteach.activities.spec import ActivityError, Location
from dicomteach.activities.worklist import Worklist

__all__ = [
    "REFERENCES_ENV",
    "Activity",
    "ActivityError",
    "CompareFindings",
    "CritiqueAI",
    "Delineate",
    "GradeResult",
    "Hotspot",
    "LabelDrop",
    "Location",
    "MultipleChoice",
    "SecondReader",
    "SecondReaderOutline",
    "Worklist",
    "grade",
    "reference_file",
]
