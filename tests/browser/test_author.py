"""The authoring app in a real Voilà, worked with the mouse from study to saved assignment.

One Voilà server serves the app's own notebook (as ``dicomteach author``
does) on a course of its own; one page: pick the sample chest CT by its
picture, choose hotspot, click the nodule on the image, set the radius, type
the prompt and points, preview the activity as a learner sees it, save. Then,
in Python, the saved key builds the activity, and a learner's answer on the
target earns full points and one far away none. What the browser drew is
checked: the library's picture, the study's pixels, and the target's marker.
"""

from __future__ import annotations

import io as _io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from dicomteach.activities import Activity, Hotspot
from dicomteach.commands.author import prepare_session
from dicomteach.course.author_app import COURSE_ENV
from dicomteach.course.library import SAMPLE_STUDIES, thumbnail_png
from dicomteach.imaging import default_window, modality_values, window_to_uint8
from dicomteach.roi import answer_from_points, load_structures, save_answer

from .conftest import canvas_rgba, pixel_centre, screenshot_on_failure

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CT = next(s for s in SAMPLE_STUDIES if s.location.sample == "ct-chest")
CANVAS = 'canvas.dt-viewer-canvas[data-rendered="1"]'


@pytest.fixture(scope="module")
def app(start_voila, tmp_path_factory):
    """The app's notebook served by Voilà on a fresh course; the page's URL and the course."""
    base = tmp_path_factory.mktemp("author")
    course = base / "course"
    course.mkdir()
    shutil.copy(ROOT / "graders" / "nbgrader_config.py", course)
    session = base / "session"
    session.mkdir()
    notebook = Path(prepare_session(course, str(session)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(COURSE_ENV, str(course))  # Voilà's kernels inherit it, as the command sets it
        url = start_voila(notebook)
    return url, course


def _nodule_on(frame: int) -> tuple[int, int]:
    """Row and column of the sample nodule's centre on ``frame`` (from its own SEG)."""
    from dicomteach import io

    volume = io.load(CT.resolve())
    seg = CT.resolve().parent / "seg-nodule.dcm"
    mask = next(iter(load_structures(seg, image=volume).masks.values()))[frame]
    assert mask.any(), f"the nodule is not on frame {frame}"
    row, col = np.argwhere(mask).mean(axis=0).round().astype(int)
    return int(row), int(col)


def _ring_is_drawn(
    page, centre: tuple[float, float], path: Path, radius: float = 8
) -> tuple[int, int]:
    """(amber pixels on a ring, pixels of the ring): a screenshot of what the page shows
    round ``centre``; a Hotspot's marker is an amber ring (255, 213, 79) 8 px out
    (widgets/static/questions/answering.js, HOTSPOT_COLOR), its reach a dashed one."""
    from PIL import Image

    x, y = centre
    half = int(radius) + 6
    size = 2 * half
    clip = {"x": x - half, "y": y - half, "width": size, "height": size}
    shot = page.screenshot(clip=clip, path=path)
    rgb = np.asarray(Image.open(_io.BytesIO(shot)).convert("RGB")).astype(int)
    yy, xx = np.mgrid[0:size, 0:size] - (half - 0.5)
    ring = np.abs(np.hypot(yy, xx) - radius) < 1.5
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if radius != 8:  # the reach: a thinner dashed line, its edges blended with the image
        ring = np.abs(np.hypot(yy, xx) - radius) < 1
        return int(((r > 150) & (b < 0.6 * r) & ring).sum()), int(ring.sum())
    amber = (r > 220) & (g > 170) & (g < 240) & (b < 130) & ring
    return int(amber.sum()), int(ring.sum())


def test_the_app_authors_a_hotspot_with_the_mouse_and_the_key_grades_a_learner(
    app, page, artifacts, tmp_path
):
    url, course = app
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(url)
    card_button = page.get_by_role("button", name=CT.title)
    with screenshot_on_failure(page, artifacts / "author-timeout.png"):
        card_button.wait_for(timeout=120_000)
        # the library's picture of the CT is drawn (in the background, as the page opens)
        card = page.locator(".dt-author-card", has=card_button)
        page.locator(".dt-author-card.dt-author-drawn", has=card_button).wait_for(timeout=120_000)
        picture = card.locator("img")
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth === 160",
            arg=picture.element_handle(),
        )
    from PIL import Image

    expected = np.asarray(Image.open(_io.BytesIO(thumbnail_png(CT))).convert("L")).astype(int)
    shot = np.asarray(Image.open(_io.BytesIO(picture.screenshot())).convert("L")).astype(int)
    h, w = expected.shape
    # the element may sit a fraction of a pixel off the grid: the best of one pixel either way
    difference = min(
        np.abs(shot[dy : dy + h, dx : dx + w] - expected).mean()
        for dy in range(shot.shape[0] - h + 1)
        for dx in range(shot.shape[1] - w + 1)
    )
    assert difference < 2, f"the card does not show the CT's picture ({difference:.1f} apart)"

    # 1. the study, by its picture's button
    card_button.click()
    editor = page.locator(".dt-author-key .dt-q-hotspot")
    canvas = editor.locator(CANVAS)
    with screenshot_on_failure(page, artifacts / "author-editor-timeout.png"):
        canvas.wait_for(timeout=60_000)
    assert "dt-author-picked" in card.get_attribute("class")

    # 2. the activity
    page.locator(".dt-author-assignment input").fill("week-1")
    page.locator(".dt-author-name input").fill("nodule")
    page.locator(".dt-author-kind").get_by_role("button", name="hotspot").click()

    # 3. the key: a click gives the image the keys, the next one places the target
    editor.locator(".dt-viewport").scroll_into_view_if_needed()
    frame = int(canvas.get_attribute("data-frame"))
    row, col = _nodule_on(frame)
    # what the browser drew is the study: the CT at its first window, pixel for pixel
    from dicomteach import io

    volume = io.load(CT.resolve())
    window = default_window(volume)
    drawn = canvas_rgba(canvas)
    reference = window_to_uint8(modality_values(volume)[frame], window)
    assert drawn.shape[:2] == reference.shape
    assert int((drawn[..., 0] != reference).sum()) == 0
    page.mouse.click(*pixel_centre(canvas, row, col))
    page.wait_for_selector(".dt-author-key .dt-q-hotspot[data-active='1']")
    page.mouse.click(*pixel_centre(canvas, row, col))
    marker = editor.locator(".dt-q-marker .dt-q-ring")
    marker.wait_for()
    box = marker.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    target = pixel_centre(canvas, row, col)
    assert abs(centre[0] - target[0]) < 1.5 and abs(centre[1] - target[1]) < 1.5
    amber, ring = _ring_is_drawn(page, centre, artifacts / "author-marker.png")
    assert amber > ring / 3, f"the marker's ring shows {amber} amber pixels of {ring}"
    page.locator(".dt-author-radius input").fill("8")
    page.locator(".dt-author-radius input").press("Tab")
    # what is placed is the key, and the target shows how far it reaches: 8 mm on screen
    assert editor.locator(".dt-q-side-title").text_content() == "The key"
    mm = canvas.bounding_box()["width"] / (volume.pixels.shape[2] * volume.spacing[2])
    # the circle follows the field (it showed the default radius until now); every redraw
    # makes new circles, so ask the page each time
    reach = editor.locator(".dt-q-marker .dt-q-reach")
    deadline = time.monotonic() + 15
    while abs(float(reach.get_attribute("r") or 0) - 8 * mm) > 0.5:
        assert time.monotonic() < deadline, f"the reach stays at r={reach.get_attribute('r')}"
        page.wait_for_timeout(100)
    # the marker layer is built again after the new reach, and the page may have moved
    # (the key's line under the picture): look round the marker where it is now
    deadline = time.monotonic() + 10
    while True:
        box = marker.bounding_box() or box
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        amber, ring = _ring_is_drawn(page, centre, artifacts / "author-reach.png", radius=8 * mm)
        if amber > ring / 4 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert amber > ring / 4, f"the 8 mm reach shows {amber} amber pixels of {ring}"

    # 4. the question
    page.locator(".dt-author-prompt textarea").fill("Click the lung nodule.")
    page.locator(".dt-author-points input").fill("3")
    page.locator(".dt-author-points input").press("Tab")

    # preview: the learner's widget, without a "Check my answer"
    page.get_by_role("button", name="Preview as a learner").click()
    preview = page.locator(".dt-author-preview")
    with screenshot_on_failure(page, artifacts / "author-preview-timeout.png"):
        preview.locator(CANVAS).wait_for(timeout=60_000)
    assert preview.locator(".dt-q-prompt").inner_text() == "Click the lung nodule."
    assert "graded after you submit" in preview.locator(".dt-activity-note").inner_text()
    assert preview.get_by_role("button", name="Check my answer").count() == 0

    # save
    page.get_by_role("button", name="Save to the course").click()
    message = page.locator('.dt-author-message[data-kind="ok"]', has_text="Saved")
    with screenshot_on_failure(page, artifacts / "author-save-timeout.png"):
        message.wait_for(timeout=30_000)
    # the whole app at once (Voilà scrolls inside the page: a viewport as tall as the app)
    height = page.evaluate("document.querySelector('.dt-author').getBoundingClientRect().bottom")
    page.set_viewport_size({"width": 1280, "height": int(height + 400)})
    page.locator(".dt-author").evaluate("(app) => app.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(artifacts / "author-app.png"))
    editor.screenshot(path=str(artifacts / "author-key.png"))

    # in Python: the saved key builds the activity and grades a learner's answers
    key_file = course / "references" / "week-1" / "nodule.yaml"
    notebook = json.loads((course / "source" / "week-1" / "week-1.ipynb").read_text())
    assert [c["id"] for c in notebook["cells"]][-3:] == [
        "about-nodule",
        "show-nodule",
        "grade-nodule",
    ]
    key = Activity.load(key_file)
    assert isinstance(key, Hotspot) and key.points == 3 and key.prompt == "Click the lung nodule."
    (region,) = key.reference
    assert region.slice == frame + 1 and region.radius_mm == 8
    assert abs(region.coordinates[0][0] - row) <= 1 and abs(region.coordinates[0][1] - col) <= 1
    learner = tmp_path / "nodule.json"
    save_answer(answer_from_points(volume, [(frame, row, col, "")], "nodule"), learner)
    assert key.grade(learner).points == 3
    save_answer(answer_from_points(volume, [(frame, 40, 200, "")], "nodule"), learner)
    assert key.grade(learner).points == 0


# ---------------------------------------------------------------------- a worklist, several studies

PRIOR = next(
    s for s in SAMPLE_STUDIES if s.location.sample == "cr-chest" and s.location.path == "prior"
)
BLUE = (26, 115, 232)  # a picked card's border (#1a73e8, the app's style)


@pytest.fixture(scope="module")
def film(app, tmp_path_factory):
    """A held-out film with a lesion (``ai/films.py``), imported into the app's course as an
    instructor imports a PACS export; its study in the library."""
    pytest.importorskip("onnxruntime")
    from dicomteach.ai.films import film_specs, render_films, write_film
    from dicomteach.course.library import import_study

    _, course = app
    export = tmp_path_factory.mktemp("pacs-export")
    abnormal = next(
        f
        for f in render_films(film_specs("held-out", 1)[0], rows=1400, columns=1300)
        if f.holds_lesion
    )
    write_film(abnormal, export / "film.dcm")
    (study,) = import_study(course, export, accept_burned_in=True).studies
    return study


def _picture_matches(locator, png: bytes) -> float:
    """How far (mean grey levels) what the browser drew in ``locator`` is from ``png``, at the
    best of a pixel's shift either way."""
    from PIL import Image

    expected = np.asarray(Image.open(_io.BytesIO(png)).convert("L")).astype(int)
    shot = np.asarray(Image.open(_io.BytesIO(locator.screenshot())).convert("L")).astype(int)
    h, w = expected.shape
    assert shot.shape[0] >= h and shot.shape[1] >= w, (shot.shape, expected.shape)
    return min(
        np.abs(shot[dy : dy + h, dx : dx + w] - expected).mean()
        for dy in range(min(3, shot.shape[0] - h + 1))
        for dx in range(min(3, shot.shape[1] - w + 1))
    )


def test_the_app_authors_a_worklist_of_several_studies_with_the_mouse_and_it_grades(
    app, film, page, artifacts, tmp_path, monkeypatch
):
    from PIL import Image

    from dicomteach.activities import REFERENCES_ENV, Worklist, grade
    from dicomteach.activities.worklist import (
        Event,
        WorklistAnswer,
        save_worklist_answer,
        thumbnail,
    )

    url, course = app
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(url)
    cards = {
        s.title: page.locator(
            ".dt-author-card", has=page.get_by_role("button", name=s.title, exact=True)
        )
        for s in (film, PRIOR, CT)
    }
    with screenshot_on_failure(page, artifacts / "author-worklist-timeout.png"):
        for title in cards:  # each card's picture drawn (in the background)
            button = page.get_by_role("button", name=title, exact=True)
            drawn = page.locator(".dt-author-card.dt-author-drawn", has=button)
            drawn.wait_for(timeout=180_000)
        # the type first: the study list then picks several
        page.locator(".dt-author-kind").get_by_role("button", name="worklist").click()
        page.locator("h3", has_text="1. Choose the worklist's studies").wait_for(timeout=30_000)
        # in the order they arrived: the film, the prior radiograph, the CT
        rows = page.locator(".dt-author-key .dt-author-case")
        for n, title in enumerate((film.title, PRIOR.title, CT.title)):
            cards[title].get_by_role("button", name=title, exact=True).click()
            rows.nth(n).wait_for(timeout=60_000)
            cards[title].locator(".dt-author-case-badge", has_text=f"Case {'ABC'[n]}").wait_for()
    assert rows.count() == 3
    # the cards picked look picked: the blue border round each, its case under it
    for n, title in enumerate((film.title, PRIOR.title, CT.title)):
        card = cards[title]
        assert card.locator(".dt-author-case-badge").text_content() == f"Case {'ABC'[n]}"
        shot = np.asarray(Image.open(_io.BytesIO(card.screenshot())).convert("RGB")).astype(int)
        edge = shot[shot.shape[0] // 2, :3]  # the left border, half way down
        assert min(np.abs(edge - BLUE).sum(axis=1)) < 40, f"{title}: no blue border ({edge})"
    # the patient, date and modality under each picture, as a study list says them
    from dicomteach.course.library import study_facts

    said = cards[PRIOR.title].locator(".dt-author-detail").inner_text()
    assert study_facts(PRIOR).line() in said and "2024-02-26 · CR" in said
    page.locator(".dt-author-card").first.evaluate("(c) => c.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(artifacts / "author-worklist-cards.png"))
    # the key: each case's row with the study's own picture, and its truth clicked
    for n, (study, truth) in enumerate(((film, "Abnormal"), (PRIOR, "Normal"), (CT, "Abnormal"))):
        row = rows.nth(n)
        assert row.locator(".dt-author-case-label").inner_text() == f"Case {'ABC'[n]}"
        picture = row.locator(".dt-author-case-picture")
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
        from dicomteach.course.library import thumbnail_png

        # the 160-pixel picture shown at 64: compared with it scaled down the same way
        small = Image.open(_io.BytesIO(thumbnail_png(study))).convert("L")
        box = picture.bounding_box()
        small.thumbnail((round(box["width"]), round(box["height"])), Image.Resampling.LANCZOS)
        canvas = Image.new("L", (round(box["width"]), round(box["height"])), 0)
        canvas.paste(
            small, ((canvas.width - small.width) // 2, (canvas.height - small.height) // 2)
        )
        buffer = _io.BytesIO()
        canvas.save(buffer, format="PNG")
        difference = _picture_matches(picture, buffer.getvalue())
        assert difference < 12, f"case {'ABC'[n]}'s picture is not its study's ({difference:.1f})"
        row.locator(".dt-author-truth").get_by_role("button", name=truth, exact=True).click()
    page.locator(".dt-author-key").screenshot(path=str(artifacts / "author-worklist-key.png"))

    page.locator(".dt-author-assignment input").fill("week-2")
    page.locator(".dt-author-name input").fill("triage")
    page.locator(".dt-author-prompt textarea").fill(
        "Read the worklist: which studies hold a lesion?"
    )
    page.locator(".dt-author-points input").fill("3")
    page.locator(".dt-author-points input").press("Tab")

    # the preview: the learner's worklist, in the AI's order, each thumbnail the case's own
    page.get_by_role("button", name="Preview as a learner").click()
    preview = page.locator(".dt-author-preview .dt-worklist")
    thumbs = preview.locator("img.dt-worklist-thumbnail")
    with screenshot_on_failure(page, artifacts / "author-worklist-preview-timeout.png"):
        preview.wait_for(timeout=120_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.dt-author-preview img.dt-worklist-thumbnail')]"
            ".filter(i => i.complete && i.naturalWidth > 0).length === 3",
            timeout=60_000,
        )
    labels = [t.strip() for t in preview.locator(".dt-worklist-label").all_text_contents()]
    scores = [
        float(t.split("%")[0]) for t in preview.locator(".dt-worklist-score").all_text_contents()
    ]
    assert sorted(labels) == ["Case A", "Case B", "Case C"] and scores == sorted(
        scores, reverse=True
    )
    assert labels[-1] == "Case B", "the normal prior film is the AI's lowest"
    from dicomteach import io

    for n, label in enumerate(labels):
        study = (film, PRIOR, CT)["ABC".index(label[-1])]
        difference = _picture_matches(thumbs.nth(n), _png(thumbnail(io.load(study.resolve()))))
        assert difference < 3, f"{label}'s thumbnail is not its study's ({difference:.1f})"
    # answered as a learner: the first case opened and called abnormal, the preview graded
    preview.locator("button.dt-worklist-open").first.click()
    page.wait_for_selector(
        ".dt-author-preview canvas.dt-viewer-canvas[data-rendered='1']", timeout=60_000
    )
    preview.locator(".dt-worklist-verdict").first.get_by_role("button", name="Abnormal").click()
    page.get_by_role("button", name="Grade my preview answer").click()
    feedback = page.locator(".dt-author-feedback")
    feedback.locator("text=Misses").wait_for(timeout=60_000)
    assert feedback.locator("img").count() >= 1
    # Voilà scrolls inside the page: a viewport as tall as the preview, to see it whole
    height = page.evaluate(
        "document.querySelector('.dt-author-preview').getBoundingClientRect().height"
    )
    page.set_viewport_size({"width": 1280, "height": int(height + 100)})
    page.locator(".dt-author-preview").evaluate("(p) => p.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(artifacts / "author-worklist-preview.png"))
    page.set_viewport_size({"width": 1280, "height": 1000})

    page.get_by_role("button", name="Save to the course").click()
    message = page.locator('.dt-author-message[data-kind="ok"]', has_text="Saved")
    with screenshot_on_failure(page, artifacts / "author-worklist-save-timeout.png"):
        message.wait_for(timeout=30_000)

    # in Python: the saved key is the worklist authored, and grade("triage") grades a learner
    key = Activity.load(course / "references" / "week-2" / "triage.yaml")
    assert isinstance(key, Worklist) and key.points == 3 and key.order == "ai"
    assert key.reference == [True, False, True]
    assert key.cases[1].sample == "cr-chest" and key.cases[2].sample == "ct-chest"
    learner = tmp_path / "week-2"
    shutil.copytree(course / "source" / "week-2", learner)
    save_worklist_answer(
        learner / "triage.json",
        WorklistAnswer(
            "triage",
            "ai",
            labels,
            [
                Event(0.0, "Case A", "open"),
                Event(5.0, "Case A", "abnormal"),
                Event(6.0, "Case B", "open"),
                Event(9.0, "Case B", "abnormal"),
            ],
        ),
    )
    monkeypatch.chdir(learner)
    monkeypatch.setenv(REFERENCES_ENV, str(course / "references"))
    result = grade("triage")
    assert result.points == 1.0  # A right; B a false alarm; C never read: a miss
    assert result.feedback.details["misses"] == ["Case C"]
    assert result.feedback.details["false_alarms"] == ["Case B"]


def _png(gray: np.ndarray) -> bytes:
    from PIL import Image

    buffer = _io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    return buffer.getvalue()
