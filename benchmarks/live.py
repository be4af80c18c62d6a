"""A live class on the real hub: a presenter and 30 participants drawing, through the hub's proxy.

The hub is the real one (``jupyterhub_config.py``), started by
``tests/hubclient.py`` as the live tests start it, with the library's chest CT
(512×512×120, ``lesson_study("ct-chest")``) written into the class's sample
cache first, as ``dicomteach hub setup`` does. A class list of N learners goes
through ``dicomteach hub roster``; everyone logs in through the hub's form and
opens ``/services/live/`` once (the OAuth round trip a browser makes). The
instructor starts a session on the CT; the service reads the series then
(the first consensus request waits for it: *series read*). Then every
participant joins over the sync websocket through the hub's proxy, each a
pycrdt document (``tests/liveclient.py``), in worker processes of ten
participants each (a participant's document is their own browser's work, not
to be queued behind thirty others in one Python), and

1. *quiet*: the presenter moves the slice every 0.25 s for 5 s, nobody draws;
2. *drawing*: for ``--seconds`` s, every participant draws a stroke every
   ``1 / --rate`` s (one slice of their own outline of a ``--lesion-mm``
   tumour round the CT's reference nodule, each a little off the others, as
   the Delineator sends a patch),
   while the presenter moves the slice every 0.25 s.

The latency of a presenter's action is from just before its update is sent to
the moment a participant's document shows it (``time.monotonic``, one clock for
every process of the machine), for every participant and move: its median,
p95 and max in each phase. Then the presenter asks for the consensus of all
the layers (``POST api/sessions/<id>/consensus``): the service's own time
(agreement map and STAPLE), the request's, and the time until every
participant's document holds it; then for the scores table and picture; then
ends the session (every layer saved as ``.npz`` and SEG, and the class's
files). The service's memory (RSS and PSS, and its peak VmHWM) is read before
the session, after the series is read, after drawing and at the end.

    nice -n 10 .venv/bin/python benchmarks/live.py [--learners 30] [--seconds 30] [--rate 2]

Needs root (one system user per account, as every hub test) and ``npm ci``
(the proxy). Goals: presenter action → participant p95 ≤ 100 ms while all
draw; consensus of 30 layers on the 512×512×120 series ≤ 2 s; memory reported.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import websocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hubclient import Hub, Learner  # noqa: E402 - the hub the tests run, found beside them

MIB = 2**20
STUDY = {"sample": "ct-chest", "seed": 0}
SHAPE = (120, 512, 512)
SPACING = (2.5, 0.7, 0.7)
MOVE_EVERY = 0.25
QUIET = 5.0
PER_WORKER = 10
GOALS = {"latency_p95_ms": 100.0, "consensus_s": 2.0}


def outline(seed: int, diameter_mm: float, centre: tuple[float, float, float]) -> list[dict]:
    """One participant's outline of a round tumour at ``centre``, a little off everyone else's:
    a stroke a slice."""
    from dicomteach.live.agreement import runs_of

    rng = np.random.default_rng(seed)
    centre = np.array(centre) + rng.normal(0, [0.5, 2.5, 2.5])
    radius = diameter_mm / 2 + rng.normal(0, 1.5)
    reach = [int(np.ceil(radius / s)) + 2 for s in SPACING]
    low = [int(round(c)) - r for c, r in zip(centre, reach, strict=True)]
    size = [2 * r + 1 for r in reach]
    grid = np.indices(size).astype(float)
    squared = sum(
        ((g + lo - c) * s) ** 2 for g, lo, c, s in zip(grid, low, centre, SPACING, strict=True)
    )
    mask = (squared <= radius * radius).astype(np.uint8)
    strokes = []
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        box = [[low[0] + int(k), low[0] + int(k) + 1], [low[1], low[1] + size[1]]]
        box.append([low[2], low[2] + size[2]])
        strokes.append({"box": box, "runs": runs_of(mask[k : k + 1]), "structure": 1})
    return strokes


def _participant(
    hub_url: str, name: str, cookies: list, session_id: str, plan: dict, out: list
) -> None:
    """One participant's thread: join, then read, draw on schedule, note when each move arrives."""
    from pycrdt import Map

    from liveclient import LiveClient

    person = Learner(hub_url, name)
    for cookie in cookies:
        person.cookies.set(**cookie)
    client = LiveClient(person, session_id).connect()
    client.pump(lambda c: name in c.state["layers"], timeout=120)
    view = client.doc.get("view", type=Map)
    edits = client.doc.get("layers", type=Map)[name]["edits"]
    strokes = outline(plan["seed"], plan["diameter_mm"], plan["centre"])
    seen: list[tuple[int, float]] = []
    last = None
    start = plan["start"]
    draw_from, draw_until = start + QUIET, start + QUIET + plan["seconds"]
    stop = draw_until + 1.0
    every = 1.0 / plan["rate"]
    next_stroke = draw_from + (plan["seed"] % 97) / 97 * every
    drawn = 0
    while time.monotonic() < stop:
        now = time.monotonic()
        if draw_from <= now < draw_until and now >= next_stroke:
            stroke = strokes[drawn % len(strokes)]
            client.change(lambda doc, stroke=stroke: edits.append(stroke))
            drawn += 1
            next_stroke += every
        assert client.ws is not None
        client.ws.settimeout(max(0.005, min(0.05, next_stroke - time.monotonic())))
        try:
            opcode, data = client.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            continue
        if opcode == websocket.ABNF.OPCODE_BINARY:
            client._handle(data)
            value = view.get("slice")
            if value is not None and value != last:
                last = value
                seen.append((int(value), time.monotonic()))
    # the strokes not drawn yet: the consensus is of whole outlines
    for stroke in strokes[drawn:]:
        client.change(lambda doc, stroke=stroke: edits.append(stroke))
    client.settle(timeout=60)
    out.append({"name": name, "seen": seen, "drawn": drawn, "refused": client.refused})
    client.close()


def _worker(hub_url: str, people: list, session_id: str, plan: dict, queue) -> None:
    """A process of ten participants, each in a thread of its own (module docstring)."""
    out: list = []
    threads = [
        threading.Thread(
            target=_participant,
            args=(hub_url, name, cookies, session_id, {**plan, "seed": seed}, out),
        )
        for name, cookies, seed in people
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(out)


def _nodule(cache: Path) -> tuple[float, float, float]:
    """Where the CT's reference nodule is (array indices): the class outlines a tumour there."""
    from dicomteach.live.series import open_series

    before = os.environ.get("DICOMTEACH_CACHE")
    os.environ["DICOMTEACH_CACHE"] = str(cache)
    try:
        reference = open_series(STUDY)[1].reference[1]
    finally:
        if before is None:
            os.environ.pop("DICOMTEACH_CACHE", None)
        else:
            os.environ["DICOMTEACH_CACHE"] = before
    inside = np.argwhere(reference.mask).mean(axis=0)
    return tuple(float(i + a) for i, (a, _) in zip(inside, reference.box, strict=True))


def _cookies(person: Learner) -> list[dict]:
    return [
        {"name": c.name, "value": c.value, "domain": c.domain, "path": c.path}
        for c in person.cookies
    ]


def _api(person: Learner, method: str, path: str, **kwargs):
    headers = {"X-XSRFToken": person.xsrf("/services/live/")}
    return person.request(
        method, f"{person.hub_url}/services/live/api/{path}", headers=headers, timeout=600, **kwargs
    )


def _service(hub: Hub) -> psutil.Process:
    for child in psutil.Process(hub.proc.pid).children():
        if "dicomteach.live" in " ".join(child.cmdline()):
            return child
    raise RuntimeError("no live service under the hub")


def _memory(process: psutil.Process) -> str:
    info = process.memory_full_info()
    peak = 0
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return f"RSS {info.rss / MIB:.0f} MiB, PSS {info.pss / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(learners: int, seconds: float, rate: float, diameter_mm: float) -> int:
    from pycrdt import Map

    from dicomteach.hub.install import prepare_samples
    from liveclient import LiveClient

    hub = Hub(demo=os.geteuid() != 0)
    try:
        began = time.monotonic()
        hub.setup()
        prepare_samples(hub.state / "cache", [("ct-chest", {})])
        centre = _nodule(hub.state / "cache")
        names = [f"learner{i:02d}" for i in range(1, learners + 1)]
        roster = hub.folder / "class.csv"
        rows = [f"{n},Learner {n[-2:]},learner,ct101" for n in names]
        roster.write_text("username,name,role,course\n" + "\n".join(rows) + "\n")
        printed = hub.dicomteach("hub", "roster", str(roster))
        passwords = dict(re.findall(r"^(\w+)\t(\S+)$", printed, re.MULTILINE))
        passwords["teacher"] = hub.admin_password
        hub.start()
        print(
            f"hub ready in {time.monotonic() - began:.0f} s (the CT written, {learners} accounts)"
        )
        people = {}
        for name in ["teacher", *names]:
            person = Learner(hub.url, name)
            person.login(passwords[name])
            page = person.get(f"{hub.url}/services/live/")
            if page.status_code != 200:
                raise RuntimeError(f"{name}: /services/live/ answered {page.status_code}")
            people[name] = person
        service = _service(hub)
        memory = {"before the session": _memory(service)}
        teacher = people["teacher"]
        made = _api(
            teacher, "POST", "sessions", json={"course": "ct101", "title": "Bench", "study": STUDY}
        )
        made.raise_for_status()
        session_id = made.json()["id"]
        began = time.perf_counter()
        warm = _api(teacher, "POST", f"sessions/{session_id}/consensus")
        warm.raise_for_status()
        read_s = time.perf_counter() - began
        memory["series read"] = _memory(service)

        presenter = LiveClient(teacher, session_id).connect()
        presenter.pump(lambda c: "teacher" in c.state["layers"], timeout=60)
        start = time.monotonic() + 15.0 + learners * 0.2  # everyone joined by then
        plan = {"start": start, "seconds": seconds, "rate": rate, "diameter_mm": diameter_mm}
        plan["centre"] = centre
        queue = mp.get_context("spawn").Queue()
        groups = [names[i : i + PER_WORKER] for i in range(0, len(names), PER_WORKER)]
        workers = [
            mp.get_context("spawn").Process(
                target=_worker,
                args=(
                    hub.url,
                    [(n, _cookies(people[n]), int(n[-2:])) for n in group],
                    session_id,
                    plan,
                    queue,
                ),
            )
            for group in groups
        ]
        for worker in workers:
            worker.start()
        view = presenter.doc.get("view", type=Map)
        value = 0
        while time.monotonic() < start:
            presenter.settle()
            time.sleep(0.2)
        stop = start + QUIET + seconds
        next_move = start
        moves: list[tuple[int, float, str]] = []
        while time.monotonic() < stop:
            now = time.monotonic()
            if now >= next_move:
                value = value % (SHAPE[0] - 1) + 1  # 1..119, never twice in a row

                def move(doc, value: int = value) -> None:
                    view["slice"] = value

                moves.append(
                    (value, time.monotonic(), "quiet" if now < start + QUIET else "drawing")
                )
                presenter.change(move)
                next_move += MOVE_EVERY
            presenter.settle()
            time.sleep(max(0.0, min(0.02, next_move - time.monotonic())))
        results = []
        for _ in workers:
            results += queue.get(timeout=600)
        for worker in workers:
            worker.join(timeout=60)
        memory["after drawing"] = _memory(service)

        # a participant sees the moves in the order they were made (one sender's updates stay
        # in order): each move is the next slice change showing its number
        latency: dict[str, list[float]] = {"quiet": [], "drawing": []}
        missed = 0
        for result in results:
            seen, at = result["seen"], 0
            for value, when, phase in moves:
                while at < len(seen) and seen[at][0] != value:
                    at += 1
                if at == len(seen):
                    missed += 1
                    break
                latency[phase].append((seen[at][1] - when) * 1000)
                at += 1
        strokes = sum(r["drawn"] for r in results)
        refused = [r for r in results if r["refused"]]

        layers = presenter.doc.get("layers", type=Map)
        presenter.pump(lambda c: all(len(layers[n]["edits"]) for n in names), timeout=120)
        began = time.perf_counter()
        consensus = _api(teacher, "POST", f"sessions/{session_id}/consensus")
        consensus.raise_for_status()
        request_s = time.perf_counter() - began
        shared = presenter.doc.get("consensus", type=Map)
        presenter.pump(lambda c: len(shared.get("raters") or []) == learners, timeout=120)
        reached_s = time.perf_counter() - began
        found = consensus.json()
        memory["after the consensus"] = _memory(service)
        began = time.perf_counter()
        scores = _api(teacher, "GET", f"sessions/{session_id}/scores")
        scores.raise_for_status()
        scores_s = time.perf_counter() - began
        began = time.perf_counter()
        picture = _api(teacher, "GET", f"sessions/{session_id}/scores.png")
        picture.raise_for_status()
        picture_s = time.perf_counter() - began
        presenter.close()
        began = time.perf_counter()
        ended = _api(teacher, "POST", f"sessions/{session_id}/end")
        ended.raise_for_status()
        end_s = time.perf_counter() - began
        memory["after the end"] = _memory(service)
        saved = ended.json()["saved"]
    finally:
        hub.remove()

    print(
        f"live: {learners} participants and a presenter through the hub's proxy, "
        f"{os.cpu_count()} cores; series {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]}"
    )
    print(f"  series read by the service (JPEG 2000, once per session): {read_s:.1f} s")
    for name, values in latency.items():
        if values:
            print(
                f"  presenter move -> participant, {name:<8} median {statistics.median(values):6.1f} ms"
                f"  p95 {_pct(values, 0.95):6.1f} ms  max {max(values):6.1f} ms  ({len(values)} arrivals)"
            )
    print(
        f"  strokes drawn while the presenter moved: {strokes} ({strokes / seconds:.0f}/s in all), "
        f"moves never seen: {missed}, participants refused: {len(refused)}"
    )
    structure = found["structures"][0] if found["structures"] else {}
    print(
        f"  consensus of {len(found['raters'])} layers ({diameter_mm:g} mm tumour, "
        f"{structure.get('iterations', 0)} STAPLE steps, {structure.get('consensus_mm3', 0) / 1000:.1f} ml): "
        f"service {found['seconds']:.2f} s, request {request_s:.2f} s, in the presenter's document {reached_s:.2f} s"
    )
    print(
        f"  scores table {scores_s:.2f} s ({len(scores.json()['rows'])} rows), picture {picture_s:.2f} s"
    )
    print(
        f"  end (every layer saved as .npz and SEG, the class's files): {end_s:.1f} s, {len(saved['layers'])} layers"
    )
    for when, text in memory.items():
        print(f"  service memory {when:<20} {text}")
    p95 = _pct(latency["drawing"], 0.95) if latency["drawing"] else float("inf")
    for label, value, goal in (
        ("latency p95 while all draw (ms)", p95, GOALS["latency_p95_ms"]),
        ("consensus, service (s)", found["seconds"], GOALS["consensus_s"]),
        ("consensus, request (s)", request_s, GOALS["consensus_s"]),
    ):
        print(
            f"  goal {label}: {value:.2f} (goal <= {goal:g}, ratio {value / goal:.2f}): "
            f"{'met' if value <= goal else 'MISSED'}"
        )
    return 0 if not refused else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--learners", type=int, default=30, help="participants besides the presenter"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long everyone draws")
    parser.add_argument("--rate", type=float, default=2.0, help="strokes a second per participant")
    parser.add_argument(
        "--lesion-mm", type=float, default=50.0, help="the diameter of the tumour everyone outlines"
    )
    args = parser.parse_args()
    if not 1 <= args.learners <= 99:
        print("--learners: 1 to 99", file=sys.stderr)
        return 2
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        print("live: configurable-http-proxy missing: npm ci", file=sys.stderr)
        return 2
    return run(args.learners, args.seconds, args.rate, args.lesion_mm)


if __name__ == "__main__":
    sys.exit(main())
