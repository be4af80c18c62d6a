"""Scores → points and feedback a learner can act on, for nbgrader and apps.

:func:`grade_delineation` grades a mask against a reference (linear partial
credit between a zero mark and a full mark, tied to an expert-vs-expert
baseline when there is one); :func:`grade_against_experts` against several
experts' outlines (their STAPLE consensus, full points inside their spread);
:func:`grade_click` grades clicks on findings,
:func:`grade_labels` labels dropped on structures, :func:`grade_followup` a
before/after reading (what changed, the lesion measured on both dates), and
:func:`grade_second_reading` and :func:`grade_critique` a reading made beside
an AI's marks (what the learner changed after seeing them, and which marks
are findings), :func:`grade_worklist` a triage worklist (misses, false
alarms, how soon the first positive was read). Each returns a
:class:`Feedback`: points, scores, text in the learner's terms (mm, slices
numbered from 1, anatomical directions) and PNG images. Graders never raise:
a bad or missing answer gets 0 points and a line saying why.

Feedback images show the reference outline: hand them back only after the
deadline (docs/decisions.md, decision 4 keeps the reference itself out of releases).
"""

from __future__ import annotations

from dicomteach.grading.ai_reading import (
    OtherMark,
    grade_critique,
    grade_second_outline,
    grade_second_reading,
)
from dicomteach.grading.analysis import Run, SliceErrors
from dicomteach.grading.delineation import (
    DEFAULT_FULL_MARKS,
    Marks,
    grade_delineation,
    partial_credit,
)
from dicomteach.grading.experts import PreparedExperts, grade_against_experts, prepare_experts
from dicomteach.grading.feedback import Feedback, Status
from dicomteach.grading.followup import Finding, grade_followup, recist_response
from dicomteach.grading.points import grade_click, grade_labels, point_distance
from dicomteach.grading.worklist import grade_worklist

__all__ = [
    "DEFAULT_FULL_MARKS",
    "Feedback",
    "Finding",
    "Marks",
    "OtherMark",
    "Run",
    "SliceErrors",
    "Status",
    "grade_against_experts",
    "prepare_experts",
    "PreparedExperts",
    "grade_click",
    "grade_critique",
    "grade_second_outline",
    "grade_second_reading",
    "grade_delineation",
    "grade_followup",
    "grade_labels",
    "grade_worklist",
    "partial_credit",
    "point_distance",
    "recist_response",
]
