"""The nbgrader loop through the classroom hub, in Chromium: release, fetch, draw, submit, grade.

A real hub from ``jupyterhub_config.py`` (``tests/hubclient.py``) with the sample
course installed as ``ct101``, an instructor and two learners from a class list.
The instructor generates and releases ``ct-nodule`` in the course's formgrader
(the hub service ``/services/ct101/formgrader``, opened as a page of its own:
the hub forbids framing it, nbgrader #1870, #1947); alice logs in, fetches it from
JupyterLab's assignment list, outlines the nodule with the brush and submits;
bob submits nothing. The instructor collects, autogrades alice and releases the
feedback; alice fetches hers and sees her points and the picture of her outline;
bob's row in the formgrader says he handed nothing in ("no submission"), scored 0.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from hubclient import Hub

from .conftest import drag, new_page, pixel_centre, screenshot_on_failure

pytest.importorskip("jupyterhub")
pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="the hub's system users need root"),
    pytest.mark.filterwarnings("ignore:Object of type .* not in session"),
]
CLASS = """username,name,role,course
alice,Alice Martin,learner,ct101
bob,Bob Okafor,learner,ct101
"""


@pytest.fixture(scope="module")
def hub(sync_playwright_module):
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("configurable-http-proxy missing: npm ci (scripts/test.sh runs it)")
    from dicomteach.hub.install import prepare_samples
    from dicomteach.samples.cache import studies_opened_by

    running = Hub()
    try:
        running.setup()
        # what the assignment's notebook opens, written before learners open it (their
        # kernels may read the class's sample cache, not write it)
        assignment = ROOT / "graders" / "source" / "ct-nodule" / "ct-nodule.ipynb"
        prepare_samples(running.state / "cache", studies_opened_by([assignment]))
        roster = running.folder / "class.csv"
        roster.write_text(CLASS)
        printed = running.dicomteach("hub", "roster", str(roster))
        running.passwords = dict(re.findall(r"^(\w+)\t(\S+)$", printed, re.MULTILINE))
        running.passwords["teacher"] = running.admin_password
        running.start()
        yield running
    finally:
        running.remove()


def _login(page, hub, username: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", username)
    page.fill("#password_input", hub.passwords[username])
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/(hub/home|hub/spawn.*|user/.*)$"), timeout=60_000)


def _formgrader_step(page, hub, icon: str, done: str) -> None:
    """Click the ct-nodule row's ``icon`` in Manage Assignments; wait for ``done`` in the dialog."""
    page.goto(f"{hub.url}/services/ct101/formgrader/manage_assignments")
    row = page.locator("table tbody tr:has-text('ct-nodule')")
    row.wait_for(timeout=60_000)
    row.locator(f".glyphicon-{icon}").click()
    page.locator(".modal-dialog").get_by_text(done).wait_for(timeout=180_000)
    page.locator(".modal-footer button").first.click()


def _nodule_target() -> tuple[int, float, float]:
    """The slice where the first observer's outline of the nodule is largest, and its centre."""
    from dicomteach.activities import Activity
    from dicomteach.roi import load_structures

    key = Activity.load(ROOT / "graders" / "references" / "ct-nodule" / "nodule.yaml")
    files = key.reference.resolve()
    found = load_structures(files[0] if isinstance(files, list) else files, image=key.volume)
    mask = next(iter(found.masks.values()))
    frame = int(mask.sum(axis=(1, 2)).argmax())
    rows, cols = np.nonzero(mask[frame])
    return frame, float(rows.mean()), float(cols.mean())


def _lab_menu(page, menu: str, item: str) -> None:
    """Click ``item`` (its whole label) in Lab's menu ``menu``."""
    page.locator(f".lm-MenuBar-item:has-text('{menu}')").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def test_release_fetch_draw_submit_grade_and_feedback_through_the_hub(
    hub, gl_browser, artifacts, tmp_path
):
    # the instructor releases the delineation assignment from the course's formgrader
    with new_page(gl_browser) as teacher:
        _login(teacher, hub, "teacher")
        home = teacher.goto(f"{hub.url}/hub/home")
        assert home.status == 200
        assert (
            teacher.locator("a.dicomteach-formgrader")
            .get_attribute("href")
            .endswith("/services/ct101/formgrader")
        )
        with screenshot_on_failure(teacher, artifacts / "hub-release-timeout.png"):
            _formgrader_step(teacher, hub, "education", "Successfully")
            _formgrader_step(teacher, hub, "cloud-upload", "Successfully")

    frame, row, col = _nodule_target()
    with new_page(gl_browser, height=1000) as page:
        _login(page, hub, "alice")
        page.goto(f"{hub.url}/user/alice/lab")
        with screenshot_on_failure(page, artifacts / "hub-fetch-timeout.png"):
            page.wait_for_selector(".lm-MenuBar-item:has-text('Nbgrader')", timeout=120_000)
            _lab_menu(page, "Nbgrader", "Assignment List")
            fetch = page.locator("#released_assignments_list button:has-text('Fetch')")
            fetch.wait_for(timeout=60_000)
            fetch.click()
            page.locator("#fetched_assignments_list button:has-text('Submit')").wait_for(
                timeout=60_000
            )
        page.goto(f"{hub.url}/user/alice/lab/tree/ct101/ct-nodule/ct-nodule.ipynb")
        with screenshot_on_failure(page, artifacts / "hub-draw-timeout.png"):
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
            )
            # a Run All sent before the kernel's session is wired up runs nothing: once more then
            for _ in range(3):
                _lab_menu(page, "Run", "Run All Cells")
                started = page.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]"))
                try:
                    started.first.wait_for(timeout=20_000)
                    break
                except Exception:
                    continue
            pad = page.locator(".dt-delineator")
            canvas = pad.locator("canvas.dt-viewer-canvas[data-rendered='1']")
            canvas.wait_for(timeout=180_000)
            pad.scroll_into_view_if_needed()
            page.mouse.move(*pixel_centre(canvas, 128, 128))
            for _ in range(120):  # the wheel scrolls through the slices
                shown = int(canvas.get_attribute("data-frame"))
                if shown == frame:
                    break
                page.mouse.wheel(0, 100 if shown < frame else -100)
                page.wait_for_timeout(50)
            assert int(canvas.get_attribute("data-frame")) == frame
            pad.locator("button[data-tool='brush']").click()
            for dr in (-2, 0, 2):
                drag(
                    page,
                    pixel_centre(canvas, row + dr, col - 3),
                    pixel_centre(canvas, row + dr, col + 3),
                    steps=8,
                )
        answer = hub.state / "homes" / f"{hub.prefix}alice" / "ct101" / "ct-nodule" / "nodule.npz"
        for _ in range(100):
            if answer.exists():
                break
            page.wait_for_timeout(200)
        assert answer.exists(), "the outline is saved beside the notebook"
        page.screenshot(path=str(artifacts / "hub-alice-outline.png"))
        _lab_menu(page, "Nbgrader", "Assignment List")
        submit = page.locator("#fetched_assignments_list button:has-text('Submit')")
        submit.wait_for(timeout=30_000)
        submit.click()
        page.locator("#submitted_assignments_list .item_status").first.wait_for(timeout=60_000)

    # bob's inbound is write-only: alice's submission is there, and no learner can list it
    inbound = hub.state / "exchange" / "ct101" / "inbound"
    assert [p.name.split("+")[0] for p in inbound.iterdir()] == ["alice"]

    with new_page(gl_browser) as teacher:
        _login(teacher, hub, "teacher")
        with screenshot_on_failure(teacher, artifacts / "hub-grade-timeout.png"):
            _formgrader_step(teacher, hub, "cloud-download", "Successfully")
            teacher.goto(f"{hub.url}/services/ct101/formgrader/manage_submissions/ct-nodule")
            mine = teacher.locator("table tbody tr:has-text('alice')")
            mine.wait_for(timeout=60_000)
            mine.locator(".glyphicon-flash").click()
            teacher.locator(".modal-dialog").get_by_text("Successfully").wait_for(timeout=300_000)
            teacher.locator(".modal-footer button").first.click()
            _formgrader_step(teacher, hub, "comment", "Successfully")
            _formgrader_step(teacher, hub, "envelope", "Successfully")
            teacher.goto(f"{hub.url}/services/ct101/formgrader/manage_students/bob")
            bob_row = teacher.locator("table tbody tr:has-text('ct-nodule')")
            bob_row.wait_for(timeout=60_000)
            bob = bob_row.inner_text()
            teacher.screenshot(path=str(artifacts / "hub-formgrader-bob.png"))
        # the formgrader lists him with the reason and nothing scored
        assert bob.split("\t")[0] == "ct-nodule (no submission)"
        assert bob.split("\t")[1].startswith("0 / ")

    with new_page(gl_browser, height=1000) as page:
        _login(page, hub, "alice")
        page.goto(f"{hub.url}/user/alice/lab")
        page.wait_for_selector(".lm-MenuBar-item:has-text('Nbgrader')", timeout=120_000)
        _lab_menu(page, "Nbgrader", "Assignment List")
        fetch_feedback = page.locator(
            "#submitted_assignments_list button:has-text('Fetch Feedback')"
        )
        fetch_feedback.wait_for(timeout=60_000)
        fetch_feedback.click()
        home = hub.state / "homes" / f"{hub.prefix}alice" / "ct101" / "ct-nodule" / "feedback"
        for _ in range(100):
            found = sorted(home.glob("*/ct-nodule.html"))
            if found:
                break
            page.wait_for_timeout(200)
        assert found, "the feedback reached alice's home"
        relative = found[0].relative_to(hub.state / "homes" / f"{hub.prefix}alice")
        page.goto(f"{hub.url}/user/alice/files/{relative.as_posix()}")
        text = page.inner_text("body")
        points = re.search(r"(\d+(?:\.\d+)?) / 10 points", text) or re.search(
            r"Score: (\d+(?:\.\d+)?) / 10", text
        )
        assert points and float(points.group(1)) > 0, text[:2000]
        picture = page.locator("img[src^='data:image/png']").first
        picture.wait_for(timeout=30_000)
        assert picture.evaluate("(img) => img.naturalWidth") > 300
        page.screenshot(path=str(artifacts / "hub-alice-feedback.png"), full_page=True)
