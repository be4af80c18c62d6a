"""Graded cells a learner edited or deleted are put back before nbgrader autogrades.

nbgrader already undoes edits to a locked cell: before a submission runs, its
``OverwriteCells`` puts back the source the gradebook recorded when the
assignment was generated. A *deleted* graded cell it leaves missing: the cell
then scores nothing and the formgrader lists the submission as needing manual
grading for good (nbgrader #1682). Its ``add_missing_cells`` option puts such
cells back only after a cell that is itself graded or answered, and in
nbgrader 0.9.6 the autograde of the submission fails (a ``KeyError``) when
the cell before is a read-only cell, as an activity's is: our assignments
show the activity in a read-only cell, then grade it.

:class:`RestoreGradedCells` is that preprocessor with the placement made
robust: a missing graded cell goes back after the nearest cell before it that
the submission still holds (else before the nearest after it, else at the
end). A graded cell is also treated as missing when the learner stripped or
changed its nbgrader marks (it is then no longer graded). Each cell put back,
and each graded cell whose edits were undone, starts with a comment the
learner reads in the feedback. The ``grade("name")`` call in it grades the
answer file as it was handed in: a learner is never scored on a tampered cell,
and never loses the points of their answer because a cell went missing
(docs/decisions.md, decision 32).

``graders/nbgrader_config.py`` puts it in place of ``OverwriteCells`` in
nbgrader's ``Autograde.sanitize_preprocessors``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from nbgrader import utils
from nbgrader.preprocessors import OverwriteCells
from traitlets import Bool, Unicode, default

__all__ = ["EDITED_NOTICE", "MISSING_NOTICE", "RestoreGradedCells"]

MISSING_NOTICE = (
    "This graded cell was missing from your submission; the grader put it back, and it "
    "grades your answer file as you handed it in.\n\n"
)
"""The comment opening a graded cell put back (one line: nbgrader comments out only the first)."""

EDITED_NOTICE = (
    "# This graded cell was changed in your submission; the grader undid the change, and it "
    "grades your answer file as you handed it in.\n"
)
"""The comment opening a graded code cell whose edits were undone."""


class RestoreGradedCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` that also puts back every graded cell a learner deleted."""

    add_missing_cells = Bool(True, help="Put missing graded cells back (always, here).").tag(
        config=True
    )

    @default("missing_cell_notification")
    def _missing_notice(self) -> str:
        return MISSING_NOTICE

    announce_undone_edits = Bool(
        True, help="Open a graded code cell whose edits were undone with a comment saying so."
    ).tag(config=True)

    edited_cell_notification = Unicode(EDITED_NOTICE).tag(config=True)

    def preprocess_cell(self, cell: Any, resources: Any, cell_index: int) -> tuple[Any, Any]:
        recorded = self._recorded(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if recorded is None:
            return super().preprocess_cell(cell, resources, cell_index)
        if not _still_graded(cell):
            # a graded cell without its marks is not graded: its marks go, and the cell is
            # put back beside it as recorded (add_missing_grade_cells)
            self.log.warning("Cell %s lost its grading marks: putting it back", recorded.name)
            del cell.metadata["nbgrader"]
            return cell, resources
        edited = utils.compute_checksum(cell) != recorded.checksum
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if edited and self.announce_undone_edits and cell.cell_type == "code":
            cell.source = self.edited_cell_notification + cell.source
        return cell, resources

    def _recorded(self, grade_id: str | None) -> Any:
        """The gradebook's source of a graded cell that is not an answer cell, or ``None``."""
        from nbgrader.api import MissingEntry

        if not grade_id:
            return None
        where = (grade_id, self.notebook_id, self.assignment_id)
        try:
            self.gradebook.find_grade_cell(*where)
            source = self.gradebook.find_source_cell(*where)
        except MissingEntry:
            return None
        try:
            self.gradebook.find_solution_cell(*where)
        except MissingEntry:
            return source
        return None  # a graded answer: the learner's to edit

    def add_missing_grade_cells(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        recorded = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [c.name for c in recorded.source_cells]
        grade_cells = {c.name: c for c in recorded.grade_cells}
        solutions = {c.name for c in recorded.solution_cells}

        def present() -> dict[str, int]:
            return {
                cell.metadata["nbgrader"]["grade_id"]: i
                for i, cell in enumerate(nb.cells)
                if cell.metadata.get("nbgrader", {}).get("grade_id")
            }

        for name in order:
            if name not in grade_cells or name in present():
                continue
            self.log.warning("Graded cell %s is missing from the submission: putting it back", name)
            source = next(c for c in recorded.source_cells if c.name == name)
            cell = self.missing_cell_transform(
                source, grade_cells[name].max_score, is_solution=name in solutions
            )
            # nbformat 4.5 wants an id on every cell; one derived from the name is stable
            cell["id"] = "restored-" + hashlib.sha1(name.encode()).hexdigest()[:12]
            nb.cells.insert(_place(order, order.index(name), present(), len(nb.cells)), cell)
        return nb, resources


def _still_graded(cell: Any) -> bool:
    """Whether a cell carrying a graded cell's id is still marked as a graded (test) cell."""
    marks = cell.metadata.get("nbgrader", {})
    return bool(marks.get("grade")) and not marks.get("solution") and not marks.get("task")


def _place(order: list[str], k: int, present: dict[str, int], end: int) -> int:
    """Where the ``k``-th recorded cell goes back: after the nearest earlier cell still
    present, else before the nearest later one, else at the end."""
    for name in reversed(order[:k]):
        if name in present:
            return present[name] + 1
    for name in order[k + 1 :]:
        if name in present:
            return present[name]
    return end
