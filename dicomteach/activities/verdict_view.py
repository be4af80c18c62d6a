"""What the widgets of the AI activities share: a row's verdict buttons and the line under them.

:class:`~dicomteach.activities.critique_view.CritiqueQuestion` (true or false
positive, per AI mark) and
:class:`~dicomteach.activities.worklist_view.WorklistQuestion` (abnormal or
normal, per case) give each row the same two-button verdict and say what
became of the answer file in the same small line; the authoring app's
worklist editor says each case's truth with the same buttons.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets

__all__ = ["say", "status_line", "verdict_buttons"]


def verdict_buttons(
    choices: Sequence[tuple[str, str]], css_class: str, *, disabled: bool = False
) -> ipywidgets.ToggleButtons:
    """A row's verdict: one button per ``(caption, value)``, none pressed yet.

    >>> buttons = verdict_buttons([("Abnormal", "abnormal"), ("Normal", "normal")], "dt-v")
    >>> buttons.value is None, buttons._options_labels, buttons._dom_classes
    (True, ('Abnormal', 'Normal'), ('dt-v',))
    """
    buttons = ipywidgets.ToggleButtons(
        options=list(choices), value=None, disabled=disabled, style={"button_width": "auto"}
    )
    buttons.add_class(css_class)
    return buttons


def status_line(css_class: str) -> ipywidgets.HTML:
    """The small line under the rows that says where the answer went."""
    line = ipywidgets.HTML()
    line.add_class(css_class)
    return line


def say(line: ipywidgets.HTML, text: str, error: bool = False) -> None:
    """Write ``text`` into a :func:`status_line` (in red when it is an error)."""
    colour = "#b00020" if error else "inherit"
    line.value = f'<small style="color:{colour}">{html.escape(text)}</small>'
