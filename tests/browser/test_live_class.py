"""A live class in Chromium, through a real hub: a presenter and two learners on one CT.

One hub for the module (``tests/hubclient.py``, as ``tests/test_live.py``): the
class list puts alice and bob in ct101, which teacher teaches. Each opens a
Voilà app of their own server holding a Delineator on the same sample CT, in a
browser context of their own; the presenter's notebook calls
``d.go_live("Tumour board 3 Dec")``, the learners type the join code in their
widget's *Join* field. The tests then run in order, as a class would: present,
follow (the pixels the learners see), a learner's moves refused, layers drawn
and seen in each person's colour, a learner dropping mid-stroke, a poll, the
class's agreement map and consensus (the pixels the presenter, then the class,
sees), the scores, the end with every layer saved. What the service holds is
read with ``tests/liveclient.py``, what each person sees from their canvases.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from pycrdt import Map

from dicomteach.live.save import apply_edits
from hubclient import Hub, Learner
from liveclient import LiveClient

from .conftest import canvas_rgba_and_data, pixel_centre, screenshot_on_failure

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
    'd = Delineator(ct, "Tumour", answer="live.npz", brush_mm=10)\n'
    "d"
)
GO_LIVE = 'd.go_live("Tumour board 3 Dec")'
# The presenter's lesson goes on after go_live: a cell that keeps the kernel busy a
# while, so that the kernel answers the widget's first messages late (Run All queues
# them behind every cell), after the browser joined the session.
NEXT = "import time\ntime.sleep(1.5)"
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
        sources = (OPEN, GO_LIVE, NEXT) if name == "teacher" else (OPEN,)
        put = person.server_api(
            "PUT", "contents/live.ipynb",
            json={"type": "notebook", "format": "json", "content": _notebook(*sources)},
        )  # fmt: skip
        assert put.status_code in (200, 201), put.text
    return found


class Network:
    """alice's way to the live service, which a test can cut as a lost Wi-Fi would.

    Chromium's offline mode leaves open websockets alone, so her page's websockets to
    the service go through Playwright's route: passed on while the network is up,
    refused while it is down, and cut both ways by :meth:`drop`.
    """

    def __init__(self):
        self.up = True
        self.open: list = []

    def route(self, ws) -> None:
        if not self.up:
            ws.close()
            return
        server = ws.connect_to_server()
        self.open.append((ws, server))

    def drop(self, context) -> None:
        self.up = False
        context.set_offline(True)
        for ws, server in self.open:
            server.close()
            ws.close()
        self.open = []

    def restore(self, context) -> None:
        context.set_offline(False)
        self.up = True


@pytest.fixture(scope="module")
def network() -> Network:
    return Network()


@pytest.fixture(scope="module")
def pages(hub, people, browser, network, artifacts):
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
        if name == "alice":
            context.route_web_socket(re.compile(r".*/services/live/api/sessions/.*/sync$"),
                                     network.route)  # fmt: skip
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

    def service_cookies(page) -> list[str]:
        return [c["name"] for c in page.context.cookies() if c["path"] == "/services/live/"]

    # nobody has opened the service yet: joining passes its OAuth round trip with the hub
    assert service_cookies(pages["alice"]) == []
    alice = pages["alice"]  # a learner starts no session: the widget says why
    widget(alice).locator("button[data-action='go-live']").click()
    wait_for(alice, "() => document.querySelector('.dt-live-error').textContent !== ''")
    assert widget(alice).locator(".dt-live-error").inner_text() == (
        "alice teaches no course: only an instructor starts a session"
    )
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
    assert "service-live" in service_cookies(pages["alice"])
    names = widget(teacher).locator(".dt-live-person").all_inner_texts()
    assert any("Alice Martin" in n for n in names) and any("Bob Okafor" in n for n in names)
    assert widget(pages["alice"]).get_attribute("data-live-lead") == "teacher"
    teacher.screenshot(path=str(artifacts / "live-teacher-present.png"))


def _shown(page) -> tuple[np.ndarray, dict[str, str]]:
    return canvas_rgba_and_data(image(page))


def test_learners_follow_the_presenters_slice_window_and_pointer(pages, artifacts):
    teacher = pages["teacher"]
    before = {n: _shown(pages[n])[0] for n in ("alice", "bob")}
    canvas = image(teacher)
    teacher.mouse.move(*pixel_centre(canvas, 32, 32))
    for _ in range(3):
        teacher.mouse.wheel(0, 100)
    widget(teacher).locator("button[data-preset='Lung']").click()
    teacher.mouse.move(*pixel_centre(canvas, 20, 40))  # the laser pointer
    wait_for(teacher, "() => document.querySelector('.dt-delineator canvas.dt-viewer-canvas')"
             ".dataset.frame === '9'")  # fmt: skip
    seen, shown = _shown(teacher)
    for name in ("alice", "bob"):
        page = pages[name]
        with screenshot_on_failure(page, artifacts / f"live-{name}-follow.png"):
            wait_for(
                page,
                "([f, c]) => { const d = document.querySelector("
                "'.dt-delineator canvas.dt-viewer-canvas').dataset;"
                " return d.frame === f && d.center === c && d.rendered === '1'; }",
                [shown["frame"], shown["center"]],
            )
            wait_for(
                page, "() => !!document.querySelector('.dt-live-marks circle.dt-live-pointer')"
            )
        pixels, data = _shown(page)
        assert data["width"] == shown["width"]
        assert np.array_equal(pixels, seen), f"{name} sees other pixels than the presenter"
        assert not np.array_equal(pixels, before[name]), f"{name}'s picture did not change"
    pointer = widget(pages["alice"]).locator(".dt-live-marks").get_attribute("data-pointer")
    assert [round(float(v)) for v in pointer.split(",")] == [9, 20, 40]
    pages["alice"].screenshot(path=str(artifacts / "live-alice-follows.png"))


def _frame(page) -> str:
    return image(page).get_attribute("data-frame")


def test_a_learners_moves_stay_theirs_and_a_forced_change_is_refused(pages, service, artifacts):
    bob, teacher, alice = pages["bob"], pages["teacher"], pages["alice"]
    bob.mouse.move(*pixel_centre(image(bob), 32, 32))
    bob.mouse.wheel(0, -100)
    wait_for(bob, "() => document.querySelector('.dt-delineator').dataset.liveAttached === '0'")
    assert _frame(bob) == "8"
    service.settle()
    assert service.state["view"]["slice"] == 9
    assert _frame(teacher) == "9" and _frame(alice) == "9"

    # what only a misbehaving page would send: the service refuses it, the page starts again
    bob.evaluate(
        "() => { const live = document.querySelector('.dt-delineator').dtLive;"
        " live.provider.change(() => live.provider.doc.getMap('view').set('slice', 0)); }"
    )
    with screenshot_on_failure(bob, artifacts / "live-bob-refused.png"):
        wait_for(
            bob,
            "() => { const d = document.querySelector('.dt-delineator').dataset;"
            " return d.liveRestarts === '1' && d.live === 'synced'; }",
        )
    assert "may not change view/slice" in bob.evaluate(
        "() => document.querySelector('.dt-delineator').dtLive.provider.refusal"
    )
    service.settle()
    assert service.state["view"]["slice"] == 9
    assert _frame(teacher) == "9" and _frame(alice) == "9"
    widget(bob).locator("button[data-action='follow']").click()  # Re-attach
    wait_for(bob, "() => document.querySelector('.dt-delineator canvas').dataset.frame === '9'")


def test_the_presenter_hands_the_lead_to_a_learner_and_takes_it_back(pages, service):
    teacher, alice, bob = pages["teacher"], pages["alice"], pages["bob"]
    person = widget(teacher).locator(".dt-live-person[data-person='alice']")
    person.locator("button[data-action='give-lead']").click()
    for page in pages.values():
        wait_for(
            page, "() => document.querySelector('.dt-delineator').dataset.liveLead === 'alice'"
        )
    alice.mouse.move(*pixel_centre(image(alice), 32, 32))
    alice.mouse.wheel(0, -100)
    for page in (teacher, bob):
        wait_for(
            page, "() => document.querySelector('.dt-delineator canvas').dataset.frame === '8'"
        )
    person.locator("button[data-action='take-lead']").click()
    for page in pages.values():
        wait_for(
            page, "() => document.querySelector('.dt-delineator').dataset.liveLead === 'teacher'"
        )
    teacher.mouse.move(*pixel_centre(image(teacher), 32, 32))
    teacher.mouse.wheel(0, 100)
    for page in (alice, bob):
        wait_for(
            page, "() => document.querySelector('.dt-delineator canvas').dataset.frame === '9'"
        )
    alice.mouse.wheel(0, 100)  # no longer hers to move: she looks around alone
    wait_for(alice, "() => document.querySelector('.dt-delineator').dataset.liveAttached === '0'")
    service.settle()
    assert service.state["view"]["slice"] == 9 and service.state["session"]["lead"] == "teacher"
    widget(alice).locator("button[data-action='follow']").click()
    wait_for(alice, "() => document.querySelector('.dt-delineator canvas').dataset.frame === '9'")


def _stroke(page, row: float, cols: tuple[float, float], steps: int = 6) -> None:
    canvas = image(page)
    page.mouse.move(*pixel_centre(canvas, row, cols[0]))
    page.mouse.down()
    page.mouse.move(*pixel_centre(canvas, row, cols[1]), steps=steps)
    page.mouse.up()


def _colour_count(page, colour: str, rows: slice, cols: slice) -> int:
    """Pixels of the others' layers canvas in ``colour`` ("#rrggbb") within a box."""
    return int(_layer_mask(page, colour)[rows, cols].sum())


def _layer_mask(page, colour: str) -> np.ndarray:
    """Where the others' layers canvas shows ``colour`` (a layer's inside is translucent,
    and a canvas keeps such pixels premultiplied: their colour comes back within a few
    levels)."""
    pixels, _ = canvas_rgba_and_data(widget(page).locator("canvas.dt-live-layers"))
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    near = (np.abs(pixels[..., :3].astype(int) - rgb) <= 4).all(axis=-1)
    return near & (pixels[..., 3] > 0)


def _drawn(page) -> int:
    return int(widget(page).get_attribute("data-live-drawn") or 0)


def test_the_presenter_sees_each_learners_layer_in_their_colour(pages, service, artifacts):
    teacher, alice, bob = pages["teacher"], pages["alice"], pages["bob"]
    _stroke(alice, 22, (14, 26))
    _stroke(bob, 42, (34, 46))
    for page in (alice, bob):
        wait_for(page, "() => document.querySelector('.dt-delineator').dataset.liveEdits === '1'")
    with screenshot_on_failure(teacher, artifacts / "live-teacher-layers.png"):
        wait_for(
            teacher, "() => Number(document.querySelector('.dt-delineator').dataset.liveDrawn) >= 2"
        )
    colours = {n: service.state["present"][n]["colour"] for n in ("alice", "bob")}
    assert colours["alice"] != colours["bob"]
    near_alice, near_bob = (slice(18, 27), slice(10, 31)), (slice(38, 47), slice(30, 51))
    assert _colour_count(teacher, colours["alice"], *near_alice) > 20
    assert _colour_count(teacher, colours["bob"], *near_bob) > 20
    assert _colour_count(teacher, colours["bob"], *near_alice) == 0
    teacher.mouse.move(*pixel_centre(image(teacher), 22, 20))
    assert widget(teacher).locator(".dt-live-who").inner_text() == "Alice Martin"
    teacher.screenshot(path=str(artifacts / "live-teacher-layers.png"))
    # learners see only their own until the presenter shows the class everyone's
    assert widget(alice).locator("canvas.dt-live-layers").is_hidden()
    widget(teacher).locator("button[data-action='reveal-layers']").click()
    wait_for(alice, "() => !document.querySelector('canvas.dt-live-layers').hidden")
    assert _colour_count(alice, colours["bob"], *near_bob) > 20
    assert _colour_count(alice, colours["alice"], *near_alice) == 0  # her own: her labels


def test_a_learner_who_drops_mid_stroke_loses_nothing(pages, service, network, artifacts):
    teacher, alice = pages["teacher"], pages["alice"]
    drawn = _drawn(teacher)
    joins = int(widget(alice).get_attribute("data-live-joins"))
    canvas = image(alice)
    alice.mouse.move(*pixel_centre(canvas, 30, 12))
    alice.mouse.down()
    alice.mouse.move(*pixel_centre(canvas, 30, 16), steps=3)
    network.drop(alice.context)
    with screenshot_on_failure(alice, artifacts / "live-alice-offline.png"):
        wait_for(alice, "() => document.querySelector('.dt-delineator').dataset.live === 'offline'")
    alice.mouse.move(*pixel_centre(canvas, 30, 24), steps=4)
    alice.mouse.up()
    _stroke(alice, 33, (12, 20))  # and another, while away
    wait_for(alice, "() => document.querySelector('.dt-delineator').dataset.liveEdits === '3'")
    alice.screenshot(path=str(artifacts / "live-alice-offline.png"))
    assert _drawn(teacher) == drawn
    network.restore(alice.context)
    with screenshot_on_failure(alice, artifacts / "live-alice-back.png"):
        wait_for(
            alice,
            "(n) => { const d = document.querySelector('.dt-delineator').dataset;"
            " return d.live === 'synced' && Number(d.liveJoins) > n; }",
            joins,
        )
    wait_for(teacher, "(n) => Number(document.querySelector('.dt-delineator').dataset.liveDrawn) >= n",
             drawn + 2)  # fmt: skip
    service.pump(lambda c: len(c.state["layers"]["alice"]["edits"]) == 3)
    # the presenter sees on slice 9 exactly what alice's edits draw there, and what she sees
    labels, skipped = apply_edits(service.state["layers"]["alice"]["edits"], SHAPE)
    assert not skipped and labels[9, 30, 12:25].all() and labels[9, 33, 12:21].all()
    seen = _layer_mask(teacher, service.state["present"]["alice"]["colour"])
    hers = canvas_rgba_and_data(widget(alice).locator("canvas.dt-viewer-overlay"))[0][..., 3] > 0
    assert np.array_equal(seen[:37], labels[9, :37] > 0)
    assert np.array_equal(hers[:37], labels[9, :37] > 0)
    teacher.screenshot(path=str(artifacts / "live-teacher-after-drop.png"))


def _click(page, row: float, col: float) -> None:
    page.mouse.click(*pixel_centre(image(page), row, col))


def test_a_poll_collects_the_learners_clicks_as_a_heat_map(pages, service, artifacts):
    teacher, alice, bob = pages["teacher"], pages["alice"], pages["bob"]
    panel = widget(teacher)
    panel.locator("input[data-control='poll-question']").fill("Click where the nodule is")
    panel.locator("button[data-action='poll-ask']").click()
    strokes = {n: widget(pages[n]).get_attribute("data-sent") for n in ("alice", "bob")}
    for page, (row, col) in ((alice, (44, 18)), (bob, (46, 20))):
        wait_for(page, "() => document.querySelector('.dt-live-question').textContent"
                 ".startsWith('Click where the nodule is')")  # fmt: skip
        _click(page, row, col)
    service.pump(lambda c: len(c.state["poll"]["clicks"]) == 2)
    clicks = service.state["poll"]["clicks"]
    assert clicks["alice"] == {"frame": 9, "row": 44, "column": 18, "asked": 1}
    assert clicks["bob"] == {"frame": 9, "row": 46, "column": 20, "asked": 1}
    for name, page in (("alice", alice), ("bob", bob)):  # a click answers; it paints nothing
        assert widget(page).get_attribute("data-sent") == strokes[name]
    with screenshot_on_failure(teacher, artifacts / "live-teacher-poll.png"):
        wait_for(teacher, "() => document.querySelector('.dt-live-poll-count').textContent"
                 " === '2 click(s)'")  # fmt: skip
    heat = canvas_rgba_and_data(panel.locator("canvas.dt-live-heat"))[0][..., 3]
    assert heat[45, 19] > heat[30, 50] == 0  # warm where the clicks gathered, clear elsewhere
    assert widget(alice).locator("canvas.dt-live-heat").is_hidden()  # not shown to the class yet
    panel.locator("button[data-action='poll-mark']").click()
    _click(teacher, 45, 19)
    panel.locator("button[data-action='poll-reveal']").click()
    panel.locator("button[data-action='poll-close']").click()
    service.pump(lambda c: c.state["poll"]["answer"] is not None and not c.state["poll"]["open"])
    assert service.state["poll"]["answer"] == {"frame": 9, "row": 45, "column": 19}
    wait_for(alice, "() => !!document.querySelector('.dt-live-marks circle.dt-live-answer')")
    assert not widget(alice).locator("canvas.dt-live-heat").is_hidden()
    teacher.screenshot(path=str(artifacts / "live-teacher-poll.png"))
    alice.screenshot(path=str(artifacts / "live-alice-poll-answer.png"))


def _outline(mask: np.ndarray) -> np.ndarray:
    """The voxels of a slice's mask beside one outside it, or on the slice's border."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def _ramp(page) -> dict[int, tuple[int, ...]]:
    """The legend's colour of each count ("k of N drew here")."""
    steps = widget(page).locator(".dt-live-ramp-step")
    return {
        int(steps.nth(i).get_attribute("data-count")): tuple(
            int(v) for v in steps.nth(i).get_attribute("data-rgb").split(",")
        )
        for i in range(steps.count())
    }


def _shows(page, which: str, made: str) -> None:
    """Wait until ``page`` draws the agreement map or consensus (``which``) made at ``made``."""
    wait_for(page, "([w, m]) => document.querySelector('.dt-delineator').dataset[w] === m",
             [which, made])  # fmt: skip


def test_the_presenter_sees_the_class_agreement_and_shows_it_to_the_class(
    pages, service, artifacts
):
    teacher, alice, bob = pages["teacher"], pages["alice"], pages["bob"]
    _stroke(bob, 31, (18, 30))  # over alice's strokes on rows 30 and 33: both drew there
    wait_for(bob, "() => document.querySelector('.dt-delineator').dataset.liveEdits === '2'")
    service.pump(lambda c: len(c.state["layers"]["bob"]["edits"]) == 2)
    for page in (alice, bob):  # the presenter's buttons are not a learner's
        assert widget(page).locator("button[data-action='agreement']").is_hidden()
        assert widget(page).locator("button[data-action='scores']").is_hidden()
    panel = widget(teacher)
    panel.locator("button[data-action='agreement']").click()
    service.pump(lambda c: c.state["consensus"].get("structures"))
    made = service.state["consensus"]["made"]
    (structure,) = service.state["consensus"]["structures"]
    assert structure["raters"] == ["alice", "bob"]  # the presenter drew nothing
    with screenshot_on_failure(teacher, artifacts / "live-teacher-agreement.png"):
        _shows(teacher, "liveAgreement", made)
        _shows(teacher, "liveConsensus", made)

    # the map counts, voxel by voxel, who drew: the legend's "2 of 2" colour where both did
    drew = {
        n: apply_edits(service.state["layers"][n]["edits"], SHAPE)[0][9] > 0 for n in ("alice", "bob")
    }  # fmt: skip
    counts = drew["alice"].astype(int) + drew["bob"]
    assert (counts == 2).sum() > 5 and (counts == 1).sum() > 20
    written = apply_edits([{"box": structure["box"], "runs": structure["agreement"]}], SHAPE)[0]
    assert np.array_equal(written[9], counts)
    ramp = _ramp(teacher)
    assert sorted(ramp) == [1, 2] and ramp[1] != ramp[2]
    legend = widget(teacher).locator(".dt-live-legend").inner_text()
    assert " ".join(legend.split()) == "1 2 of 2 consensus"
    expected = np.zeros((*SHAPE[1:], 4), np.uint8)
    for k in (1, 2):
        expected[counts == k] = (*ramp[k], 255)
    seen = canvas_rgba_and_data(panel.locator("canvas.dt-live-agreement"))[0]
    assert np.array_equal(seen, expected), "the map is not the count of who drew"
    # the consensus (STAPLE of the two) is outlined in white
    consensus = apply_edits([{"box": structure["box"], "runs": structure["consensus"]}], SHAPE)[0]
    outline = canvas_rgba_and_data(panel.locator("canvas.dt-live-consensus"))[0]
    assert consensus[9].any()
    assert np.array_equal(outline[..., 3] > 0, _outline(consensus[9] > 0))
    assert (outline[outline[..., 3] > 0][:, :3] == 255).all()
    overlap = np.argwhere(counts == 2)[0]
    teacher.mouse.move(*pixel_centre(image(teacher), *overlap))
    assert widget(teacher).locator(".dt-live-who").inner_text() == (
        "Alice Martin, Bob Okafor, 2 of 2 drew here"
    )
    teacher.screenshot(path=str(artifacts / "live-teacher-agreement.png"))
    # the map sums the layers up and takes their place; hidden on this screen, they are back
    assert panel.locator("canvas.dt-live-layers").is_hidden()
    panel.locator("button[data-action='show-agreement']").click()
    _shows(teacher, "liveAgreement", "")
    assert panel.locator("canvas.dt-live-agreement").is_hidden()
    assert not panel.locator("canvas.dt-live-layers").is_hidden()
    assert not panel.locator("canvas.dt-live-consensus").is_hidden()
    panel.locator("button[data-action='show-agreement']").click()
    _shows(teacher, "liveAgreement", made)

    # the class sees nothing of it until the presenter shows it, then what the presenter sees
    wait_for(alice, "(m) => document.querySelector('.dt-delineator').dtLive.agreement.made === m",
             made)  # fmt: skip
    for name in ("agreement", "consensus"):
        assert widget(alice).locator(f"canvas.dt-live-{name}").is_hidden()
    assert widget(alice).locator(".dt-live-agreement-box").is_hidden()
    panel.locator("button[data-action='reveal-agreement']").click()
    with screenshot_on_failure(alice, artifacts / "live-alice-agreement.png"):
        _shows(alice, "liveAgreement", made)
    seen = canvas_rgba_and_data(widget(alice).locator("canvas.dt-live-agreement"))[0]
    assert np.array_equal(seen, expected)
    assert widget(alice).locator("canvas.dt-live-consensus").is_hidden()
    assert widget(alice).locator("canvas.dt-live-layers").is_hidden()
    assert _ramp(alice) == ramp
    panel.locator("button[data-action='reveal-consensus']").click()
    _shows(alice, "liveConsensus", made)
    shown = canvas_rgba_and_data(widget(alice).locator("canvas.dt-live-consensus"))[0]
    assert np.array_equal(shown, outline)
    alice.screenshot(path=str(artifacts / "live-alice-agreement.png"))


def test_the_presenter_reads_the_scores_and_a_learner_cannot(
    pages, people, hub, service, artifacts
):
    teacher, alice = pages["teacher"], pages["alice"]
    session_id = service.session["id"]
    panel = widget(teacher)
    panel.locator("button[data-action='scores']").click()
    with screenshot_on_failure(teacher, artifacts / "live-teacher-scores.png"):
        wait_for(teacher, "() => document.querySelectorAll('.dt-live-scores tbody tr').length >= 2"
                 " && document.querySelector('.dt-live-scores-picture').naturalWidth > 0")  # fmt: skip
    scores = people["teacher"].get(f"{hub.url}/services/live/api/sessions/{session_id}/scores")
    assert scores.status_code == 200, scores.text
    rows = {r["username"]: r for r in scores.json()["rows"]}
    assert sorted(rows) == ["alice", "bob"]
    table = panel.locator(".dt-live-scores-table").first
    for name, full in (("alice", "Alice Martin"), ("bob", "Bob Okafor")):
        row = table.locator(f"tr[data-person='{name}']")
        assert row.locator("td").first.inner_text() == full
        dice = row.locator("td[data-metric='dice']")
        assert float(dice.get_attribute("data-value")) == rows[name]["dice"]
        assert dice.inner_text() == f"{rows[name]['dice']:.3f}"
    clicks = panel.locator(".dt-live-scores-poll tr[data-person]")
    assert clicks.count() == 2  # the poll's two clicks, measured from the marked answer
    teacher.locator(".dt-live-scores").screenshot(path=str(artifacts / "live-teacher-scores.png"))

    # a learner sees no scores, and what her page forces is refused
    assert widget(alice).locator(".dt-live-scores").is_hidden()
    made = service.state["consensus"]["made"]
    alice.evaluate("() => document.querySelector('.dt-delineator').dtLive.request('consensus', {})")
    wait_for(alice, "() => document.querySelector('.dt-live-error').textContent !== ''")
    assert widget(alice).locator(".dt-live-error").inner_text() == (
        "the live service refused (403): alice is not an instructor of ct101"
    )
    forced = alice.evaluate(
        """async (id) => {
          const api = `/services/live/api/sessions/${id}`;
          const post = await fetch(`${api}/consensus`, {method: "POST", body: "{}"});
          const read = await fetch(`${api}/scores`, {mode: "no-cors"});
          return [post.status, read.status, await read.text()];
        }""",
        session_id,
    )
    assert forced[:2] == [403, 403]
    assert "alice is not an instructor of ct101" in forced[2]
    service.settle()
    assert service.state["consensus"]["made"] == made


def _lab_menu(page, menu: str, item: str) -> None:
    """Click ``item`` (its label, up to an ellipsis) in Lab's menu ``menu``."""
    page.locator(f".lm-MenuBar-item:has-text('{menu}')").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}")).click()


def _lab_run_all(page) -> None:
    """Run All Cells, as the presenter would; once more if the kernel was not wired up yet
    (a Run All sent too early runs nothing, as tests/browser/test_hub_course.py found)."""
    started = page.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]")).first
    for _ in range(4):
        _lab_menu(page, "Run", "Run All Cells")
        try:
            started.wait_for(state="attached", timeout=8_000)
            return
        except Exception:
            continue


def _leading(page) -> None:
    """Wait until ``page``'s one widget is synced and leads, its picture drawn."""
    wait_for(
        page,
        "() => { const w = document.querySelectorAll('.dt-delineator');"
        " if (w.length !== 1) return false; const d = w[0].dataset;"
        " return d.live === 'synced' && d.liveLead === 'teacher'"
        " && w[0].querySelector('canvas.dt-viewer-canvas').dataset.rendered === '1'; }",
        timeout=90_000,
    )


def test_the_presenters_kernel_restarting_does_not_end_the_session(hub, pages, service, artifacts):
    """The presenter leaves the Voilà app for the notebook in Lab, restarts its kernel and
    runs it again: the class stays where it was, and follows them as soon as they move."""
    alice = pages["alice"]
    code = service.session["code"]
    frames = {n: _frame(pages[n]) for n in ("alice", "bob")}
    drawn = canvas_rgba_and_data(widget(alice).locator("canvas.dt-live-agreement"))[0]
    own = canvas_rgba_and_data(widget(alice).locator("canvas.dt-viewer-overlay"))[0]
    context = pages["teacher"].context
    pages["teacher"].close()  # the Voilà app, and its kernel, are gone
    lab = pages["teacher"] = context.new_page()

    def still_the_class() -> None:
        service.settle()
        assert service.state["session"]["ended"] is False
        assert service.state["session"]["lead"] == "teacher"
        for name in ("alice", "bob"):
            page = pages[name]
            assert widget(page).get_attribute("data-live") == "synced", name
            assert _frame(page) == frames[name], f"{name} no longer sees the same slice"
        seen = canvas_rgba_and_data(widget(alice).locator("canvas.dt-live-agreement"))[0]
        assert np.array_equal(seen, drawn), "alice lost the class's agreement map"
        mine = canvas_rgba_and_data(widget(alice).locator("canvas.dt-viewer-overlay"))[0]
        assert np.array_equal(mine, own), "alice lost her own layer"

    still_the_class()
    lab.goto(f"{hub.url}/user/teacher/lab/tree/live.ipynb")
    with screenshot_on_failure(lab, artifacts / "live-teacher-lab.png"):
        lab.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        _lab_run_all(lab)  # go_live: the session they present, not a new one
        _leading(lab)
    assert widget(lab).locator(".dt-live-code").inner_text().strip() == code
    assert _frame(lab) == frames["alice"]  # the class's slice, not the new widget's
    _lab_menu(lab, "Kernel", "Restart Kernel and Run All Cells")
    lab.locator(".jp-Dialog button.jp-mod-accept").click()
    lab.wait_for_function(  # the restart: the widget lost its kernel, its output is cleared
        "() => document.querySelectorAll('.dt-delineator').length !== 1"
        " || document.querySelector('.dt-delineator').dataset.live !== 'synced'",
        timeout=WAIT,
    )
    still_the_class()
    with screenshot_on_failure(lab, artifacts / "live-teacher-lab-restart.png"):
        _leading(lab)
    assert widget(lab).locator(".dt-live-code").inner_text().strip() == code
    service.settle()
    assert _frame(lab) == frames["alice"], (
        f"lab {_frame(lab)}, alice {_frame(alice)}, document {service.state['view']},"
        f" {lab.locator('.dt-delineator').count()} widget(s) in Lab"
    )
    canvas = image(lab)
    canvas.scroll_into_view_if_needed()
    lab.mouse.move(*pixel_centre(canvas, 32, 32))
    lab.mouse.wheel(0, 100)
    with screenshot_on_failure(lab, artifacts / "live-teacher-lab-wheel.png"):
        wait_for(lab, "() => document.querySelector('.dt-delineator canvas.dt-viewer-canvas')"
                 ".dataset.frame === '10' && document.querySelector('.dt-delineator canvas"
                 ".dt-viewer-canvas').dataset.rendered === '1'")  # fmt: skip
    seen, shown = _shown(lab)
    for name in ("alice", "bob"):
        page = pages[name]
        with screenshot_on_failure(page, artifacts / f"live-{name}-after-restart.png"):
            wait_for(
                page,
                "(f) => { const d = document.querySelector("
                "'.dt-delineator canvas.dt-viewer-canvas').dataset;"
                " return d.frame === f && d.rendered === '1'; }",
                shown["frame"],
            )
        assert np.array_equal(_shown(page)[0], seen), f"{name} sees other pixels than the presenter"
    lab.screenshot(path=str(artifacts / "live-teacher-lab-restart.png"))


# Every output of the page 0 px wide, as Lab lays out an output area it has not sized yet.
ZERO_WIDTH = """() => {
  const style = document.createElement('style');
  style.id = 'dt-zero-width';
  style.textContent = `.jp-OutputArea-output { flex: 0 0 0 !important; width: 0 !important;
    min-width: 0 !important; overflow: hidden !important; }`;
  document.head.append(style);
}"""
# The widget's cell taken out of the page and put back, as Lab's windowed notebook does.
DETACH_AND_BACK = """async () => {
  const node = document.querySelector('.jp-Notebook .dt-delineator').closest('.jp-Cell');
  const mark = document.createComment('taken out by test_live_class.py');
  node.replaceWith(mark);
  await new Promise((resolve) => setTimeout(resolve, 300));
  mark.replaceWith(node);
}"""
MIRRORED = "1.2.826.0.1.3680043.8.498.7707"
# alice's Viewer of a study: the lesson's CT mirrored (another series) and the CT itself
VIEWER_OF_A_STUDY = f"""import copy
from dataclasses import replace
from dicomteach.widgets import Viewer
header = copy.deepcopy(ct.header)
header.SeriesInstanceUID, header.SeriesDescription = "{MIRRORED}", "Mirrored"
v = Viewer([replace(ct, pixels=ct.pixels[:, ::-1].copy(), header=header), ct])
v.join("CODE")
v"""
# The Viewer of a study shows series i, drawn, in its session.
SHOWS_SERIES = """(i) => {
  const v = document.querySelector('.jp-Notebook .dt-viewer:not(.dt-delineator)');
  return !!v && v.dataset.live === 'synced'
    && v.querySelector(`button[data-series="${i}"]`)?.getAttribute('aria-pressed') === 'true'
    && v.querySelector('canvas.dt-viewer-canvas').dataset.rendered === '1';
}"""
LIVE_CANVASES = ("dt-viewer-canvas", "dt-viewer-overlay", "dt-live-agreement", "dt-live-consensus")


def _canvases(root) -> dict[str, np.ndarray]:
    """The pixels of a live widget's picture: the image, her labels, the class's maps."""
    return {name: canvas_rgba_and_data(root.locator(f"canvas.{name}"))[0] for name in LIVE_CANVASES}


def _same_as_voila(
    lab_widget, voila, step: str, artifacts, drawn: bool = True, names=LIVE_CANVASES
) -> None:
    """``lab_widget`` draws what alice's Voilà app draws, canvas by canvas (a few looks:
    a view redraws on the animation frame after a change)."""
    for _ in range(20):
        seen, expected = _canvases(lab_widget), _canvases(widget(voila))
        if all(np.array_equal(seen[n], expected[n]) for n in names):
            break
        lab_widget.page.wait_for_timeout(100)
    lab_widget.page.screenshot(path=str(artifacts / f"live-alice-lab-{step}.png"))
    for name in names:
        shown = [int((c[name][..., 3] > 0).sum()) for c in (seen, expected)]
        assert np.array_equal(seen[name], expected[name]), f"{step}: {name} differs {shown}"
    if drawn:  # on the slice the class drew on
        for name in set(names) & {"dt-live-agreement", "dt-viewer-overlay"}:
            assert seen[name][..., 3].any(), f"{step}: {name} is empty"


def _presenter_wheels(page, delta: int) -> str:
    """The presenter's next (``delta`` > 0) or previous slice, by key; the frame awaited."""
    to = str(int(_frame(page)) + (1 if delta > 0 else -1))
    widget(page).focus()
    page.keyboard.press("ArrowDown" if delta > 0 else "ArrowUp")
    wait_for(page, "(f) => document.querySelector('.dt-delineator canvas').dataset.frame === f", to)
    return to


def test_a_live_widget_in_lab_survives_width_0_and_re_attaching(
    hub, people, pages, service, artifacts
):
    """alice opens her lesson in Lab too, where the output is laid out at width 0 at
    first, then taken out of the page and put back, then shown in a new view: each time
    she follows the presenter, with her layer and the class's map drawn."""
    teacher, voila = pages["teacher"], pages["alice"]
    join = f'd.join("{service.session["code"]}")'
    study = VIEWER_OF_A_STUDY.replace("CODE", service.session["code"])
    put = people["alice"].server_api(
        "PUT", "contents/live-lab.ipynb",
        json={"type": "notebook", "format": "json", "content": _notebook(OPEN, join, study)},
    )  # fmt: skip
    assert put.status_code in (200, 201), put.text
    lab = voila.context.new_page()
    try:
        lab.goto(f"{hub.url}/user/alice/lab/tree/live-lab.ipynb")
        lab.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        lab.evaluate(ZERO_WIDTH)
        with screenshot_on_failure(lab, artifacts / "live-alice-lab-zero-width.png"):
            _lab_run_all(lab)
            wait_for(lab, "() => document.querySelector('.dt-delineator')?.dataset.live === 'synced'",
                     timeout=90_000)  # fmt: skip
        pad = lab.locator(".jp-Notebook .dt-delineator")
        assert pad.bounding_box()["width"] == 0
        lab.evaluate("() => document.getElementById('dt-zero-width').remove()")
        frame = _presenter_wheels(teacher, -100)  # back to the slice the class drew on
        for page in (lab, voila):
            wait_for(page, "(f) => document.querySelector('.dt-delineator canvas').dataset.frame"
                     " === f", frame)  # fmt: skip
        _same_as_voila(pad, voila, "revealed", artifacts)

        lab.evaluate(DETACH_AND_BACK)
        frame = _presenter_wheels(teacher, 100)
        for page in (lab, voila):
            wait_for(page, "(f) => document.querySelector('.dt-delineator canvas').dataset.frame"
                     " === f", frame)  # fmt: skip
        _same_as_voila(pad, voila, "re-attached", artifacts, drawn=False)

        # Lab's "Create New View for Cell Output": a second view of the same widget
        with screenshot_on_failure(lab, artifacts / "live-alice-lab-output-view.png"):
            lab.locator(".jp-Cell:has(.dt-delineator) .jp-InputPrompt").first.click(button="right")
            lab.locator(".lm-Menu-itemLabel", has_text="New View for Cell Output").click()
            wait_for(lab, "() => document.querySelector('.jp-LinkedOutputView .dt-delineator')"
                     "?.dataset.live === 'synced'", timeout=20_000)  # fmt: skip
        view = lab.locator(".jp-LinkedOutputView .dt-delineator")
        frame = _presenter_wheels(teacher, -100)
        for page in (lab, voila):
            wait_for(page, "(f) => [...document.querySelectorAll('.dt-delineator canvas."
                     "dt-viewer-canvas')].every((c) => c.dataset.frame === f)", frame)  # fmt: skip
        _same_as_voila(view, voila, "output-view", artifacts)
        _same_as_voila(pad, voila, "beside-output-view", artifacts)

        # her Viewer of a study of two series, joined on the session's (its second),
        # follows the presenter to the other series and back; the class's map is drawn
        # on the session's series only
        viewer = lab.locator(".jp-Notebook .dt-viewer:not(.dt-delineator)")
        image_and_map = ("dt-viewer-canvas", "dt-live-agreement", "dt-live-consensus")
        wait_for(lab, SHOWS_SERIES, 1)
        _same_as_voila(viewer, voila, "viewer", artifacts, names=image_and_map)

        def presenter_shows(uid: str) -> None:  # as a presenter's Viewer of the study would
            # afresh: the service closes a connection that answered no ping for 60 s
            if service.ws is not None:
                service.ws.close()
            service.connect().settle()
            service.change(lambda doc: doc.get("view", type=Map).__setitem__("series", uid))
            service.settle()
            assert service.state["view"]["series"] == uid, (service.refused, service.closed)

        presenter_shows(MIRRORED)
        with screenshot_on_failure(lab, artifacts / "live-alice-lab-series.png"):
            wait_for(lab, SHOWS_SERIES, 0)
        seen = _canvases(viewer)
        assert not np.array_equal(seen["dt-viewer-canvas"], _shown(voila)[0])
        assert not seen["dt-live-agreement"][..., 3].any(), "a map drawn on another series"
        assert viewer.get_attribute("data-live-attached") == "1"
        presenter_shows(service.session["study"]["series"])
        wait_for(lab, SHOWS_SERIES, 1)
        _same_as_voila(viewer, voila, "viewer-back", artifacts, names=image_and_map)
    finally:
        lab.close()


def test_ending_the_session_saves_each_learners_layer_as_they_drew_it(hub, pages, service):
    from dicomteach.roi.npz import load_delineation

    widget(pages["teacher"]).locator("button[data-action='end']").click()
    for page in pages.values():
        live_state(page, "ended")
    folder = hub.state / "live" / service.session["id"]
    deadline = time.monotonic() + 60
    while "saved" not in json.loads((folder / "session.json").read_text()):
        assert time.monotonic() < deadline, "the service saved no layer in 60 s"
        time.sleep(0.2)  # the service saves after it has closed every connection
    saved_list = json.loads((folder / "session.json").read_text())["saved"]
    assert sorted(saved_list["layers"]) == ["alice", "bob"]
    assert sorted(saved_list["polls"]) == ["alice", "bob"]  # each poll click, gradable
    saved = folder / "saved"
    for name in ("alice", "bob"):
        layer = load_delineation(saved / f"{name}.npz")
        own = load_delineation(hub.state / "homes" / f"{hub.prefix}{name}" / "live.npz")
        assert layer.mask.any() and np.array_equal(layer.mask > 0, own.mask > 0), name
        assert (saved / f"{name}-seg.dcm").exists()
    assert not (saved / "teacher.npz").exists()  # the presenter drew nothing
