"""The course around the activities: an nbgrader course folder graded as a class.

:func:`grade_class` autogrades every submission of an assignment with nbgrader
and grades the answer files again, outside the learners' kernels, into one
row per learner, activity and structure (``dicomteach grade-class``). The
course folder is the one ``graders/`` shows: ``nbgrader_config.py``,
``source/``, ``references/`` (docs/decisions.md, decision 28).

:func:`follow_the_ai` reads the class's second readings (an AI's marks shown
after their own reading) and says who changed their reading to agree with the
AI where it was wrong: automation bias, per learner and per case, as a picture.

Activities are authored into it without code by :mod:`dicomteach.course.authoring`
(the model) and :mod:`dicomteach.course.author_app` (the app ``dicomteach author``
serves): the key only under ``references/`` (decision 31).
"""

from __future__ import annotations

from dicomteach.course.following import Following, follow_the_ai
from dicomteach.course.grade_class import CSV_COLUMNS, grade_class, write_csv

__all__ = ["CSV_COLUMNS", "Following", "follow_the_ai", "grade_class", "write_csv"]
