"""A live class in Chromium, through a real hub: a presenter and two learners on one CT.

One hub for the module (``tests/hubclient.py``, as ``tests/test_live.py``): the
class list puts alice and bob in ct101, which teacher teaches. Each opens a
Voilà app of their own server holding a Delineator on the same sample CT, in a
browser context of their own; the presenter's notebook calls
``d.go_live("Tumour board 3 Dec")``, the learners type the join code in their
widget's *Join* field. The tests then run in order, as a class would: present,
follow (the pixels the learners see), a learner's moves refused, layers drawn
and seen in each person's colour, a learner dropping mid-stroke, a poll, the
end with every layer saved. What the service holds is read with
``tests/liveclient.py``, what each person sees from their canvases.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from hubclient import Hub, Learner
from liveclient import LiveClient

from .conftest import canvas_rgba_and_data, pixel_centre, screenshot_on_failure
from .lab import CHROMIUM

pytest.importorskip("jupyterhub")
pytest.importorskip("nativeauthenticator")
pytest.importorskip("pycrdt")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="the hub's system users need root"),
]
CLASS = """username,name,role,course
alice,Alice Martin,learner,ct101
bob,Bob Okafor,learner,ct101
"""
STUDY = ("ct-chest", {"seed": 0, "size": 64, "slices": 12})
SHAPE = (12, 64, 64)
OPEN = (
    "from dicomteach import io\n"
    "from dicomteach.samples.cache import lesson_study\n"
    "from dicomteach.widgets import Delineator\n"
    'study = io.read(lesson_study("ct-chest", seed=0, size=64, slices=12))\n'
    'ct = next(v for v in study.volumes if v.modality == "CT")\n'
    'd = Delineator(ct, "Tumour", answer="live.npz", brush_mm=3)\n'
    "d"
)
GO_LIVE = 'd.go_live("Tumour board 3 Dec")'
PEOPLE = ("teacher", "alice", "bob")
WAIT = 60_000


def _notebook(*sources: str) -> dict:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
         "outputs": [], "source": source}
        for i, source in enumerate(sources)
    ]  # fmt: skip
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def hub(sync_playwright_module):
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("configurable-http-proxy missing: npm ci (scripts/test.sh runs it)")
    from dicomteach.hub.install import prepare_samples

    running = Hub()
    try:
        running.setup()
        prepare_samples(running.state / "cache", [STUDY])  # learners read the class's cache
        roster = running.folder / "class.csv"
        roster.write_text(CLASS)
        printed = running.dicomteach("hub", "roster", str(roster))
        running.passwords = dict(re.findall(r"^(\w+)\t(\S+)$", printed, re.MULTILINE))
        running.passwords["teacher"] = running.admin_password
        running.start()
        yield running
    finally:
        running.remove()


@pytest.fixture(scope="module")
def people(hub) -> dict[str, Learner]:
    """Everyone logged in, their servers started at once, the lesson in their home."""
    found = {name: Learner(hub.url, name) for name in PEOPLE}
    for name, person in found.items():
        person.login(hub.passwords[name])
        answer = person.post(
            f"{hub.url}/hub/api/users/{name}/server",
            headers={"X-XSRFToken": person.xsrf("/hub/")},
        )
        assert answer.status_code in (201, 202), answer.text
    for name, person in found.items():
        person.start_server()  # waits for the server, then opens it once (OAuth)
        sources = (OPEN, GO_LIVE) if name == "teacher" else (OPEN,)
        put = person.server_api(
            "PUT", "contents/live.ipynb",
            json={"type": "notebook", "format": "json", "content": _notebook(*sources)},
        )  # fmt: skip
        assert put.status_code in (200, 201), put.text
    return found


@pytest.fixture(scope="module")
def pages(hub, people, browser, artifacts):
    """Each person's Voilà app of the lesson, in a browser context of their own."""
    contexts, found = [], {}
    for name, person in people.items():
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, device_scale_factor=1
        )
        context.add_cookies(
            [
                {"name": c.name, "value": c.value, "url": f"{hub.url}{c.path or '/'}"}
                for c in person.cookies
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{hub.url}/user/{name}/voila/render/live.ipynb", wait_until="commit")
        found[name] = page
    for name, page in found.items():
        with screenshot_on_failure(page, artifacts / f"live-{name}-open.png"):
            page.wait_for_selector(
                ".dt-delineator canvas.dt-viewer-canvas[data-rendered='1']", timeout=120_000
            )
    yield found
    for context in contexts:
        context.close()


def widget(page):
    return page.locator(".dt-delineator")


def image(page):
    return widget(page).locator("canvas.dt-viewer-canvas")


def wait_for(page, js: str, arg=None, timeout: float = WAIT) -> None:
    page.wait_for_function(js, arg=arg, timeout=timeout)


def live_state(page, state: str = "synced") -> None:
    wait_for(page, "(s) => document.querySelector('.dt-delineator')?.dataset.live === s", state)


@pytest.fixture(scope="module")
def code(pages, artifacts) -> str:
    """The presenter's join code, as the widget shows it."""
    teacher = pages["teacher"]
    with screenshot_on_failure(teacher, artifacts / "live-teacher-go-live.png"):
        live_state(teacher)
    return widget(teacher).locator(".dt-live-code").inner_text().strip()


@pytest.fixture(scope="module")
def service(hub, people, code):
    """The session as the service holds it: the presenter's document, read in Python."""
    answer = people["teacher"].get(f"{hub.url}/services/live/")  # the OAuth round trip
    assert answer.status_code == 200, answer.text[:300]
    found = people["teacher"].get(f"{hub.url}/services/live/api/join/{code}").json()
    client = LiveClient(people["teacher"], found["id"]).connect()
    client.session = found
    yield client
    client.close()


def test_the_class_joins_with_the_code_and_the_presenter_sees_who_is_present(
    pages, code, artifacts
):
    assert re.fullmatch(r"[A-HJ-NP-Z]{6}", code), code
    for name in ("alice", "bob"):
        page = pages[name]
        page.fill(".dt-delineator input[data-control='live-code']", code.lower())
        widget(page).locator("button[data-action='join']").click()
    for name in ("alice", "bob"):
        with screenshot_on_failure(pages[name], artifacts / f"live-{name}-join.png"):
            live_state(pages[name])
    teacher = pages["teacher"]
    wait_for(
        teacher,
        "() => document.querySelectorAll('.dt-live-person[data-online=\"1\"]').length === 3",
    )
    names = widget(teacher).locator(".dt-live-person").all_inner_texts()
    assert any("Alice Martin" in n for n in names) and any("Bob Okafor" in n for n in names)
    assert widget(pages["alice"]).get_attribute("data-live-lead") == "teacher"
    teacher.screenshot(path=str(artifacts / "live-teacher-present.png"))
