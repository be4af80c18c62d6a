"""Every lesson in notebooks/ as a learner opens it: in JupyterLab and as a Voilà app.

Each notebook found in notebooks/ (a lesson added later is checked too) is
copied into a fresh folder, opened in JupyterLab with the settings the project
ships, and run whole; then as an app. Checked as a learner would notice it:
every cell finishes without an error, no uncaught page error or console error,
no news pop-up over the lesson, and every widget draws a picture (not a blank
or one-colour area), looked at after scrolling to it, since Lab renders long
notebooks windowed. Screenshots go to test-artifacts/lesson-*.png.

Every lesson's activities are then answered as a learner does it: one activity
per lesson with the mouse, checked with its button (feedback without running a
cell), and the answer is found again, and graded the same, after a kernel
restart (Lab) and after a reload (Voilà). Lessons 04 and 07 have tests of their
own below; the others share FIRST_ANSWERS.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import (
    drag,
    kernel_print,
    new_page,
    open_and_run,
    pixel_centre,
    screenshot_on_failure,
)

pytestmark = pytest.mark.browser

LESSONS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# Every code cell has run (an execution count, no [*]) and the kernel is idle.
ALL_RAN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content) return false;
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  if (!indicator || indicator.dataset.status !== 'idle') return false;
  return panel.content.widgets.every(
    (cell) => cell.model.type !== 'code' || cell.model.executionCount !== null
  );
}"""

# Per code cell: its index, whether an output is an error, whether it holds a widget.
CELL_SUMMARY = """(mime) => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets;
  return cells.map((cell, index) => {
    if (cell.model.type !== 'code') return null;
    const outputs = cell.model.outputs.toJSON();
    return {
      index,
      errors: outputs.filter((o) => o.output_type === 'error').map((o) => o.ename + ': ' + o.evalue),
      widget: outputs.some((o) => o.data && mime in o.data),
    };
  }).filter((c) => c !== null);
}"""

# Scroll cell `index` into view and mark its node: Lab keeps only the cells near the
# view in the page, so the n-th cell element is not the n-th cell.
SCROLL_TO_CELL = """async (index) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'start');
  for (const node of document.querySelectorAll('[data-dt-checking]')) {
    delete node.dataset.dtChecking;
  }
  notebook.widgets[index].node.dataset.dtChecking = '1';
}"""

RESTART_AND_RUN_ALL = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.sessionContext.restartKernel();
  await panel.sessionContext.ready;
  for (const cell of panel.content.widgets) {
    if (cell.model.type === 'code') cell.model.sharedModel.execution_count = null;
  }
  window.jupyterapp.commands.execute('notebook:run-all-cells');
}"""


class Problems:
    """Uncaught page errors, console errors and failed requests, collected while the page lives."""

    #: anywidget rejects a model whose module took over two seconds to load (a page busy
    #: after a kernel restart, on two loaded cores) and then throws on each message that
    #: came meanwhile; our widgets hear their kernel again and ask for their whole state
    #: (docs/upstream.md, tests/browser/test_busy_page.py), and every widget is still
    #: checked as drawn and answered below, so only this one message is let pass.
    UPSTREAM = ("[anywidget] Failed to initialize model.",)

    def __init__(self, page) -> None:
        self.seen: list[str] = []
        page.on(
            "pageerror",
            lambda error: (
                None if str(error) in self.UPSTREAM else self.seen.append(f"page error: {error}")
            ),
        )
        page.on(
            "response",
            lambda r: (
                self.seen.append(f"HTTP {r.status}: {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        page.on(
            "console",
            lambda msg: (
                self.seen.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )


def _picture(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)


def _assert_drawn(element, what: str, path: Path) -> None:
    """The element shows a picture: a range of greys over a good part of it, not one colour."""
    deadline = time.monotonic() + 60
    while True:
        image = _picture(element.screenshot())
        spread = np.percentile(image, 95) - np.percentile(image, 5)
        if spread > 40 or time.monotonic() > deadline:
            break
        element.page.wait_for_timeout(250)
    Image.fromarray(image.astype(np.uint8)).save(path)
    assert spread > 40, f"{what} looks blank (grey spread {spread:.0f}); see {path.name}"


def _wait_all_ran(page, shot: Path, timeout_s: float = 240) -> None:
    with screenshot_on_failure(page, shot):
        page.wait_for_function(ALL_RAN, timeout=timeout_s * 1000, polling=500)


def _check_widgets_in_lab(page, name: str, artifacts: Path) -> int:
    """Scroll to each widget output, check what it draws; returns how many were checked."""
    cells = page.evaluate(CELL_SUMMARY, WIDGET_MIME)
    errors = [e for c in cells for e in c["errors"]]
    assert not errors, f"{name}: cells ended in errors: {errors}"
    checked = 0
    for cell in (c for c in cells if c["widget"]):
        page.evaluate(SCROLL_TO_CELL, cell["index"])
        node = page.locator("[data-dt-checking='1']")
        output = node.locator(".jp-OutputArea-output").last
        what = f"{name} cell {cell['index'] + 1}"
        shot = artifacts / f"lesson-{Path(name).stem}-cell-{cell['index'] + 1}-timeout.png"
        with screenshot_on_failure(page, shot):
            output.wait_for(timeout=60_000)
            checked += _check_widget_output(output, what, artifacts)
    return checked


def _check_widget_output(output, what: str, artifacts: Path) -> int:
    """Every viewport of ours (after it says it is rendered), or else every canvas, drawn."""
    stem = what.replace(" ", "-").replace(".ipynb", "")
    output.locator(".dt-choice, .dt-viewport, canvas, .dt-critique, .dt-worklist").first.wait_for(
        timeout=90_000
    )
    worklist = output.locator(".dt-worklist")
    if worklist.count() and not worklist.locator("canvas").count():
        # a worklist before a case is opened: a thumbnail a row, each with Open and a verdict
        thumbs = worklist.locator("img.dt-worklist-thumbnail")
        thumbs.first.wait_for(timeout=60_000)
        assert worklist.locator("button.dt-worklist-open").count() == thumbs.count()
        for i in range(thumbs.count()):
            _assert_drawn(
                thumbs.nth(i), f"{what}, case {i + 1}", artifacts / f"lesson-{stem}-case-{i}.png"
            )
        return thumbs.count()
    critique = output.locator(".dt-critique")
    if critique.count() and not critique.locator("canvas").count():
        # the AI's marks as tiles, each with its verdict buttons
        tiles = critique.locator(".dt-critique-mark img")
        tiles.first.wait_for(timeout=60_000)
        assert critique.locator(".dt-critique-verdict button").count() == 2 * tiles.count()
        for i in range(tiles.count()):
            _assert_drawn(
                tiles.nth(i), f"{what}, mark {i + 1}", artifacts / f"lesson-{stem}-mark-{i}.png"
            )
        return tiles.count()
    choice = output.locator(".dt-choice")
    if choice.count() and not choice.locator(".dt-viewport, canvas").count():
        # a question asked without an image: its options are what it draws
        options = choice.locator(".dt-choice-options .widget-radio-box label")
        options.first.wait_for(timeout=60_000)
        assert options.count() >= 2, f"{what}: a choice shows its options"
        assert all(options.nth(i).inner_text().strip() for i in range(options.count()))
        # text on a plain background: drawn when enough of it is ink
        path = artifacts / f"lesson-{stem}-choice.png"
        image = _picture(choice.screenshot())
        Image.fromarray(image.astype(np.uint8)).save(path)
        assert (image < 128).mean() > 0.005, f"{what}: the question shows no text; see {path.name}"
        return 1
    viewports = output.locator(".dt-viewport")
    if viewports.count():
        output.locator("canvas.dt-viewer-canvas[data-rendered='1']").first.wait_for(timeout=60_000)
        count = viewports.count()
        for i in range(count):
            viewport = viewports.nth(i)
            if not viewport.is_visible():  # e.g. the follow-up pane of a one-pane mode
                continue
            viewport.locator("canvas.dt-viewer-canvas[data-rendered='1']").wait_for(timeout=60_000)
            _assert_drawn(
                viewport, f"{what}, viewport {i + 1}", artifacts / f"lesson-{stem}-{i}.png"
            )
        return count
    canvases = output.locator("canvas")
    canvases.first.wait_for(timeout=90_000)
    for i in range(canvases.count()):
        _assert_drawn(
            canvases.nth(i), f"{what}, canvas {i + 1}", artifacts / f"lesson-{stem}-{i}.png"
        )
    return canvases.count()


# ---------------------------------------------------------------- one answer per lesson

# The index of the code cell whose source holds ``needle``.
FIND_CELL = """(needle) => window.jupyterapp.shell.currentWidget.content.widgets.findIndex(
  (cell) => cell.model.type === 'code' && cell.model.sharedModel.getSource().includes(needle)
)"""


# Options whose text does not fit on the row beside their button (it wraps out of the row
# and covers the button).
OPTION_CROWDED = """(labels) => labels.filter((label) => {
  const button = label.querySelector('input').getBoundingClientRect();
  return label.scrollHeight > label.clientHeight + 1 || button.width < 4;
}).map((label) => label.textContent)"""


@dataclass(frozen=True)
class FirstAnswer:
    """How a learner answers one activity of a lesson, and what they see then."""

    name: str
    """The activity's name: its answer file is ``name + suffix`` beside the notebook."""
    suffix: str
    prompt: str
    """Part of its prompt, to find it on the page."""
    answer: Callable
    """``answer(page, activity)``: answers with the mouse."""
    points: str
    """What the feedback says once checked (the same before and after the restart)."""
    loaded: str
    """What the activity says when it finds the answer again."""

    @property
    def file(self) -> str:
        return self.name + self.suffix


def _choose(option: str) -> Callable:
    def answer(page, activity) -> None:
        activity.locator(".dt-choice-options label").get_by_text(option, exact=True).click()

    return answer


def _click_the_corner(page, activity) -> None:
    """Click far from anything to find (the image's corner): twice, as the first click into
    the widget only gives it the keys."""
    canvas = activity.locator("canvas.dt-viewer-canvas[data-rendered='1']")
    canvas.wait_for(timeout=60_000)
    activity.locator(".dt-viewport").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    for _ in range(2):
        page.mouse.click(*pixel_centre(canvas, 10, 10))


def _click_the_corner_then_show_the_ai(page, activity) -> None:
    """A first reading (a click in the corner), then the AI's marks asked for."""
    _click_the_corner(page, activity)
    activity.locator(".dt-q-hotspot[data-marks='1']").wait_for(timeout=30_000)
    activity.locator("button.dt-second-reader-show").click()
    activity.locator(".dt-second-reader-status", has_text="cyan squares").wait_for(timeout=60_000)


def _open_the_first_case_and_call_it_abnormal(page, activity) -> None:
    """Open the worklist's first case (the viewer draws it), then the verdict Abnormal."""
    activity.locator("button.dt-worklist-open").first.click()
    activity.locator("canvas.dt-viewer-canvas[data-rendered='1']").wait_for(timeout=60_000)
    activity.locator(".dt-worklist-verdict").first.locator("button", has_text="Abnormal").click()


def _brush_the_middle(page, activity) -> None:
    """A short brush stroke across the middle of the image."""
    canvas = activity.locator("canvas.dt-viewer-canvas[data-rendered='1']")
    canvas.wait_for(timeout=60_000)
    activity.locator(".dt-viewport").scroll_into_view_if_needed()
    activity.locator("button[data-tool='brush']").click()
    rows, cols = canvas.evaluate("(c) => [c.height, c.width]")
    drag(
        page,
        pixel_centre(canvas, rows / 2, cols / 2 - 3),
        pixel_centre(canvas, rows / 2, cols / 2 + 3),
        steps=6,
    )


FIRST_ANSWERS = {
    "what-a-study-is": FirstAnswer(
        "monochrome1",
        ".json",
        "lowest value is shown white",
        _choose("The chest radiograph (AGFA)"),
        "1 / 1 points",
        "Your answer was loaded from monochrome1.json.",
    ),
    "windowing-ct": FirstAnswer(
        "granuloma",
        ".json",
        "Click the nodule that is calcified.",
        _click_the_corner,
        "0 / 1 points",
        "Your answer was loaded from granuloma.json (1 point",
    ),
    "reading-a-chest-radiograph": FirstAnswer(
        "cr-next",
        ".json",
        "right upper zone of a 66-year-old smoker",
        _choose("A CT of the chest"),
        "1 / 1 points",
        "Your answer was loaded from cr-next.json.",
    ),
    "delineating-a-tumour": FirstAnswer(
        "lesson-nodule",
        ".npz",
        "solid core and ground-glass halo",
        _brush_the_middle,
        "/ 10 points",
        "Loaded your delineation from lesson-nodule.npz",
    ),
    "reading-with-the-machine": FirstAnswer(
        "second-reader",
        ".json",
        "Click each nodule you see.",
        _click_the_corner_then_show_the_ai,
        "0 / 5 points",
        "Your answer was loaded from second-reader.json (1 point",
    ),
    "triage-and-two-dates": FirstAnswer(
        "triage-arrival",
        ".json",
        "Worklist 1, as the films arrived",
        _open_the_first_case_and_call_it_abnormal,
        "0 / 4 points",  # its first case is a normal film: a false alarm
        "Your answer was loaded from triage-arrival.json.",
    ),
}
"""Lessons answered by the generic tests; those with tests of their own are below."""
OWN_TESTS = ("following-a-lesion", "for-instructors")


def _first_answer(lesson: Path) -> FirstAnswer | None:
    found = [a for key, a in FIRST_ANSWERS.items() if key in lesson.stem]
    assert found or any(key in lesson.stem for key in OWN_TESTS), (
        f"{lesson.name}: say in FIRST_ANSWERS how a learner answers one of its activities"
    )
    return found[0] if found else None


def _answer_and_check(page, activity, spec: FirstAnswer, root: Path, shot: Path) -> str:
    """Answer with the mouse, see the file written, check; returns the feedback's text."""
    with screenshot_on_failure(page, shot):
        activity.scroll_into_view_if_needed()
        spec.answer(page, activity)
        assert _written(root / spec.file), f"{spec.file} is written beside the notebook"
        activity.locator("button.dt-check-button").click()
        feedback = activity.locator(".dt-check-feedback", has_text=spec.points)
        feedback.wait_for(timeout=60_000)
        return feedback.inner_text()


def _found_again(page, activity, spec: FirstAnswer, before: str, shot: Path) -> None:
    """The activity says it found the answer, shows it, and grades it as before."""
    with screenshot_on_failure(page, shot):
        activity.scroll_into_view_if_needed()
        activity.get_by_text(spec.loaded).first.wait_for(timeout=60_000)
        if activity.locator(".dt-choice-options").count():
            chosen = activity.locator(".dt-choice-options label:has(input:checked)")
            assert chosen.count() == 1, "the chosen option is ticked again"
            options = activity.locator(".dt-choice-options .widget-radio-box label")
            crowded = options.evaluate_all(OPTION_CROWDED)
            assert crowded == [], f"options whose text hides their button: {crowded}"
        elif activity.locator(".dt-q-hotspot").count():
            activity.locator(".dt-q-marker").first.wait_for(timeout=30_000)
        elif activity.locator(".dt-worklist").count():
            # the verdict given is shown pressed again
            activity.locator(".dt-worklist-verdict button.mod-active").first.wait_for(
                timeout=30_000
            )
        activity.locator("button.dt-check-button").click()
        feedback = activity.locator(".dt-check-feedback", has_text=spec.points)
        feedback.wait_for(timeout=60_000)
        # the same grade and the same reasons (the headline: points and first line)
        assert feedback.inner_text().splitlines()[:2] == before.splitlines()[:2]


def _activity_in_lab(page, spec: FirstAnswer):
    index = page.evaluate(FIND_CELL, f'"{spec.name}"')
    assert index >= 0, f"no cell makes the activity {spec.name!r}"
    page.evaluate(SCROLL_TO_CELL, index)
    activity = page.locator("[data-dt-checking='1'] .dt-activity", has_text=spec.prompt)
    activity.wait_for(timeout=60_000)
    return activity


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_whole_in_lab_and_every_widget_draws(lesson, gl_browser, lab_server, artifacts):
    root = lab_server["root"]
    shutil.copy(lesson, root / lesson.name)
    spec = _first_answer(lesson)
    if spec is not None:
        (root / spec.file).unlink(missing_ok=True)
    with new_page(gl_browser, height=800) as page:
        problems = Problems(page)
        open_and_run(page, lab_server["url"], lesson.name)
        _wait_all_ran(page, artifacts / f"lesson-{lesson.stem}-lab-timeout.png")
        try:
            checked = _check_widgets_in_lab(page, lesson.name, artifacts)
        except Exception as exc:
            raise AssertionError(
                f"{exc}\npage problems so far:\n" + "\n".join(problems.seen)
            ) from exc
        page.screenshot(path=str(artifacts / f"lesson-{lesson.stem}-lab.png"))
        assert checked >= 1, "a lesson shows at least one widget"
        news = page.get_by_text("official Jupyter news")
        assert news.count() == 0, "the news pop-up covers the lesson"

        if spec is not None:
            shot = artifacts / f"lesson-{lesson.stem}-answer-lab.png"
            before = _answer_and_check(page, _activity_in_lab(page, spec), spec, root, shot)
            page.evaluate(RESTART_AND_RUN_ALL)
            _wait_all_ran(page, artifacts / f"lesson-{lesson.stem}-restart-timeout.png")
            activity = _activity_in_lab(page, spec)
            _found_again(page, activity, spec, before, shot)
            activity.screenshot(path=str(shot))
        assert problems.seen == [], "\n".join(problems.seen)


def _every_app_widget_drawn(page, lesson: Path, artifacts: Path) -> int:
    """Scroll to each widget of a Voilà app and check what it draws; returns how many."""
    outputs = page.locator(".jp-OutputArea-output:has(.widget-subarea, .dt-viewer, .dt-worklist)")
    checked = 0
    for i in range(outputs.count()):
        output = outputs.nth(i)
        output.scroll_into_view_if_needed()
        if output.locator("canvas, .dt-worklist").count():
            checked += _check_widget_output(output, f"{lesson.stem} app widget {i + 1}", artifacts)
    return checked


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_as_a_voila_app_and_every_widget_draws(
    lesson, gl_browser, start_voila, tmp_path, artifacts
):
    shutil.copy(lesson, tmp_path / lesson.name)
    url = start_voila(tmp_path / lesson.name)
    with new_page(gl_browser, height=800) as page:
        problems = Problems(page)
        page.goto(url, timeout=180_000)
        with screenshot_on_failure(page, artifacts / f"lesson-{lesson.stem}-voila-timeout.png"):
            page.locator("canvas").first.wait_for(timeout=180_000)
        checked = _every_app_widget_drawn(page, lesson, artifacts)
        page.screenshot(path=str(artifacts / f"lesson-{lesson.stem}-voila.png"), full_page=True)
        assert checked >= 1
        assert "Traceback" not in page.inner_text("body")

        spec = _first_answer(lesson)
        if spec is not None:
            shot = artifacts / f"lesson-{lesson.stem}-answer-voila.png"
            activity = page.locator(".dt-activity", has_text=spec.prompt)
            before = _answer_and_check(page, activity, spec, tmp_path, shot)
            page.reload(timeout=180_000)
            activity = page.locator(".dt-activity", has_text=spec.prompt)
            activity.wait_for(timeout=180_000)
            _found_again(page, activity, spec, before, shot)
            activity.screenshot(path=str(shot))
        assert problems.seen == [], "\n".join(problems.seen)


# ---------------------------------------------------------------- answers that stay


def _written(path: Path, timeout: float = 15) -> bool:
    """True once ``path`` exists (the kernel writes an answer on every change)."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()


def _click_the_nodule(page, widget, centre: str) -> None:
    """Click the nodule's centre (``"row col"`` as the kernel printed it) on the canvas:
    twice, as the first click into the widget only gives it the keys."""
    canvas = widget.locator("canvas.dt-viewer-canvas")
    widget.locator(".dt-viewport").scroll_into_view_if_needed()
    row, col = (float(v) for v in centre.split())
    page.wait_for_timeout(300)
    for _ in range(2):
        page.mouse.click(*pixel_centre(canvas, row, col))


NODULE_CENTRE = (
    "rows, cols = np.nonzero(baseline_mask[k]); where.frame = k\nprint(rows.mean(), cols.mean())"
)


def test_following_lesson_click_is_checked_and_survives_a_kernel_restart(
    gl_browser, lab_server, artifacts
):
    lesson = next(p for p in LESSONS if "following-a-lesion" in p.name)
    shutil.copy(lesson, lab_server["root"] / lesson.name)
    answer = lab_server["root"] / "nodule-click.json"
    answer.unlink(missing_ok=True)
    with new_page(gl_browser, height=900) as page:
        problems = Problems(page)
        open_and_run(page, lab_server["url"], lesson.name)
        _wait_all_ran(page, artifacts / "lesson-04-answer-timeout.png")
        centre = kernel_print(page, NODULE_CENTRE)
        hotspot = page.locator(".dt-q-hotspot").first
        hotspot.locator("canvas.dt-viewer-canvas[data-rendered='1']").wait_for(timeout=60_000)
        _click_the_nodule(page, hotspot, centre)
        assert _written(answer), "the click is written beside the notebook"
        check = page.get_by_role("button", name="Check my answer").first
        check.click()
        feedback = page.locator(".dt-check-feedback").first
        feedback.get_by_text("1 / 1 points").wait_for(timeout=30_000)
        # the reference is revealed under the feedback only now
        page.locator(".dt-check-reveal img").first.wait_for(timeout=30_000)
        page.locator(".dt-check").first.screenshot(
            path=str(artifacts / "lesson-04-checked-lab.png")
        )

        page.evaluate(RESTART_AND_RUN_ALL)
        _wait_all_ran(page, artifacts / "lesson-04-restart-timeout.png")
        assert kernel_print(page, "print(len(where.points))").strip() == "1"
        hotspot = page.locator(".dt-q-hotspot").first
        hotspot.scroll_into_view_if_needed()
        hotspot.locator(".dt-q-marker").wait_for(timeout=30_000)
        hotspot.locator(".dt-q-status").get_by_text(
            "Your answer was loaded from nodule-click.json (1 point)."
        ).wait_for(timeout=30_000)
        page.get_by_role("button", name="Check my answer").first.click()
        page.locator(".dt-check-feedback").first.get_by_text("1 / 1 points").wait_for(
            timeout=30_000
        )
        assert problems.seen == [], "\n".join(problems.seen)


def test_following_lesson_as_an_app_gives_feedback_and_keeps_the_click_after_a_reload(
    gl_browser, start_voila, tmp_path, artifacts
):
    lesson = next(p for p in LESSONS if "following-a-lesion" in p.name)
    shutil.copy(lesson, tmp_path / lesson.name)
    url = start_voila(tmp_path / lesson.name)
    with new_page(gl_browser, height=900) as page:
        problems = Problems(page)
        page.goto(url, timeout=180_000)
        hotspot = page.locator(".dt-q-hotspot").first
        hotspot.locator("canvas.dt-viewer-canvas[data-rendered='1']").wait_for(timeout=180_000)
        check = page.get_by_role("button", name="Check my answer").first
        assert check.is_disabled(), "nothing to check before a click"
        canvas = hotspot.locator("canvas.dt-viewer-canvas")
        hotspot.locator(".dt-viewport").scroll_into_view_if_needed()
        for _ in range(2):  # the first click starts, the second answers: far from the nodule
            page.mouse.click(*pixel_centre(canvas, 10, 10))
        _written(tmp_path / "nodule-click.json")
        check.click()
        page.locator(".dt-check-feedback").first.get_by_text("0 / 1 points").wait_for(
            timeout=30_000
        )
        assert "mm from it" in page.locator(".dt-check-feedback").first.inner_text()
        page.locator(".dt-check").first.screenshot(
            path=str(artifacts / "lesson-04-checked-voila.png")
        )
        assert (tmp_path / "nodule-click.json").exists()

        # a reload while a later widget still loads its module fails that widget's model
        # in the page being left (a page error): reload once every widget has drawn
        _every_app_widget_drawn(page, lesson, artifacts)
        page.reload(timeout=180_000)
        hotspot = page.locator(".dt-q-hotspot").first
        hotspot.locator(".dt-q-marker").wait_for(timeout=180_000)
        page.get_by_role("button", name="Check my answer").first.click()
        page.locator(".dt-check-feedback").first.get_by_text("0 / 1 points").wait_for(
            timeout=30_000
        )
        assert problems.seen == [], "\n".join(problems.seen)


def test_instructor_lesson_outline_is_graded_and_survives_a_kernel_restart(
    gl_browser, lab_server, artifacts
):
    lesson = next(p for p in LESSONS if "for-instructors" in p.name)
    shutil.copy(lesson, lab_server["root"] / lesson.name)
    answer = lab_server["root"] / "my-nodule.npz"
    answer.unlink(missing_ok=True)
    with new_page(gl_browser, height=900) as page:
        problems = Problems(page)
        open_and_run(page, lab_server["url"], lesson.name)
        _wait_all_ran(page, artifacts / "lesson-07-answer-timeout.png")
        rows, cols = (
            float(v)
            for v in kernel_print(
                page, "r, c = np.nonzero(nodule[largest]); print(r.mean(), c.mean())"
            ).split()
        )
        pad = page.locator(".dt-delineator")
        pad.scroll_into_view_if_needed()
        canvas = pad.locator("canvas.dt-viewer-canvas[data-rendered='1']")
        canvas.wait_for(timeout=60_000)
        pad.locator("button[data-tool='brush']").click()
        drag(
            page,
            pixel_centre(canvas, rows, cols - 2),
            pixel_centre(canvas, rows, cols + 2),
            steps=6,
        )
        assert _written(answer), "the stroke is written beside the notebook"
        page.get_by_role("button", name="Grade my outline").click()
        page.locator(".dt-check-feedback").first.get_by_text("/ 10 points").wait_for(timeout=60_000)
        drawn = int(kernel_print(page, "print(int(pad.mask('Nodule').sum()))"))
        assert drawn > 0

        page.evaluate(RESTART_AND_RUN_ALL)
        _wait_all_ran(page, artifacts / "lesson-07-restart-timeout.png")
        assert int(kernel_print(page, "print(int(pad.mask('Nodule').sum()))")) == drawn
        page.get_by_role("button", name="Grade my outline").click()
        page.locator(".dt-check-feedback").first.get_by_text("/ 10 points").wait_for(timeout=60_000)
        page.locator(".dt-check").first.screenshot(path=str(artifacts / "lesson-07-graded-lab.png"))
        assert problems.seen == [], "\n".join(problems.seen)
