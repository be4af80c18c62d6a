"""The live-session service, run by a real hub, used by an instructor and learners over websockets.

One hub for the module (``tests/hubclient.py``): the class list puts alice and
bob in course ct101 and carol in mr202; teacher teaches ct101 and mrteach
mr202 (each course installed by ``dicomteach hub setup``). Each person logs in through the hub's form and opens
``/services/live/`` once (the OAuth round trip a browser makes), then talks to
the service as a widget would: REST for the session and a pycrdt document
over the sync websocket (``tests/liveclient.py``). The tests run in order on
one session, as a class would: made, joined, followed, refused, dropped,
restarted, ended. The first tests need no hub.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
import websocket
from pycrdt import Doc, Map

from dicomteach.live.document import Actor, Guard, Refused, add_participant, new_document
from dicomteach.live.store import SessionFiles, read_records
from hubclient import Hub, Learner
from liveclient import LiveClient

pytest.importorskip("jupyterhub")
pytest.importorskip("nativeauthenticator")

ROOT = Path(__file__).resolve().parents[1]
CLASS = """username,name,role,course
alice,Alice Martin,learner,ct101
bob,Bob Okafor,learner,ct101
carol,Carol Diaz,learner,mr202
"""
STUDY = {"sample": "ct-chest", "seed": 0, "options": {"size": 96, "slices": 40}}
SHAPE = (40, 96, 96)  # the smallest chest CT of the library whose nodule has a reference outline


def edit(k: int, r0: int, c0: int, size: int = 4, label: int = 1) -> dict:
    """A square of ``label`` on slice ``k``, as a front end sends a finished stroke."""
    return {"box": [[k, k + 1], [r0, r0 + size], [c0, c0 + size]], "runs": [label, size * size]}


def edits_of(client: LiveClient, name: str) -> list:
    """``name``'s edits as ``client`` has them so far ([] before its first sync)."""
    return client.state["layers"].get(name, {}).get("edits", [])


def draw(name: str, *edits: dict):
    def append(doc: Doc) -> None:
        for e in edits:
            doc.get("layers", type=Map)[name]["edits"].append(e)

    return append


# ------------------------------------------------------------------ without a hub


def _guarded() -> tuple[Doc, Guard]:
    doc = new_document({"id": "s", "course": "ct101", "presenter": "teacher"})
    for name, role in (("teacher", "instructor"), ("alice", "learner"), ("bob", "learner")):
        add_participant(doc, Actor(name, role), name.title(), "#000000")
    return doc, Guard(doc)


def _set(root: str, *keys: str, value):
    """A change setting ``root/keys...`` to ``value``, as a client would make it."""

    def change(doc: Doc) -> None:
        target = doc.get(root, type=Map)
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _update_by(doc: Doc, change) -> bytes:
    copy = Doc()
    copy.apply_update(doc.get_update())
    before = copy.get_state()
    change(copy)
    return copy.get_update(before)


def test_the_guard_keeps_each_person_to_their_own_parts():
    doc, guard = _guarded()
    alice, teacher = Actor("alice", "learner"), Actor("teacher", "instructor")
    mine = _update_by(doc, draw("alice", edit(0, 0, 0)))
    guard.check(mine, alice)
    doc.apply_update(mine)
    theirs = _update_by(doc, draw("bob", edit(0, 0, 0)))
    with pytest.raises(Refused, match=r"alice \(learner\) may not change layers/bob/edits"):
        guard.check(theirs, alice)
    click = _update_by(doc, _set("poll", "clicks", "alice", value={"row": 3}))
    guard.check(click, alice)
    other = _update_by(doc, _set("poll", "clicks", "bob", value={"row": 3}))
    with pytest.raises(Refused, match="may not change poll/clicks"):
        guard.check(other, alice)
    reveal = _update_by(doc, _set("reveal", "layers", value=True))
    with pytest.raises(Refused, match="may not change reveal"):
        guard.check(reveal, alice)
    guard.check(reveal, teacher)
    lead = _update_by(doc, _set("session", "lead", value="alice"))
    with pytest.raises(Refused, match="may not change session"):
        guard.check(lead, teacher)
    root = _update_by(doc, _set("notes", "x", value=1))
    with pytest.raises(Refused, match="may not add the root 'notes'"):
        guard.check(root, teacher)
    # after refusals the guard still accepts what is allowed, and the document never took them
    guard.check(_update_by(doc, draw("alice", edit(1, 0, 0))), alice)
    assert doc.get("layers", type=Map)["bob"]["edits"].to_py() == []
    assert doc.get("reveal", type=Map)["layers"] is False


def test_the_guard_refuses_parts_that_wait_for_an_update_it_never_saw():
    doc, guard = _guarded()
    alice = Actor("alice", "learner")
    copy = Doc()
    copy.apply_update(doc.get_update())
    copy.get("layers", type=Map)["alice"]["edits"].append(edit(0, 0, 0))
    middle = copy.get_state()
    copy.get("layers", type=Map)["alice"]["edits"].append(edit(1, 0, 0))
    with pytest.raises(Refused, match="follow an update the service lacks"):
        guard.check(copy.get_update(middle), alice)


def test_a_log_cut_by_a_crash_is_read_up_to_its_last_whole_update(tmp_path):
    files = SessionFiles(tmp_path / "s")
    doc, _ = _guarded()
    files.append(doc.get_update())
    files.close()
    with open(files.log_path, "ab") as log:
        log.write(bytes([200, 1, 5]))  # a record of 200 bytes, cut after one
    again = Doc()
    assert files.load(again) == 1
    assert sorted(again.get("present", type=Map).to_py()) == ["alice", "bob", "teacher"]
    assert read_records(files.log_path)[1] == files.log_path.stat().st_size


# ------------------------------------------------------------------ with a hub


@pytest.fixture(scope="module")
def hub():
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("configurable-http-proxy missing: npm ci (scripts/test.sh runs it)")
    running = Hub(demo=os.geteuid() != 0)
    try:
        running.setup()
        # a second course, taught by someone else: carol's
        first = dict(running.env)
        running.env.update(
            DICOMTEACH_COURSE="mr202",
            DICOMTEACH_ADMIN="mrteach",
            DICOMTEACH_ADMIN_PASSWORD=running.admin_password + "-mr",
        )
        running.setup()
        running.env = first
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
    found = {}
    for name in ("teacher", "alice", "bob", "carol"):
        person = Learner(hub.url, name)
        person.login(hub.passwords[name])
        page = person.get(f"{hub.url}/services/live/")
        assert page.status_code == 200 and f"Signed in as {name}" in page.text, page.text[:300]
        found[name] = person
    return found


def api(person: Learner, method: str, path: str, **kwargs):
    headers = {"X-XSRFToken": person.xsrf("/services/live/")}
    return person.request(
        method, f"{person.hub_url}/services/live/api/{path}", headers=headers, **kwargs
    )


@pytest.fixture(scope="module")
def session(people) -> dict:
    made = api(
        people["teacher"],
        "POST",
        "sessions",
        json={"course": "ct101", "title": "Tumour board 3 Dec", "study": STUDY},
    )
    assert made.status_code == 201, made.text
    return made.json()


@pytest.fixture(scope="module")
def clients(people, session) -> dict[str, LiveClient]:
    made = {n: LiveClient(people[n], session["id"]) for n in ("teacher", "alice", "bob")}
    yield made
    for client in made.values():
        client.close()


def test_only_an_instructor_of_the_course_starts_a_session(people, session):
    assert len(session["code"]) == 6 and session["code"].isalpha() and session["code"].isupper()
    assert session["course"] == "ct101" and session["presenter"] == "teacher"
    refused = api(people["alice"], "POST", "sessions", json={"course": "ct101", "title": "mine"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "alice is not an instructor of ct101"
    other = api(people["teacher"], "POST", "sessions", json={"course": "mr202"})
    assert other.status_code == 403
    anonymous = Learner(people["alice"].hub_url, "nobody")
    assert api(anonymous, "GET", "sessions").status_code == 403


def test_the_course_joins_by_code_and_another_course_cannot(people, session):
    code = session["code"]
    joined = api(people["alice"], "GET", f"join/{code.lower()}")
    assert joined.status_code == 200 and joined.json()["id"] == session["id"]
    assert api(people["carol"], "GET", f"join/{code}").json()["error"] == (
        "carol is not in the course ct101"
    )
    assert api(people["bob"], "GET", "join/ZZZZZZ").status_code == 404
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        LiveClient(people["carol"], session["id"]).connect()
    assert refused.value.status_code == 403


def test_learners_follow_the_presenters_slice_and_window(clients):
    for client in clients.values():
        client.connect()
    teacher, alice, bob = clients["teacher"], clients["alice"], clients["bob"]

    def everyone_present(c: LiveClient) -> bool:
        present = c.state["present"]
        return all(present.get(n, {}).get("online") for n in ("teacher", "alice", "bob"))

    teacher.pump(everyone_present)
    assert teacher.state["present"]["alice"]["name"] == "Alice Martin"
    assert teacher.state["present"]["alice"]["role"] == "learner"
    assert teacher.state["present"]["alice"]["colour"] != teacher.state["present"]["bob"]["colour"]

    def move(doc: Doc) -> None:
        view = doc.get("view", type=Map)
        view["slice"] = 7
        view["window"] = [40, 400]
        view["plane"] = "axial"

    teacher.change(move)
    for learner in (alice, bob):
        learner.pump(lambda c: c.state["view"].get("slice") == 7)
        assert learner.state["view"]["window"] == [40, 400]
    assert not teacher.refused


def test_a_learner_cannot_move_the_view_or_draw_on_another_layer(people, session, clients):
    alice, bob, teacher = clients["alice"], clients["bob"], clients["teacher"]
    alice.change(_set("view", "slice", value=2))
    alice.pump(lambda c: c.closed is not None)
    assert alice.closed.code == 4403
    assert alice.refused == ["alice (learner) may not change view/slice"]
    bob.settle()
    assert bob.state["view"]["slice"] == 7

    # a new document, as the front end makes after a refusal
    alice = clients["alice"] = LiveClient(people["alice"], session["id"]).connect()
    alice.pump(lambda c: "bob" in c.state["layers"])
    alice.change(draw("bob", edit(3, 10, 10)))
    alice.pump(lambda c: c.closed is not None)
    assert alice.refused == ["alice (learner) may not change layers/bob/edits"]
    for other in (bob, teacher):
        other.settle()
        assert other.state["layers"]["bob"]["edits"] == []

    assert api(people["alice"], "POST", f"sessions/{session['id']}/end").status_code == 403
    lead = api(people["alice"], "POST", f"sessions/{session['id']}/lead", json={"to": "alice"})
    assert lead.status_code == 403
    clients["alice"] = LiveClient(people["alice"], session["id"]).connect()


def test_the_presenter_hands_the_lead_to_a_learner_and_takes_it_back(people, session, clients):
    alice, teacher = clients["alice"], clients["teacher"]
    url = f"sessions/{session['id']}/lead"
    given = api(people["teacher"], "POST", url, json={"to": "alice"})
    assert given.json() == {"lead": "alice"}
    alice.pump(lambda c: c.state["session"].get("lead") == "alice")
    alice.change(_set("view", "slice", value=9))
    teacher.pump(lambda c: c.state["view"]["slice"] == 9)
    assert not alice.refused
    assert api(people["teacher"], "POST", url, json={"to": None}).json() == {"lead": "teacher"}
    alice.pump(lambda c: c.state["session"].get("lead") == "teacher")
    alice.change(_set("view", "slice", value=1))
    alice.pump(lambda c: c.closed is not None)
    assert alice.refused == ["alice (learner) may not change view/slice"]
    clients["alice"] = LiveClient(people["alice"], session["id"]).connect()


def test_strokes_drawn_offline_merge_when_the_learner_comes_back(clients):
    alice, bob, teacher = clients["alice"], clients["bob"], clients["teacher"]
    alice.pump(lambda c: c.state["session"].get("lead") == "teacher")
    alice.change(draw("alice", edit(5, 20, 20)))
    teacher.pump(lambda c: len(edits_of(c, "alice")) == 1)
    alice.drop()
    teacher.pump(lambda c: not c.state["present"]["alice"]["online"])
    alice.change(draw("alice", edit(5, 24, 20)))  # offline, mid-lesson
    alice.change(draw("alice", edit(6, 20, 20, label=2)))
    bob.change(draw("bob", edit(5, 40, 40)))
    teacher.change(_set("view", "slice", value=6))
    teacher.settle()
    alice.connect()
    alice.pump(lambda c: c.state["view"].get("slice") == 6 and len(edits_of(c, "bob")) == 1)
    teacher.pump(lambda c: len(edits_of(c, "alice")) == 3)
    bob.pump(lambda c: len(edits_of(c, "alice")) == 3)
    assert teacher.state["layers"]["alice"]["edits"] == [
        edit(5, 20, 20),
        edit(5, 24, 20),
        edit(6, 20, 20, label=2),
    ]
    teacher.pump(lambda c: c.state["present"]["alice"]["online"])


def _service_pid(hub: Hub) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        parent = int(next(line for line in status.splitlines() if line.startswith("PPid:"))[5:])
        if b"dicomteach.live" in command and parent == hub.proc.pid:
            return int(entry.name)
    raise AssertionError("no live service under this hub")


def test_the_session_outlives_a_crash_of_the_service(hub, people, session, clients):
    before = clients["teacher"].state
    pid = _service_pid(hub)
    os.kill(pid, signal.SIGKILL)  # no goodbye: what was sent is on disk or nowhere
    for client in clients.values():
        client.pump(lambda c: c.closed is not None, timeout=30)
    # the hub notices its service died and starts it again (it polls every 30 s)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            answer = api(people["bob"], "GET", f"join/{session['code']}")
            if answer.status_code == 200:
                break
        except OSError:
            pass
        time.sleep(1)
    else:
        pytest.fail(f"the live service did not come back in 120 s:\n{hub.tail()}")
    assert _service_pid(hub) != pid
    again = LiveClient(people["bob"], session["id"]).connect()
    again.pump(lambda c: len(edits_of(c, "alice")) == 3)
    assert again.state["layers"] == before["layers"]
    assert again.state["view"] == before["view"]
    clients["bob"] = again
    clients["teacher"] = LiveClient(people["teacher"], session["id"]).connect()
    clients["alice"] = LiveClient(people["alice"], session["id"]).connect()


def test_ending_keeps_everything_on_disk_and_saves_each_layer(hub, people, session, clients):
    from dicomteach import io
    from dicomteach.roi.npz import load_delineation
    from dicomteach.roi.seg import read_seg
    from dicomteach.samples.cache import lesson_study

    bob = clients["bob"]
    bob.pump(lambda c: c.state["present"].get("alice", {}).get("online"))
    ended = api(people["teacher"], "POST", f"sessions/{session['id']}/end")
    assert ended.status_code == 200, ended.text
    assert ended.json()["code"] is None and ended.json()["ended"]
    bob.pump(lambda c: c.closed is not None)
    assert bob.closed.code == 4410
    assert api(people["bob"], "GET", f"join/{session['code']}").status_code == 404
    with pytest.raises(websocket.WebSocketBadStatusException) as gone:
        LiveClient(people["bob"], session["id"]).connect()
    assert gone.value.status_code == 410

    folder = hub.state / "live" / session["id"]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    kept = Doc()
    SessionFiles(folder).load(kept)
    assert kept.get("layers", type=Map)["alice"]["edits"].to_py() == [
        edit(5, 20, 20),
        edit(5, 24, 20),
        edit(6, 20, 20, label=2),
    ]
    assert kept.get("session", type=Map)["ended"] is True

    saved = ended.json()["saved"]["layers"]
    assert sorted(saved) == ["alice", "bob"], saved
    expected = np.zeros(SHAPE, np.uint8)
    expected[5, 20:28, 20:24] = 1
    expected[6, 20:24, 20:24] = 2
    answer = load_delineation(folder / "saved" / saved["alice"]["npz"])
    assert np.array_equal(answer.mask, expected)
    study = io.read(lesson_study(STUDY["sample"], seed=0, **STUDY["options"]))
    volume = next(v for v in study.volumes if v.modality == "CT")
    answer.check_against(volume)
    seg = read_seg(folder / "saved" / saved["alice"]["seg"], volume)
    assert np.array_equal(seg.masks[1], expected == 1)
    assert np.array_equal(seg.masks[2], expected == 2)
    header = pydicom.dcmread(folder / "saved" / saved["alice"]["seg"], stop_before_pixels=True)
    assert {item.SegmentDescription for item in header.SegmentSequence} == {
        "drawn by Alice Martin (alice)"
    }
    assert str(header.ContentCreatorName) == "Martin^Alice"


# ------------------------------------------------------------------ delineating together


def _strokes(labels: np.ndarray) -> list[dict]:
    """A layer as a front end sends it: one edit per slice drawn, over that slice's box."""
    from dicomteach.live.agreement import runs_of

    edits = []
    for k in np.flatnonzero(labels.any(axis=(1, 2))):
        rows = np.flatnonzero(labels[k].any(axis=1))
        cols = np.flatnonzero(labels[k].any(axis=0))
        part = labels[k : k + 1, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        box = [[int(k), int(k) + 1], [int(rows[0]), int(rows[-1]) + 1]]
        edits.append({"box": [*box, [int(cols[0]), int(cols[-1]) + 1]], "runs": runs_of(part)})
    return edits


@pytest.fixture(scope="module")
def nodule() -> dict:
    """The sample CT of the module's study, its reference outline, and three people's outlines."""
    from dicomteach import io
    from dicomteach.roi.seg import read_seg
    from dicomteach.samples.cache import lesson_study

    folder = lesson_study(STUDY["sample"], seed=0, **STUDY["options"])
    volume = next(v for v in io.read(folder).volumes if v.modality == "CT")
    reference = read_seg(folder / "baseline" / "seg-nodule.dcm", volume).masks[1]
    assert reference.any()
    layers = {
        "alice": reference,  # exactly the reference
        "bob": np.roll(reference, 1, axis=2),  # a column to the side
        "teacher": reference | np.roll(reference, 1, axis=1),  # a row more
    }
    return {"folder": folder, "volume": volume, "reference": reference, "layers": layers}


@pytest.fixture(scope="module")
def board(people) -> dict:
    """A second session of ct101 on the same study: the class outlines the nodule together."""
    made = api(
        people["teacher"],
        "POST",
        "sessions",
        json={"course": "ct101", "title": "Nodule board", "study": STUDY},
    )
    assert made.status_code == 201, made.text
    return made.json()


@pytest.fixture(scope="module")
def drawing(people, board, nodule) -> dict[str, LiveClient]:
    made = {n: LiveClient(people[n], board["id"]).connect() for n in ("teacher", "alice", "bob")}
    for name, client in made.items():
        client.pump(lambda c, name=name: name in c.state["layers"])
        client.change(draw(name, *_strokes(nodule["layers"][name].astype(np.uint8))))
    yield made
    for client in made.values():
        client.close()


def test_a_learner_cannot_ask_for_the_consensus_or_the_scores(people, board):
    for name in ("alice", "carol"):
        refused = api(people[name], "POST", f"sessions/{board['id']}/consensus")
        assert refused.status_code == 403, refused.text
        for path in ("scores", "scores.png"):
            assert api(people[name], "GET", f"sessions/{board['id']}/{path}").status_code == 403
    assert api(people["alice"], "POST", f"sessions/{board['id']}/consensus").json()["error"] == (
        "alice is not an instructor of ct101"
    )
    # the reference is the instructors' to know: not in what a learner reads, nor in the document
    assert "reference" not in api(people["alice"], "GET", f"sessions/{board['id']}").json()


def test_the_class_sees_its_agreement_and_consensus_when_the_presenter_asks(
    people, board, nodule, drawing
):
    from dicomteach.live.save import apply_edits
    from dicomteach.scoring.consensus import staple

    names = ("alice", "bob", "teacher")
    drawing["teacher"].pump(lambda c: all(edits_of(c, n) for n in names))
    made = api(people["teacher"], "POST", f"sessions/{board['id']}/consensus")
    assert made.status_code == 200, made.text
    assert made.json()["raters"] == list(names)
    masks = [nodule["layers"][n] for n in names]
    expected = staple(masks)
    for client in drawing.values():
        client.pump(lambda c: c.state["consensus"].get("structures"))
        (structure,) = client.state["consensus"]["structures"]
        assert structure["raters"] == list(names) and client.state["consensus"]["by"] == "teacher"
        counts, _ = apply_edits([{"box": structure["box"], "runs": structure["agreement"]}], SHAPE)
        assert np.array_equal(counts, np.sum(masks, axis=0))
        consensus, _ = apply_edits(
            [{"box": structure["box"], "runs": structure["consensus"]}], SHAPE
        )
        assert np.array_equal(consensus == 1, expected.mask)
    assert "reference" not in drawing["alice"].state["session"]
    # a learner cannot write it themselves
    drawing["alice"].change(_set("consensus", "structures", value=[]))
    drawing["alice"].pump(lambda c: c.closed is not None)
    assert drawing["alice"].refused == ["alice (learner) may not change consensus/structures"]
    drawing["alice"] = LiveClient(people["alice"], board["id"]).connect()


def test_each_participant_is_scored_against_the_reference_and_the_poll_is_measured(
    people, board, nodule, drawing
):
    from dicomteach.scoring import score

    reference, volume = nodule["reference"], nodule["volume"]
    axes = ("frame", "row", "column")
    centre = dict(zip(axes, np.argwhere(reference).mean(axis=0).round().tolist(), strict=True))
    far = {**centre, "column": centre["column"] + 20}
    teacher, alice, bob = drawing["teacher"], drawing["alice"], drawing["bob"]
    alice.pump(lambda c: "clicks" in c.state["poll"])

    def ask(doc: Doc) -> None:
        poll = doc.get("poll", type=Map)
        poll["question"] = "Click the nodule"
        poll["open"] = True
        poll["answer"] = centre

    teacher.change(ask)
    alice.change(_set("poll", "clicks", "alice", value=centre))
    bob.change(_set("poll", "clicks", "bob", value=far))
    teacher.pump(lambda c: len(c.state["poll"]["clicks"]) == 2)

    table = api(people["teacher"], "GET", f"sessions/{board['id']}/scores")
    assert table.status_code == 200, table.text
    found = table.json()
    assert found["reference"] == "seg-nodule.dcm"
    rows = {r["username"]: r for r in found["rows"]}
    assert sorted(rows) == ["alice", "bob", "teacher"]
    assert rows["alice"]["against"] == "reference" and rows["alice"]["name"] == "Alice Martin"
    assert (rows["alice"]["dice"], rows["alice"]["surface_dice"], rows["alice"]["hd95_mm"]) == (
        1.0,
        1.0,
        0.0,
    )
    bob_scores = score(reference, nodule["layers"]["bob"], volume.spacing)
    assert rows["bob"]["dice"] == pytest.approx(bob_scores.dice, abs=1e-4)
    assert bob_scores.dice < 1
    assert rows["bob"]["hd95_mm"] == pytest.approx(bob_scores.hd95_mm, abs=0.01)
    clicks = {c["username"]: c for c in found["poll"]["clicks"]}
    assert found["poll"]["judged_by"] == "answer"
    assert clicks["alice"]["hit"] and clicks["alice"]["distance_mm"] == 0.0
    assert not clicks["bob"]["hit"]
    assert clicks["bob"]["distance_mm"] == pytest.approx(20 * volume.spacing[2], abs=0.01)

    picture = api(people["teacher"], "GET", f"sessions/{board['id']}/scores.png")
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/png"
    assert picture.content[:4] == b"\x89PNG"
    assert (
        api(people["teacher"], "GET", f"sessions/{board['id']}/scores.png?structure=7").status_code
        == 404
    )


def _dciodvfy_errors(path: Path) -> list[str]:
    import shutil
    import subprocess

    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def test_the_end_saves_the_consensus_and_answers_a_course_grades_as_any_other(
    hub, people, board, nodule, drawing
):
    import json

    from dicomteach.grading import grade_click, grade_delineation
    from dicomteach.roi.seg import read_seg
    from dicomteach.scoring.consensus import staple

    ended = api(people["teacher"], "POST", f"sessions/{board['id']}/end")
    assert ended.status_code == 200, ended.text
    saved = ended.json()["saved"]
    assert sorted(saved["layers"]) == ["alice", "bob", "teacher"], saved
    assert sorted(saved["polls"]) == ["alice", "bob"]
    folder = hub.state / "live" / board["id"] / "saved"
    volume, reference = nodule["volume"], nodule["reference"]

    consensus_seg = folder / saved["class"]["consensus"]["seg"]
    expected = staple([nodule["layers"][n] for n in ("alice", "bob", "teacher")]).mask
    assert np.array_equal(read_seg(consensus_seg, volume).masks[1], expected)
    header = pydicom.dcmread(consensus_seg, stop_before_pixels=True)
    segment = header.SegmentSequence[0]
    assert segment.SegmentAlgorithmType == "SEMIAUTOMATIC"
    assert segment.SegmentAlgorithmName == "STAPLE"
    assert segment.SegmentDescription == "STAPLE of 3: alice, bob, teacher"
    for path in (consensus_seg, folder / saved["layers"]["alice"]["seg"]):
        assert _dciodvfy_errors(path) == [], path

    # graded afterwards as any Delineator's and Hotspot's answers are
    key = nodule["folder"] / "baseline" / "seg-nodule.dcm"
    alice = grade_delineation(folder / saved["layers"]["alice"]["npz"], key, image=volume)
    assert alice.points == alice.max_points and alice.scores.dice == 1.0
    bob = grade_delineation(folder / saved["layers"]["bob"]["seg"], key, image=volume)
    assert bob.points < bob.max_points
    clicked = grade_click(folder / saved["polls"]["alice"], reference, volume.spacing)
    assert clicked.points == clicked.max_points
    missed = grade_click(folder / saved["polls"]["bob"], reference, volume.spacing)
    assert missed.points == 0.0

    scores = json.loads((folder / saved["class"]["scores"]).read_text())
    assert {r["username"]: r["dice"] for r in scores["rows"]}["alice"] == 1.0
    poll = json.loads((folder / saved["class"]["poll"]).read_text())
    assert [c["hit"] for c in poll["clicks"]] == [True, False]
    assert (folder / saved["class"]["picture"]).read_bytes()[:4] == b"\x89PNG"


def test_a_reference_that_cannot_be_read_is_said_in_one_line(people):
    made = api(
        people["teacher"],
        "POST",
        "sessions",
        json={"course": "ct101", "title": "No key", "study": STUDY, "reference": "nowhere.dcm"},
    )
    assert made.status_code == 201 and made.json()["reference"] == "nowhere.dcm"
    scores = api(people["teacher"], "GET", f"sessions/{made.json()['id']}/scores")
    assert scores.status_code == 422
    assert re.fullmatch(
        r"the session's series cannot be read: .*nowhere\.dcm: no such file", scores.json()["error"]
    ), scores.json()
    api(people["teacher"], "POST", f"sessions/{made.json()['id']}/end")
