"""CheckAnswer: the "Check my answer" button that grades a question without running a cell.

The learner's gesture arrives as a state update (``set_state``, what ipywidgets
calls when the browser sends one) and the button as its click handler, so these
tests take the path a Voilà app takes.
"""

from __future__ import annotations

import numpy as np
import pytest

from dicomteach.grading import grade_click, grade_delineation
from dicomteach.io.volume import Volume
from dicomteach.widgets import CheckAnswer, Delineator, Hotspot


@pytest.fixture
def volume():
    return Volume(
        np.zeros((4, 24, 24), np.int16),
        (2.0, 1.0, 1.0),
        (0.0, 0.0, 0.0),
        np.eye(3)[[2, 1, 0]],
        modality="CT",
    )


@pytest.fixture
def nodule(volume):
    mask = np.zeros(volume.pixels.shape, bool)
    mask[1:3, 8:12, 8:12] = True
    return mask


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def click(widget, *points):
    widget.set_state({"marks": [{"image": list(p), "label": ""} for p in points]})


def test_the_button_waits_for_an_answer_then_shows_the_grade(volume, nodule, here):
    spot = Hotspot(volume, prompt="Click the nodule", answer="q.json")
    panel = CheckAnswer(spot, lambda: grade_click(spot.answer_path, nodule, volume.spacing))
    assert panel.button.disabled and "Answer on the image first" in panel.status.value
    click(spot, (1, 10, 10))
    assert not panel.button.disabled
    panel.button.click()
    assert panel.result.points == 1.0
    assert "1 / 1 points" in panel.feedback.value
    assert panel.button.description == "Check again"


def test_a_changed_answer_says_the_feedback_is_stale_and_a_new_check_follows_it(
    volume, nodule, here
):
    spot = Hotspot(volume, prompt="Click the nodule", answer="q.json")
    panel = CheckAnswer(spot, lambda: grade_click(spot.answer_path, nodule, volume.spacing))
    click(spot, (1, 10, 10))
    panel.button.click()
    click(spot, (1, 20, 20))  # 8 mm away from the nodule, more than the 5 mm allowed
    assert "changed since it was checked" in panel.status.value
    panel.button.click()
    assert panel.result.points == 0.0 and "0 / 1 points" in panel.feedback.value


def test_the_answer_is_revealed_once_and_only_after_a_check(volume, nodule, here):
    shown = []
    spot = Hotspot(volume, prompt="Click the nodule", answer="q.json")
    panel = CheckAnswer(
        spot,
        lambda: grade_click(spot.answer_path, nodule, volume.spacing),
        reveal=lambda: shown.append(1) or "the reference outline",
    )
    panel.check()  # no answer yet: nothing graded, nothing revealed
    assert panel.result is None and not shown
    click(spot, (1, 10, 10))
    panel.check()
    panel.check()
    assert shown == [1]
    assert panel.answer.outputs[0]["data"]["text/plain"] == "'the reference outline'"


def test_a_grader_that_fails_gives_one_line_and_keeps_the_answer(volume, here):
    spot = Hotspot(volume, prompt="Click the nodule", answer="q.json")

    def broken():
        raise FileNotFoundError("graders/nodule.dcm is missing")

    panel = CheckAnswer(spot, broken)
    click(spot, (1, 10, 10))
    before = (here / "q.json").read_bytes()
    assert panel.check() is None
    assert "Could not check your answer: graders/nodule.dcm is missing" in panel.status.value
    assert (here / "q.json").read_bytes() == before and spot.answered


def test_a_delineation_is_checked_once_something_is_drawn(volume, nodule, here):
    pad = Delineator(volume, structures=["Nodule"], answer="mine.npz")
    panel = CheckAnswer(
        pad, lambda: grade_delineation(here / "mine.npz", nodule, 10, spacing_mm=volume.spacing)
    )
    assert panel.button.disabled
    labels = pad.labels.copy()
    labels[nodule] = 1
    pad.labels = labels
    assert not panel.button.disabled
    panel.check()
    assert panel.result.points == 10 and "10 / 10 points" in panel.feedback.value


def test_arguments_are_checked(volume, here):
    spot = Hotspot(volume, prompt="p", answer="q.json")
    with pytest.raises(ValueError, match="Argument 'grade' must be callable, not str"):
        CheckAnswer(spot, "grade")
