"""nbgrader's configuration for the dicomteach course (read by every nbgrader command run here).

The course folder is this one: ``source/`` holds the assignments as the
instructor writes them, ``references/`` their answer keys, which never go
into a release (docs/decisions.md, decisions 4 and 28). nbgrader makes
``release/``, ``submitted/``, ``autograded/`` and ``feedback/`` here, and the
gradebook ``gradebook.db``; the exchange (where learners fetch and submit) is
``exchange/`` unless ``DICOMTEACH_EXCHANGE`` names a shared folder.
"""

import os
from pathlib import Path

COURSE = Path(__file__).resolve().parent

c = get_config()  # noqa: F821 - nbgrader (traitlets) defines it when it reads this file

c.CourseDirectory.course_id = os.environ.get("DICOMTEACH_COURSE", "dicomteach")
c.CourseDirectory.root = str(COURSE)
# the default SQLite gradebook, in the course folder (an absolute URL: nbgrader runs from anywhere)
c.CourseDirectory.db_url = f"sqlite:///{COURSE / 'gradebook.db'}"
# nbgrader's default exchange (/usr/local/share/nbgrader/exchange) does not exist on a fresh machine
c.Exchange.root = os.environ.get("DICOMTEACH_EXCHANGE", str(COURSE / "exchange"))
# answer files (.npz, .json) travel with the notebook; nothing an answer needs is larger than 100 MB
c.CourseDirectory.max_file_size = 100_000
# a cell that loads a study and grades a delineation takes seconds, not minutes
c.Execute.timeout = 300
# A graded cell a learner edited is put back as recorded (nbgrader does that), and so is one
# they deleted or unmarked (nbgrader leaves it out): each then grades the answer file as handed
# in, and says in the feedback that it was put back (docs/decisions.md, decision 32).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "dicomteach.course.cells.RestoreGradedCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# The kernels nbgrader starts to autograde inherit this: grade("name") finds the answer keys
# here, and only here (docs/decisions.md, decision 28).
os.environ["DICOMTEACH_REFERENCES"] = str(COURSE / "references")
