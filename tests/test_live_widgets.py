"""A widget's kernel side of a live session (dicomteach/widgets/live.py), and the Yjs it ships.

The browser side and the service are exercised together in
``tests/browser/test_live_class.py`` (a real hub, three people in Chromium).
Here: what the kernel does without a hub (a one-line reason, in Python and on
the widget, and a reply to the presenter's *Agreement* and *Scores*), the series check on joining, what a session names as its study,
the Delineator's patches naming the view whose undo they are, a presenter's
view built again after a kernel restart taking the class's slice whatever the
kernel answers first and what a view sets itself (its legend, its series) kept against
that late answer (in Node), and the
vendored Yjs bundle: rebuilt from the pinned packages it is the same file, and
its sync messages and updates are the ones the service's pycrdt reads and writes.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dicomteach import io
from dicomteach.io.writer import write_ct_series
from dicomteach.widgets import Delineator, Viewer
from dicomteach.widgets.live import YJS_MODULE, LiveError, study_of

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

HUB = {
    "JUPYTERHUB_API_TOKEN": "secret",
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_BASE_URL": "/",
    "DICOMTEACH_LIVE_URL": "http://127.0.0.1:9",
}


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, np.zeros((4, 8, 8)), spacing=(2.0, 1.0, 1.0))
    return io.load(folder)


@pytest.fixture
def off_hub(monkeypatch):
    for name in HUB:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def on_hub(monkeypatch):
    for name, value in HUB.items():
        monkeypatch.setenv(name, value)


def test_going_live_off_the_hub_says_why_in_python_and_on_the_widget(ct, off_hub):
    viewer = Viewer(ct)
    with pytest.raises(LiveError, match="live sessions need the classroom hub"):
        viewer.go_live("Tumour board 3 Dec")
    # the widget's Go live button: the reason is shown, nothing raises in the kernel
    viewer._on_message(viewer, {"type": "live", "action": "go", "title": "x"}, [])
    assert viewer.live_error.startswith("live sessions need the classroom hub")
    assert viewer.live == {}


def test_the_presenters_agreement_and_scores_buttons_are_answered_with_the_reason(ct, off_hub):
    viewer = Viewer(ct)
    sent = []
    viewer.send = lambda content, buffers=None: sent.append((content, buffers))
    for action in ("consensus", "scores"):
        viewer._on_message(viewer, {"type": "live", "action": action}, [])
    # the browser stops waiting on each button, and says why nothing came
    assert [(c["type"], c["action"], c["ok"], c["picture"], b) for c, b in sent] == [
        ("live_reply", "consensus", False, False, []),
        ("live_reply", "scores", False, False, []),
    ]
    assert all(c["error"].startswith("live sessions need the classroom hub") for c, _ in sent)
    assert viewer.live_error == sent[-1][0]["error"]


def test_the_agreement_and_the_scores_need_a_session(ct, on_hub):
    pad = Delineator(ct, answer=None)
    for ask in (pad.agreement, pad.scores, pad.scores_picture):
        with pytest.raises(LiveError, match="this widget is not in a live session"):
            ask()


def test_a_join_code_is_checked_before_anything_is_asked(ct, on_hub):
    pad = Delineator(ct, answer=None)
    with pytest.raises(LiveError, match="'AB-12' is not a join code"):
        pad.join("AB-12")


def test_joining_a_session_on_another_series_is_refused(ct, on_hub):
    pad = Delineator(ct, answer=None)
    described = {"id": "s1", "code": "QWERTY", "title": "Board", "course": "ct101",
                 "presenter": "teacher", "study": {"series": "1.2.3"}}  # fmt: skip
    with pytest.raises(LiveError, match="on series 1.2.3; this widget shows"):
        pad._enter(described, "learner")
    assert pad.live == {}
    described["study"]["series"] = ct.series_uid
    session = pad._enter(described, "learner")
    assert session.code == "QWERTY" and pad.live["me"] == "alice"
    assert pad.live["sync"] == "/services/live/api/sessions/s1/sync"
    pad.leave()
    assert pad.live == {}


def test_a_session_names_the_folder_and_series_of_the_image(ct):
    study = study_of(ct)
    assert Path(study["folder"]).is_dir() and study["series"] == ct.series_uid
    assert io.load(study["folder"]).series_uid == ct.series_uid


def test_the_browser_is_sent_the_vendored_yjs_when_it_asks(ct):
    viewer = Viewer(ct)
    sent = []
    viewer.send = lambda content, buffers=None: sent.append((content, buffers))
    viewer._on_message(viewer, {"type": "live", "action": "module"}, [])
    assert sent == [({"type": "live_module"}, [YJS_MODULE.read_bytes()])]


def test_an_undo_patch_names_the_view_that_asked_for_it(ct, tmp_path):
    pad = Delineator(ct, answer=tmp_path / "a.npz")
    sent = []
    pad.send = lambda content, buffers=None: sent.append(content)
    block = np.ones((2, 2), np.uint8)
    stroke = {"type": "edit", "plane": "axial", "slice": 1, "box": [0, 2, 0, 2],
              "structure": 1, "origin": "view-a", "seq": 1}  # fmt: skip
    pad._on_message(pad, stroke, [block.tobytes()])
    pad._on_message(pad, {"type": "undo", "origin": "view-b"}, [])
    patches = [c for c in sent if c["type"] == "patch"]
    assert [(p["origin"], p["requested_by"]) for p in patches] == [
        ("view-a", None),
        (None, "view-b"),
    ]
    pad.labels = np.ones(pad.labels.shape, np.uint8)  # from Python: nobody asked
    assert sent[-1]["type"] == "patch" and sent[-1]["requested_by"] is None


# ------------------------------------------------------------------ the vendored bundle


def _node(script: str, stdin: str = "") -> str:
    run = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


IMPORT = f"const Y = await import({json.dumps(YJS_MODULE.as_uri())});\n"


@needs_node
def test_the_committed_bundle_is_what_the_pinned_packages_build(tmp_path):
    if not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.skip("esbuild missing: npm ci (scripts/test.sh runs it)")
    rebuilt = tmp_path / "yjs.js"
    subprocess.run(
        [NODE, "scripts/vendor_yjs.mjs", str(rebuilt)], cwd=ROOT, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert rebuilt.read_bytes() == YJS_MODULE.read_bytes(), "run: node scripts/vendor_yjs.mjs"
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    header = YJS_MODULE.read_text().split("*/", 1)[0]
    for name in ("yjs", "y-protocols", "lib0"):
        assert f"{name} {lock[f'node_modules/{name}']['version']}" in header
    assert header.count("The MIT License") == 3


@needs_node
def test_the_bundles_updates_and_sync_messages_are_the_services(tmp_path):
    from pycrdt import Array, Doc, Map, create_sync_message, handle_sync_message

    # a browser's update, read by pycrdt
    made = _node(
        IMPORT + "const doc = new Y.Doc(); doc.getMap('view').set('slice', 7);"
        " doc.getMap('layers').set('alice', new Y.Map());"
        " doc.getMap('layers').get('alice').set('edits', Y.Array.from([{box: [[1, 2]], runs: [1, 4]}]));"
        " console.log(Buffer.from(Y.encodeStateAsUpdate(doc)).toString('base64'));"
    )
    doc = Doc()
    doc.apply_update(base64.b64decode(made))
    assert doc.get("view", type=Map).to_py() == {"slice": 7.0}
    assert doc.get("layers", type=Map).to_py() == {
        "alice": {"edits": [{"box": [[1.0, 2.0]], "runs": [1.0, 4.0]}]}
    }

    # the service's step 1 answered by the bundle's sync protocol with a step 2 pycrdt takes
    service = Doc()
    service.get("poll", type=Map)["clicks"] = Map()
    service.get("layers", type=Map)["bob"] = Map({"edits": Array()})
    step1 = base64.b64encode(create_sync_message(service)).decode()
    answer = _node(
        IMPORT + "let text = ''; for await (const d of process.stdin) text += d;"
        " const doc = new Y.Doc(); doc.getMap('view').set('window', [40, 400]);"
        " const input = Y.decoding.createDecoder(Buffer.from(text, 'base64'));"
        " Y.decoding.readVarUint(input);"
        " const out = Y.encoding.createEncoder(); Y.encoding.writeVarUint(out, 0);"
        " const kind = Y.sync.readSyncMessage(input, out, doc, null);"
        " console.log(kind, Buffer.from(Y.encoding.toUint8Array(out)).toString('base64'));",
        step1,
    )
    kind, reply = answer.split()
    assert kind == "0"  # it read a step 1
    assert handle_sync_message(base64.b64decode(reply)[1:], service) is None
    assert service.get("view", type=Map).to_py() == {"window": [40.0, 400.0]}


# A presenter's view built again after a kernel restart, in Node: the real scene, its
# sync with the model and the Follower (static/core/scene.js, core/sync.js,
# live/follow.js), a model that announces its changes as Backbone does, a kernel that
# answers the page's messages in order (the whole state when asked: _base.py,
# _handle_state) and a document the service filled. `answer` says when the kernel
# answers the view's ask for its whole state: after the view took the class's view
# (Run All queues the ask behind the cells after go_live), or before the document
# synced; `python` moves the slice from Python afterwards.
# The real scene, its sync and the Follower against a model and a kernel that answer in
# order, as ipywidgets does (each update echoed back).
HARNESS = """
const Y = await import(MODULES.yjs);
const { Scene } = await import(MODULES.scene);
const { stateComplete } = await import(MODULES.sync);
const { Follower } = await import(MODULES.follow);
globalThis.requestAnimationFrame = (f) => setTimeout(() => f(performance.now()), 16);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Kernel {
  constructor(state) {
    this.state = structuredClone(state); this.inbox = []; this.model = null;
    this.onUpdate = (update) => {};  // what Python does with a change from the page
    this.seen = [];  // the model's state after each message: what a page may draw
  }
  /** Handle the page's messages in order, each answer reaching the model in order. */
  run() {
    for (const msg of this.inbox.splice(0)) {
      if (msg.update) {
        Object.assign(this.state, structuredClone(msg.update));
        this.model.receive(msg.update);  // ipywidgets' echo
        this.onUpdate(msg.update);
      } else if (msg.custom.type === "state") {
        this.model.receive(this.state);
        this.seen.push(structuredClone(this.model.attributes));
        if (msg.custom.reply) {
          this.state.state_reply = msg.custom.reply;
          this.model.receive({ state_reply: msg.custom.reply });
        }
      }
      this.seen.push(structuredClone(this.model.attributes));
    }
  }
  /** A change made in Python. */
  change(values) {
    Object.assign(this.state, values);
    this.model.receive(values);
  }
}

class Model {
  constructor(kernel) {
    this.kernel = kernel;
    kernel.model = this;
    this.attributes = structuredClone(kernel.state);  // the comm opened with all of it
    this.handlers = new Map();
    this.unsaved = {};
    // hearKernel finds anywidget's override of the comm's handler: it asks for the state
    class Base { _handle_comm_msg() {} }
    class Override extends Base { _handle_comm_msg() {} }
    const real = Object.assign(new Override(), { comm: { on_msg() {} } });
    this.widget_manager = { get_model: async () => real };
  }
  get(name) { return this.attributes[name]; }
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
  }
  off(event, fn) { this.handlers.get(event)?.delete(fn); }
  /** Backbone: store every value, then announce those that changed. */
  receive(values) {
    const changed = Object.keys(values).filter((k) => !same(this.attributes[k], values[k]));
    Object.assign(this.attributes, structuredClone(values));
    for (const k of changed) for (const fn of [...(this.handlers.get(`change:${k}`) || [])]) fn(this);
  }
  set(name, value) {
    this.unsaved[name] = value;
    this.receive({ [name]: value });
  }
  save_changes() {
    this.kernel.inbox.push({ update: this.unsaved });
    this.unsaved = {};
  }
  send(msg) { this.kernel.inbox.push({ custom: msg }); }
}

const IMAGE = {
  state_complete: true, own_model_id: "m1", state_reply: "", shape: [12, 8, 8],
  layouts: { axial: { slice_axis: 0, n_slices: 12 } }, planes: ["axial"], plane: "axial",
  position: [6, 4, 4], window_center: 40, window_width: 400, voi_function: "LINEAR",
  voi_table: null, zoom: 1, pan: [0, 0], tool: "", measurements: [], layers: {},
};
"""
REJOIN = (
    HARNESS
    + """
async function rejoin({ answer = "after", python = false, me = "teacher", partial = false }) {
  const kernel = new Kernel(IMAGE);
  const model = new Model(kernel);
  await stateComplete(model);
  const scene = new Scene(model);
  const doc = new Y.Doc();
  const session = {
    scene, model, doc, info: { id: "s1" }, me, state: "connecting",
    get lead() { return String(doc.getMap("session").get("lead") || ""); },
    get leading() { return this.lead === this.me; },
    map: (name) => doc.getMap(name),
    provider: { change: (f) => doc.transact(f) },
    marks: { draw() {} },
    setAttached: (attached) => follower.setAttached(attached),
  };
  const follower = new Follower(session);
  scene.on("changed", () => follower.sceneChanged());
  doc.getMap("session").observeDeep(() => follower.sessionChanged());
  doc.getMap("view").observeDeep((_e, t) => { if (!t.local) follower.viewChanged(); });
  let early = 0;  // what this view wrote before the whole document arrived
  doc.on("update", (_u, _o, _d, t) => { if (t.local && session.state !== "synced") early += 1; });
  if (answer === "before") kernel.run();
  const service = new Y.Doc();  // the class is on slice 9; the presenter leads
  service.getMap("session").set("lead", "teacher");
  // `partial`: who leads arrives before the view (the service sends the whole document
  // in one update; a page must not count on it)
  if (partial) Y.applyUpdate(doc, Y.encodeStateAsUpdate(service));
  service.transact(() => {
    const view = service.getMap("view");
    view.set("plane", "axial"); view.set("slice", 9); view.set("window", [40, 400]);
    view.set("zoom", 1); view.set("pan", [0, 0]);
  });
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(service));  // the service's sync step 2
  session.state = "synced";  // session.js stateChanged
  follower.sessionChanged();
  await pause(150);  // the view's send goes out with an animation frame
  kernel.run();
  await pause(150);
  kernel.run();
  if (python) {
    kernel.change({ position: [3, 4, 4] });
    await pause(100);
  }
  return {
    document: doc.getMap("view").get("slice"), scene: scene.slice, kernel: kernel.state.position[0],
    attached: follower.attached, early,
  };
}

const results = {};
for (const [name, options] of Object.entries({
  after: {}, before: { answer: "before" }, python: { python: true }, learner: { me: "alice" },
  partial: { partial: true },
})) {
  results[name] = await rejoin(options);
}
console.log(JSON.stringify(results));
"""
)


def _scene_modules() -> dict[str, str]:
    static = ROOT / "dicomteach" / "widgets" / "static"
    return {
        "yjs": YJS_MODULE.as_uri(),
        "scene": (static / "core" / "scene.js").as_uri(),
        "sync": (static / "core" / "sync.js").as_uri(),
        "follow": (static / "live" / "follow.js").as_uri(),
    }


@needs_node
def test_a_rejoining_lead_takes_the_class_view_whatever_the_kernel_answers_first():
    """The presenter's view built again after a kernel restart asks the kernel for its
    whole state (static/core/sync.js, stateComplete); the kernel answers late, after the
    view took the class's slice from the document: that answer, older than the slice the
    view took, neither moves the view nor the class, and the kernel ends on the class's
    slice. Nor does the view write before the whole document arrived, should who leads
    come before the view. A slice set in Python afterwards moves the class (the presenter
    leads). A learner's view in the same case keeps following."""
    found = json.loads(_node(f"const MODULES = {json.dumps(_scene_modules())};\n" + REJOIN))
    kept = {"document": 9, "scene": 9, "kernel": 9, "attached": True, "early": 0}
    for order in ("after", "before", "partial"):
        assert found[order] == kept, (order, found)
    assert found["python"] == kept | {"document": 3, "scene": 3, "kernel": 3}, found
    # a learner's view built while her kernel runs the lesson's cells: following, not
    # detached by the kernel's late answer
    assert found["learner"] == kept, found


LATE_SETS = (
    HARNESS
    + """
/** A view built while the kernel is busy: its ask for the whole state is answered late. */
async function built(state = {}) {
  const kernel = new Kernel({ ...IMAGE, ...state });
  const model = new Model(kernel);
  await stateComplete(model);
  const scene = new Scene(model);
  model.on("change:volume_token", () => {  // viewer.js builds the view again
    scene.sync.discard();
    scene.destroy();
  });
  return { kernel, model, scene };
}

/** The legend's boxes (viewer.js) while the answer is awaited. */
async function legend() {
  const shown = [{ value: 1, name: "nodule", color: [255, 0, 0], visible: true }];
  const { kernel, model, scene } = await built({ label_info: shown, overlay_mode: "fill" });
  const hidden = [{ ...shown[0], visible: false }];
  scene.sync.set({ label_info: hidden });
  scene.sync.set({ overlay_mode: "outline" });
  const drawn = () => [model.get("label_info")[0].visible, model.get("overlay_mode")];
  const atOnce = drawn();
  kernel.run();
  await pause(150);
  kernel.run();
  return {
    atOnce, now: drawn(), seen: kernel.seen.map((a) => [a.label_info[0].visible, a.overlay_mode]),
    kernel: [kernel.state.label_info[0].visible, kernel.state.overlay_mode],
  };
}

/** A study's series asked for by the live session (follow.js) after the learner scrolled. */
async function series(answer) {
  const list = [{ index: 0, uid: "A", label: "A" }, { index: 1, uid: "B", label: "B" }];
  const { kernel, model, scene } = await built({ series: list, series_index: 0, volume_token: 0 });
  kernel.onUpdate = (update) => {
    // Viewer._on_series_index: the other series, at its middle slice
    if (update.series_index === 1 && kernel.state.volume_token === 0) {
      kernel.change({
        shape: [4, 8, 8], layouts: { axial: { slice_axis: 0, n_slices: 4 } }, position: [2, 4, 4],
        volume_token: 1,
      });
    }
  };
  if (answer === "before") kernel.run();
  const follower = new Follower({ scene, model, info: { id: "s1" } });
  scene.setSlice(11);
  if (answer === "python") {  // a cell sets viewer.series_index before the answer
    kernel.change({ series_index: 1 });
    kernel.onUpdate({ series_index: 1 });
  }
  else follower.follow({ series: "B", slice: 1, plane: "axial" });
  for (let i = 0; i < 3; i++) {
    kernel.run();
    await pause(150);
  }
  return { series: kernel.state.series_index, slice: kernel.state.position[0] };
}

console.log(JSON.stringify({
  legend: await legend(), late: await series("after"), early: await series("before"),
  python: await series("python"),
}));
"""
)


@needs_node
def test_what_a_view_sets_itself_is_not_undone_by_the_kernels_late_answer():
    """Besides its scene's state, a view sets attributes itself: the legend's boxes, a
    study's series (a button in viewer.js, a live session in follow.js). Made while the
    kernel has not yet answered the view's ask for its whole state, they show at once
    and the answer, older, does not show the old ones again (after any of the kernel's
    messages); a series goes to the kernel after the slice the learner chose before it,
    so the new series opens at its own slice, not at one of the old series past its end;
    nor does a slice held on a series the kernel has since replaced go to the new one."""
    found = json.loads(_node(f"const MODULES = {json.dumps(_scene_modules())};\n" + LATE_SETS))
    legend = found["legend"]
    assert legend["atOnce"] == legend["now"] == [False, "outline"], legend
    assert legend["seen"] and all(s == [False, "outline"] for s in legend["seen"]), legend
    assert legend["kernel"] == [False, "outline"], legend
    # the slice (11, on the first series) went first, then the series, at its slice 2
    assert found["late"] == {"series": 1, "slice": 2}, found
    assert found["early"] == {"series": 1, "slice": 2}, found
    # a series switched in Python before the answer: the slice held on the first is dropped
    assert found["python"] == {"series": 1, "slice": 2}, found


def test_going_live_again_joins_the_session_one_presents(ct, on_hub, monkeypatch):
    """A presenter whose kernel restarted re-runs go_live: the same session, not a new one."""
    from dicomteach.widgets.live import LiveService

    made: list[dict] = []
    study = study_of(ct)

    def session(n: int, **changed) -> dict:
        return {"id": f"s{n}", "code": f"CODE{'ABCDEFGH'[n]}", "title": "Board",
                "course": "ct101", "presenter": "alice", "study": study,
                "created": f"2026-12-04T10:0{n}:00Z", "ended": None} | changed  # fmt: skip

    running = [
        session(1),
        session(2),  # made last: the one joined
        session(3, title="Another"),
        session(4, presenter="bob"),
        session(5, ended="2026-12-04T11:00:00Z"),
        session(6, study={"folder": "/elsewhere"}),
    ]

    def call(self, method, path, body=None, *, timeout=0):
        if path == "me":
            return {"name": "alice", "courses": {"ct101": "instructor"}}
        if method == "GET" and path == "sessions":
            return {"sessions": running}
        assert (method, path) == ("POST", "sessions")
        made.append(body)
        return session(7) | body

    monkeypatch.setattr(LiveService, "call", call)
    pad = Delineator(ct, answer=None)
    assert pad.go_live("Board").code == "CODEC" and made == []
    assert pad.live["id"] == "s2" and pad.live["role"] == "instructor"
    assert pad.go_live("Board", new=True).id == "s7"
    assert made == [{"course": "ct101", "title": "Board", "study": study}]
    assert pad.go_live("Fresh").id == "s7" and made[-1]["title"] == "Fresh"


def test_a_viewer_of_a_study_joins_a_session_on_another_of_its_series(tmp_path, on_hub):
    """The session is on the study's second series: a Viewer showing the first switches to
    it (the browser then follows the presenter's series, docs/live.md)."""
    from dicomteach.io.writer import StudyInfo

    study = StudyInfo()
    for number, name in ((2, "axial"), (3, "thin")):
        write_ct_series(tmp_path / name, np.full((3, 8, 8), 10.0 * number), study=study,
                        series_number=number, series_description=name)  # fmt: skip
    viewer = Viewer(str(tmp_path))
    uids = [s["uid"] for s in viewer.series]
    assert len(set(uids)) == 2 and viewer.series_index == 0
    second = uids[1]
    described = {"id": "s1", "code": "QWERTY", "title": "Board", "course": "ct101",
                 "presenter": "teacher", "study": {"series": second}}  # fmt: skip
    viewer._enter(described, "learner")
    assert viewer.series_index == 1 and viewer.volume.series_uid == second
    assert viewer.live["series"] == second
    described["study"]["series"] = "1.2.3"  # not in this study: refused, the series stays
    with pytest.raises(LiveError, match="on series 1.2.3; this widget shows"):
        viewer._enter(described, "learner")
    assert viewer.series_index == 1
