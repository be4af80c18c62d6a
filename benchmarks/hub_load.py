"""A class at once on the classroom hub: N learners log in, start their servers and open the Viewer.

The hub is the real one (``jupyterhub_config.py``), started by
``tests/hubclient.py`` as the hub tests start it: a state folder of its own
under ``/tmp``, free ports on 127.0.0.1 only, a system-user prefix of its own,
everything (servers, system users and groups, the folder) removed at the end.
The sample CT of lesson 01 (``lesson_study("ct-chest", size=256, slices=60)``)
is written into the class's sample cache first, as ``dicomteach hub setup``
does. A class list of N learners goes through ``dicomteach hub roster``; then,
all at once (one thread per learner), each learner

1. logs in through the login form,
2. starts their server by the REST API (the *spawn time* is from that request
   to the hub saying the server is ready; the first start of the term: the
   learner's system user and home are made then) and opens JupyterLab once,
3. starts a kernel and runs one cell that opens the study and shows a Viewer
   on its CT, as lesson 01 does; the kernel is kept.

Once every learner is done (or failed), the memory of each learner's processes
(their server and kernel: every process of their system user) is measured as
RSS and as PSS (proportional set size: a page shared by several learners, the
Python libraries for one, is split among them; the goal is judged on PSS, what
a class costs the machine per learner), with the hub and the proxy apart, and
the machine's MemAvailable before and after, as a cross-check. Every step has
a deadline; a learner who misses one is an error.

    nice -n 10 .venv/bin/python benchmarks/hub_load.py [--learners 30]

Needs root (one system user per learner) and ``npm ci`` (the proxy). Goals on
a 2-core, 24 GiB machine: no errors; spawn p95 ≤ 15 s; memory per active
learner ≤ 350 MiB.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hubclient import Hub, Learner  # noqa: E402 - the hub the tests run, found beside them

MIB = 2**20
STUDY = ("ct-chest", {"size": 256, "slices": 60})
VIEWER_CELL = """
import time
began = time.perf_counter()
from dicomteach import io
from dicomteach.samples.cache import lesson_study
from dicomteach.widgets import Viewer
study = io.read(lesson_study("ct-chest", size=256, slices=60))
ct = next(v for v in study.volumes if v.modality == "CT")
viewer = Viewer(ct)
display(viewer)
print("viewer", ct.pixels.shape, round(time.perf_counter() - began, 2))
"""
GOALS = {"spawn_p95": 15.0, "memory_mib": 350.0}


@dataclass
class Visit:
    """What happened to one learner."""

    name: str
    login: float = 0.0
    spawn: float = 0.0
    lab: float = 0.0
    cell: float = 0.0
    error: str = ""
    steps: list[str] = field(default_factory=list)


def _visit(hub: Hub, name: str, password: str, go: threading.Event, timeout: float) -> Visit:
    visit = Visit(name)
    learner = Learner(hub.url, name)
    go.wait()
    try:
        began = time.monotonic()
        learner.login(password)
        if not learner.logged_in():
            raise RuntimeError("login refused")
        visit.login = time.monotonic() - began
        total = learner.start_server(timeout=timeout)
        visit.spawn = learner.spawn_seconds
        visit.lab = total - visit.spawn
        began = time.monotonic()
        out = learner.run(VIEWER_CELL, timeout=timeout, keep=True)
        visit.cell = time.monotonic() - began
        if out["error"] or "viewer" not in out["stdout"]:
            raise RuntimeError(f"the Viewer cell: {out['error'] or 'no output in time'}")
    except Exception as exc:  # every failure is counted, none stops the others
        visit.error = f"{exc.__class__.__name__}: {exc}"[:300]
    return visit


def _memory(processes: list[psutil.Process]) -> tuple[int, int]:
    """Summed RSS and PSS of ``processes`` (bytes); a process gone meanwhile counts 0."""
    rss = pss = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += info.pss
    return rss, pss


def _server_cpu(processes: list[psutil.Process]) -> float:
    """CPU seconds the learner's server process has used (start, Lab, its kernel's traffic)."""
    for process in processes:
        try:
            # the server: `-m jupyterhub.singleuser`, the hub's own `-m dicomteach.hub.singleuser`,
            # or a fork of the server factory that runs it (`--entry=dicomteach.hub.singleuser:main`)
            if any(a.endswith((".singleuser", ".singleuser:main")) for a in process.cmdline()):
                times = process.cpu_times()
                return times.user + times.system
        except psutil.Error:
            continue
    return 0.0


def _by_user(prefix: str) -> dict[str, list[psutil.Process]]:
    found: dict[str, list[psutil.Process]] = {}
    for process in psutil.process_iter(["username"]):
        user = process.info["username"] or ""
        if user.startswith(prefix):
            found.setdefault(user[len(prefix) :], []).append(process)
    return found


def _available() -> int:
    return psutil.virtual_memory().available


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def run(learners: int, timeout: float) -> int:
    from dicomteach.hub.install import prepare_samples

    hub = Hub()
    visits: list[Visit] = []
    kept = None
    try:
        hub.setup()
        prepare_samples(hub.state / "cache", [STUDY])
        names = [f"learner{i:02d}" for i in range(1, learners + 1)]
        roster = hub.folder / "class.csv"
        rows = [f"{n},Learner {n[-2:]},learner,ct101" for n in names]
        roster.write_text("username,name,role,course\n" + "\n".join(rows) + "\n")
        printed = hub.dicomteach("hub", "roster", str(roster))
        passwords = dict(re.findall(r"^(\w+)\t(\S+)$", printed, re.MULTILINE))
        before = _available()
        hub.start()
        hub_process = psutil.Process(hub.proc.pid)
        go = threading.Event()
        hub_cpu = sum(hub_process.cpu_times()[:2])
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=learners) as pool:
            futures = [pool.submit(_visit, hub, n, passwords[n], go, timeout) for n in names]
            go.set()
            visits = [f.result(timeout=4 * timeout) for f in futures]
        wall = time.monotonic() - began
        hub_cpu = sum(hub_process.cpu_times()[:2]) - hub_cpu
        time.sleep(2)  # the last kernels' replies settle
        after = _available()
        per_user = _by_user(hub.prefix)
        learner_memory = {n: _memory(per_user.get(n, [])) for n in names}
        server_cpu = {n: _server_cpu(per_user.get(n, [])) for n in names}
        hub_rss, hub_pss = _memory([hub_process])
        children = hub_process.children(recursive=True)
        proxy = [p for p in children if "configurable-http-proxy" in " ".join(p.cmdline())]
        proxy_rss, proxy_pss = _memory(proxy)
        services = [p for p in children if p not in proxy and not p.username().startswith(
            f"{hub.prefix}learner")]  # fmt: skip
        # the server factory (dicomteach/hub/factory.py) is one of them, shown apart too
        factory = [p for p in services if "dicomteach.hub.factory" in p.cmdline()]
        factory_rss, factory_pss = _memory(factory)
        services_rss, services_pss = _memory(services)
    finally:
        if (not visits or any(v.error for v in visits)) and hub.log.exists():
            # the hub's log holds its servers' messages too: kept for whoever explains the error
            kept = Path(f"/tmp/hub_load-{time.strftime('%Y%m%d-%H%M%S')}.log")
            shutil.copyfile(hub.log, kept)
        hub.remove()

    errors = [v for v in visits if v.error]
    done = [v for v in visits if not v.error]
    print(f"hub_load: {learners} learners at once on {os.cpu_count()} cores, {wall:.0f} s in all")
    for v in errors:
        print(f"  ERROR {v.name}: {v.error}")
    if kept is not None:
        print(f"  the hub's log (its servers' messages too) is kept in {kept}")
    if not done:
        print("no learner got through")
        return 1
    spawn = [v.spawn for v in done]
    active = [learner_memory[v.name] for v in done]
    rss_each = [r / MIB for r, _ in active]
    pss_each = [p / MIB for _, p in active]

    def line(label: str, values: list[float], unit: str = "s") -> None:
        print(
            f"  {label:<28} median {statistics.median(values):6.1f} {unit}  "
            f"p95 {_p95(values):6.1f} {unit}  max {max(values):6.1f} {unit}"
        )

    line("login", [v.login for v in done])
    line("spawn (request -> ready)", spawn)
    line("first Lab page", [v.lab for v in done])
    line("Viewer cell (new kernel)", [v.cell for v in done])
    line("server CPU (start, Lab, I/O)", [server_cpu[v.name] for v in done])
    line("learner RSS (server+kernel)", rss_each, "MiB")
    line("learner PSS (server+kernel)", pss_each, "MiB")
    print(
        f"  hub RSS {hub_rss / MIB:.0f} MiB (PSS {hub_pss / MIB:.0f}), proxy RSS "
        f"{proxy_rss / MIB:.0f} MiB (PSS {proxy_pss / MIB:.0f}), the hub's services (course, "
        f"live, idle culler, server factory) RSS {services_rss / MIB:.0f} MiB (PSS "
        f"{services_pss / MIB:.0f}), of which the server factory {factory_rss / MIB:.0f} MiB "
        f"(PSS {factory_pss / MIB:.0f})"
    )
    print(f"  hub CPU while the class came in: {hub_cpu:.1f} s over {wall:.0f} s")
    used = (before - after) / MIB
    print(
        f"  MemAvailable fell {used:.0f} MiB with the hub and {len(done)} active learners: "
        f"{(used - (hub_pss + proxy_pss + services_pss) / MIB) / len(done):.0f} MiB per learner"
    )
    checks = [
        ("errors", len(errors), 0, len(errors) == 0),
        ("spawn p95 (s)", round(_p95(spawn), 1), GOALS["spawn_p95"], _p95(spawn) <= 15.0),
        (
            "PSS per active learner (MiB, mean)",
            round(statistics.mean(pss_each)),
            GOALS["memory_mib"],
            statistics.mean(pss_each) <= GOALS["memory_mib"],
        ),
    ]
    for label, value, goal, met in checks:
        print(f"  goal {label}: {value} (goal {'0' if goal == 0 else f'<= {goal:g}'}): "
              f"{'met' if met else 'MISSED'}")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30, help="learners at once (1-100)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds each step of a learner may take"
    )
    args = parser.parse_args()
    if not 1 <= args.learners <= 100:
        print("--learners: 1 to 100", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("hub_load: needs root (one system user per learner)", file=sys.stderr)
        return 2
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        print("hub_load: configurable-http-proxy missing: npm ci", file=sys.stderr)
        return 2
    return run(args.learners, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
