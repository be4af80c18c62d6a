// dicomteach Delineator: paint, outline and fill structures on any plane (core.js).
// The label layer is edited here, so the learner sees each stroke at once; when a
// stroke ends, the changed box of the slice goes to the kernel, which keeps the
// history and writes the answer file (DESIGN.md decision 3). The kernel's patches
// (undo, redo, interpolation, other views' strokes) keep every view equal to it.

const DELINEATOR_TOOL_NAMES = {
  brush: ["Brush", "Brush (B): paint the active structure; [ and ] change the radius"],
  eraser: ["Eraser", "Eraser (E): erase the active structure"],
  range: ["Range brush", "Range brush (T): paint only pixels whose value lies in the range"],
  polygon: ["Polygon", "Polygon (P): click the vertices; double-click, Enter or the first vertex closes; Esc cancels"],
  freehand: ["Outline", "Freehand outline (O): drag round the region; release fills it"],
  fill: ["Fill", "Fill (F): fill the connected region under the click, on this slice"],
  wl: ["W/L", "Window/level (W): drag left–right for width, up–down for level"],
};
const DELINEATOR_KEYS = { b: "brush", e: "eraser", t: "range", p: "polygon", o: "freehand", f: "fill", w: "wl" };
const PAINT_TOOLS = new Set(["brush", "eraser", "range"]);
const REFERENCE_COLOR = [255, 255, 0];

// ---------------------------------------------------------------- rasterisation
// Display coordinates: pixel (r, c) of the slice on screen, its centre at (r, c)
// (dicomteach.roi.polygons' convention). Python references: brush_footprint in
// widgets/delineator.py and polygons_to_mask in roi/polygons.py, same operations.

// Pixels whose centre lies within `radius` mm of the segment between the pixel
// centres a and b (a capsule; a disc when a = b), on rowMm × colMm pixels.
function capsulePixels(a, b, radius, rowMm, colMm, rows, cols, visit) {
  const limit = radius * radius + 1e-6;
  const dr = Math.ceil(radius / rowMm), dc = Math.ceil(radius / colMm);
  const r0 = Math.max(0, Math.min(a[0], b[0]) - dr), r1 = Math.min(rows - 1, Math.max(a[0], b[0]) + dr);
  const c0 = Math.max(0, Math.min(a[1], b[1]) - dc), c1 = Math.min(cols - 1, Math.max(a[1], b[1]) + dc);
  const ey = (b[0] - a[0]) * rowMm, ex = (b[1] - a[1]) * colMm;
  const ee = ey * ey + ex * ex;
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) {
      const py = (r - a[0]) * rowMm, px = (c - a[1]) * colMm;
      let t = ee > 0 ? (py * ey + px * ex) / ee : 0;
      t = Math.min(1, Math.max(0, t));
      const qy = py - t * ey, qx = px - t * ex;
      if (qy * qy + qx * qx <= limit) visit(r, c);
    }
  }
}

// Pixels whose centre is inside the closed outline: even-odd, half-open
// (top-left) ties, scanline by scanline as roi.polygons_to_mask does.
function polygonPixels(points, rows, cols, visit) {
  const n = points.length;
  if (n < 3) return;
  const edges = [];
  let lowest = Infinity, highest = -Infinity;
  for (let i = 0; i < n; i++) {
    const p0 = points[i], p1 = points[(i + 1) % n];
    const low = Math.min(p0[0], p1[0]), high = Math.max(p0[0], p1[0]);
    edges.push([p0, p1, low, high]);
    lowest = Math.min(lowest, low);
    highest = Math.max(highest, high);
  }
  const first = Math.max(Math.ceil(lowest), 0);
  const last = Math.min(Math.ceil(highest) - 1, rows - 1);
  const toggles = new Int32Array(cols + 1);
  for (let i = first; i <= last; i++) {
    toggles.fill(0);
    let crossed = false;
    for (const [p0, p1, low, high] of edges) {
      if (!(low <= i && i < high)) continue;
      const t = (i - p0[0]) / (p1[0] - p0[0]);
      const x = p0[1] + t * (p1[1] - p0[1]);
      toggles[Math.min(Math.max(Math.ceil(x), 0), cols)] += 1;
      crossed = true;
    }
    if (!crossed) continue;
    let parity = 0;
    for (let j = 0; j < cols; j++) {
      parity += toggles[j];
      if (parity & 1) visit(i, j);
    }
  }
}

// The 4-connected region of pixels equal to the one at (r, c).
function floodPixels(valueAt, r, c, rows, cols, visit) {
  const target = valueAt(r, c);
  const seen = new Uint8Array(rows * cols);
  const stack = [r * cols + c];
  seen[r * cols + c] = 1;
  while (stack.length) {
    const k = stack.pop();
    const y = Math.floor(k / cols), x = k - y * cols;
    visit(y, x);
    const next = [];
    if (y > 0) next.push(k - cols);
    if (y < rows - 1) next.push(k + cols);
    if (x > 0) next.push(k - 1);
    if (x < cols - 1) next.push(k + 1);
    for (const q of next) {
      if (seen[q]) continue;
      seen[q] = 1;
      if (valueAt(Math.floor(q / cols), q % cols) === target) stack.push(q);
    }
  }
}

// ---------------------------------------------------------------- one edit

// The pixels one stroke changes on the displayed slice: written into the label
// layer at once, remembered (value before) to send the changed box when it ends.
class SliceEdit {
  constructor(scene, tool, active, hidden, range) {
    const layout = scene.layout;
    this.tool = tool;
    this.plane = scene.plane;
    this.slice = scene.slice;
    this.layout = layout;
    this.labels = scene.layers.get("labels");
    this.image = scene.layers.get("image");
    const w = walker(layout, this.labels.shape, this.slice);
    this.base = w.base;
    this.dR = w.dR;
    this.dC = w.dC;
    this.active = active;
    this.value = tool === "eraser" ? 0 : active;
    this.hidden = hidden;
    this.range = tool === "range" ? range : null;
    this.before = new Map();
    this.box = [Infinity, -Infinity, Infinity, -Infinity];
    this.last = null;
  }

  index(r, c) {
    return this.base + r * this.dR + c * this.dC;
  }

  valueAt(r, c) {
    return this.labels.data[this.index(r, c)];
  }

  // Paint one pixel if the tool may: the eraser takes only the active structure;
  // painting never covers hidden structures; the range brush checks the image value.
  set(r, c) {
    const p = this.index(r, c);
    const data = this.labels.data;
    const v = data[p];
    if (this.tool === "eraser") {
      if (v !== this.active) return;
    } else if (v === this.value || this.hidden.has(v)) return;
    if (this.range) {
      const x = this.image.value(p);
      if (!(x >= this.range[0] && x <= this.range[1])) return;
    }
    if (!this.before.has(p)) this.before.set(p, v);
    data[p] = this.value;
    const b = this.box;
    if (r < b[0]) b[0] = r;
    if (r > b[1]) b[1] = r;
    if (c < b[2]) b[2] = c;
    if (c > b[3]) b[3] = c;
  }

  stamp(point, radius) {
    const from = this.last || point;
    const l = this.layout;
    capsulePixels(from, point, radius, l.row_spacing, l.col_spacing, l.rows, l.cols,
      (r, c) => this.set(r, c));
    this.last = point;
  }

  fillOutline(points) {
    polygonPixels(points, this.layout.rows, this.layout.cols, (r, c) => this.set(r, c));
  }

  flood(r, c) {
    const target = this.valueAt(r, c);
    if (target === this.value || this.hidden.has(target)) return;
    floodPixels((y, x) => this.valueAt(y, x), r, c, this.layout.rows, this.layout.cols,
      (y, x) => this.set(y, x));
  }

  get changed() {
    return this.before.size;
  }

  // The message to the kernel: the changed box, values after and before.
  message(origin, seq, extra) {
    const [r0, r1, c0, c1] = [this.box[0], this.box[1] + 1, this.box[2], this.box[3] + 1];
    const h = r1 - r0, w = c1 - c0;
    const after = new Uint8Array(h * w), before = new Uint8Array(h * w);
    const data = this.labels.data;
    let j = 0;
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++, j++) {
        const p = this.index(r, c);
        after[j] = data[p];
        before[j] = this.before.has(p) ? this.before.get(p) : data[p];
      }
    }
    const content = {
      type: "edit", plane: this.plane, slice: this.slice, box: [r0, r1, c0, c1],
      structure: this.active, tool: this.tool, origin, seq, ...(extra || {}),
    };
    return [content, [after.buffer, before.buffer]];
  }

  // Put the values back (an edit the kernel will not get).
  revert() {
    for (const [p, v] of this.before) this.labels.data[p] = v;
    this.before.clear();
  }
}

// ---------------------------------------------------------------- the editor


// The model attributes the learner changes here and the kernel may change too.
const EDITOR_STATE = ["active", "brush_mm", "hu_range", "structures", "show_reference"];
// The ones only the kernel changes: shown in the panel.
const EDITOR_SHOWN = ["can_undo", "can_redo", "notice", "tools", "answer_file"];

class Editor {
  constructor(scene, model, el) {
    this.scene = scene;
    this.model = model;
    this.el = el;
    this.seq = 0;
    this.pending = 0;
    this.pendingTimer = null;
    this.ackTimer = null;
    this.edit = null;
    this.draft = null;
    this.hover = null;
    this.viewports = [];
    this.redrawScheduled = false;
    this.localNotice = "";
    this.panelUpdate = () => {};
    this.state = {};
    for (const name of EDITOR_STATE) {
      this.state[name] = model.get(name);
      scene.track(name, () => this.state[name], (value) => {
        this.state[name] = value;
        this.changed(name);
      });
    }
    scene.watch(EDITOR_SHOWN, () => {
      this.localNotice = "";
      this.panelUpdate();
    });
    el.dataset.sent = "0";
    el.dataset.acked = "0";
    el.dataset.pending = "0";
    el.dataset.revision = String(model.get("revision"));
    this.offMessage = scene.on("message", (msg) => this.message(msg));
  }

  get active() {
    return this.state.active;
  }

  hiddenValues() {
    return new Set(this.state.structures.filter((s) => s.visible === false).map((s) => s.value));
  }

  structure(value) {
    return this.state.structures.find((s) => s.value === value);
  }

  // ---- state the kernel shares

  // A change made here: shown at once, sent with the scene's next message.
  set(name, value) {
    this.state[name] = value;
    this.localNotice = "";
    this.changed(name);
    this.scene.scheduleSend();
  }

  changed(name) {
    this.panelUpdate();
    if (name === "structures") this.redrawLabels();
    else if (name === "show_reference") this.scene.redraw(["reference"]);
    else if (name === "active" || name === "brush_mm") this.drawDrafts();
  }

  select(value) {
    if (!this.structure(value)) return false;
    this.set("active", value);
    return true;
  }

  setVisible(value, visible) {
    this.set("structures", this.state.structures.map((s) => (s.value === value ? { ...s, visible } : s)));
  }

  setBrush(mm) {
    if (!(mm > 0)) return;
    this.set("brush_mm", Math.min(500, Math.round(mm * 10) / 10));
  }

  resizeBrush(sign) {
    const r = this.state.brush_mm;
    const step = Math.max(0.5, Math.round(r * 0.25 * 2) / 2);
    this.setBrush(Math.max(0.5, r + sign * step));
  }

  setRange(lo, hi) {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    this.set("hu_range", lo <= hi ? [lo, hi] : [hi, lo]);
  }

  say(text) {
    this.localNotice = text;
    this.panelUpdate();
  }

  // ---- may the learner draw now?

  canEdit(p, tool) {
    const scene = this.scene;
    if (!p.inside) return false;
    if (!scene.layers.get("labels") || !scene.loadedFor("labels")) {
      this.say("Wait: the labels are still loading.");
      return false;
    }
    if (tool === "range" && !scene.loadedFor("image")) {
      this.say("Wait: the image is still loading.");
      return false;
    }
    if (this.pending > 0) {
      this.say("Wait: the kernel is applying the last change.");
      return false;
    }
    if (tool !== "eraser") {
      const s = this.structure(this.active);
      if (s && s.visible === false) this.setVisible(s.value, true);
    }
    this.localNotice = "";
    return true;
  }

  begin(tool) {
    return new SliceEdit(this.scene, tool, this.active, this.hiddenValues(), this.state.hu_range);
  }

  // A finished edit: to the kernel if it changed anything.
  finish(edit, extra) {
    this.edit = null;
    if (!edit || edit.changed === 0) {
      this.redrawLabels();
      return;
    }
    this.seq += 1;
    const [content, buffers] = edit.message(this.scene.origin, this.seq, extra);
    this.model.send(content, undefined, buffers);
    this.el.dataset.sent = String(this.seq);
    this.redrawLabels();
    // No acknowledgement: the kernel is busy, dead or restarted, and the stroke is not saved.
    const seq = this.seq;
    clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => {
      if (Number(this.el.dataset.acked) < seq) {
        this.say("Not saved yet: the kernel has not answered. If it was restarted, run the cell again.");
      }
    }, 8000);
  }

  redrawLabels() {
    if (this.redrawScheduled) return;
    this.redrawScheduled = true;
    requestAnimationFrame(() => {
      this.redrawScheduled = false;
      this.scene.redraw(["labels"]);
    });
  }

  // ---- requests the kernel answers with "done"

  request(type, extra) {
    this.cancelDraft();
    this.pending += 1;
    this.el.dataset.pending = String(this.pending);
    this.model.send({ type, origin: this.scene.origin, ...(extra || {}) });
    clearTimeout(this.pendingTimer);
    // A kernel that never answers (restarted, busy for long) must not lock the pen.
    this.pendingTimer = setTimeout(() => {
      this.pending = 0;
      this.el.dataset.pending = "0";
    }, 15000);
  }

  undo() {
    this.request("undo");
  }

  redo() {
    this.request("redo");
  }

  interpolate() {
    this.request("interpolate", { plane: this.scene.plane, structure: this.active });
  }

  // The kernel's messages; its label patches are applied by the scene (core.js), except
  // the one acknowledging this view's own stroke, which this view already shows.
  message(msg) {
    const mine = msg.origin === this.scene.origin;
    if (msg.type === "patch" && msg.layer === "labels") {
      if (mine) this.acknowledge(msg);
      this.el.dataset.revision = String(msg.revision);
    } else if (msg.type === "ack" && mine) {
      this.acknowledge(msg);
      if (msg.problem) {
        // The kernel refused it: take its copy of the labels again.
        this.say(`Not saved (${msg.problem}); reloading the labels.`);
        this.model.send({ type: "ready", layers: ["labels"], frame: this.scene.position[0] });
      }
    } else if (msg.type === "done" && mine) {
      this.pending = Math.max(0, this.pending - 1);
      this.el.dataset.pending = String(this.pending);
      this.el.dataset.revision = String(msg.revision);
      if (!msg.changed && msg.op !== "interpolate") this.say(`Nothing to ${msg.op}.`);
    }
  }

  acknowledge(msg) {
    if (typeof msg.seq === "number") this.el.dataset.acked = String(msg.seq);
    if (this.localNotice.startsWith("Not saved yet")) this.say("");
  }

  // ---- drafts: polygon and freehand outlines before they are filled

  cancelDraft() {
    if (!this.draft) return;
    this.draft = null;
    this.drawDrafts();
  }

  closeDraft() {
    const draft = this.draft;
    this.draft = null;
    if (draft && draft.points.length >= 3 && draft.plane === this.scene.plane &&
        draft.slice === this.scene.slice) {
      const edit = this.begin(draft.kind);
      edit.fillOutline(draft.points);
      this.finish(edit, { outline: draft.points });
    }
    this.drawDrafts();
  }

  addVertex(p, vp) {
    const scene = this.scene;
    let d = this.draft;
    if (!d || d.kind !== "polygon" || d.plane !== scene.plane || d.slice !== scene.slice) {
      d = this.draft = { kind: "polygon", plane: scene.plane, slice: scene.slice, points: [] };
    }
    const q = [p.row, p.col];
    const pts = d.points;
    if (pts.length >= 3) {
      // A click on the first vertex closes the outline.
      const [x0, y0] = vp.toScreen(pts[0][1] + 0.5, pts[0][0] + 0.5);
      const [x1, y1] = vp.toScreen(p.col + 0.5, p.row + 0.5);
      if (Math.hypot(x1 - x0, y1 - y0) < 6 && (q[0] !== pts[pts.length - 1][0] || q[1] !== pts[pts.length - 1][1])) {
        this.closeDraft();
        return;
      }
    }
    const last = pts[pts.length - 1];
    if (!last || last[0] !== q[0] || last[1] !== q[1]) pts.push(q);
    this.drawDrafts();
  }

  // Delete/Backspace while outlining a polygon: its last vertex.
  removeVertex() {
    if (!this.draft || this.draft.kind !== "polygon") return false;
    this.draft.points.pop();
    this.drawDrafts();
    return true;
  }

  // Slice or plane changed under a draft: it belongs to the old one.
  checkDraft() {
    const d = this.draft;
    if (d && (d.plane !== this.scene.plane || d.slice !== this.scene.slice)) this.draft = null;
  }

  drawDrafts() {
    this.el.dataset.draft = String(this.draft ? this.draft.points.length : 0);
    for (const vp of this.viewports) vp.drawDraft();
  }

  // ---- the tools core.js calls: down/move/up during a drag, hover otherwise

  tools() {
    const paint = (tool) => ({
      down: (event, p) => {
        if (!this.canEdit(p, tool)) return false;
        this.edit = this.begin(tool);
        this.edit.stamp([p.row, p.col], this.state.brush_mm);
        this.redrawLabels();
      },
      move: (event, p) => {
        this.hover = p;
        if (this.edit) {
          this.edit.stamp([p.row, p.col], this.state.brush_mm);
          this.redrawLabels();
        }
        this.drawDrafts();
      },
      up: () => this.finish(this.edit),
      hover: (event, p) => {
        this.hover = p;
        this.drawDrafts();
      },
    });
    return {
      brush: paint("brush"),
      eraser: paint("eraser"),
      range: paint("range"),
      polygon: {
        down: (event, p, vp) => {
          if (!this.canEdit(p, "polygon")) return false;
          this.addVertex(p, vp);
        },
        hover: (event, p) => {
          this.hover = p;
          this.drawDrafts();
        },
      },
      freehand: {
        down: (event, p) => {
          if (!this.canEdit(p, "freehand")) return false;
          const scene = this.scene;
          this.draft = { kind: "freehand", plane: scene.plane, slice: scene.slice, points: [[p.row, p.col]] };
          this.drawDrafts();
        },
        move: (event, p) => {
          const d = this.draft;
          if (!d || d.kind !== "freehand") return;
          const last = d.points[d.points.length - 1];
          if (last[0] !== p.row || last[1] !== p.col) d.points.push([p.row, p.col]);
          this.drawDrafts();
        },
        up: (event, p, vp, cancelled) => {
          if (this.draft && this.draft.kind === "freehand" && !cancelled) this.closeDraft();
          else this.cancelDraft();
        },
      },
      fill: {
        down: (event, p) => {
          if (!this.canEdit(p, "fill")) return false;
          const edit = this.begin("fill");
          edit.flood(p.row, p.col);
          this.finish(edit);
        },
      },
    };
  }

  dblclick(event) {
    if (this.scene.tool === "polygon" && this.draft && this.draft.kind === "polygon") {
      event.preventDefault();
      event.stopPropagation();
      this.closeDraft();
    }
  }

  // Keys before the standard ones (standardControls' onKeyFirst): ctrl-z/y, Escape and
  // Enter while outlining, the tool letters, [ ] and shift+digit. True when used.
  key(event) {
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    const tools = this.model.get("tools");
    let handled = true;
    if (ctrl && !event.altKey && (key === "z" || key === "Z")) {
      if (event.shiftKey) this.redo();
      else this.undo();
    } else if (ctrl && !event.altKey && (key === "y" || key === "Y")) this.redo();
    else if (ctrl || event.altKey) handled = false;
    else if (key === "Escape" && this.draft) this.cancelDraft();
    else if (key === "Enter" && this.draft && this.draft.kind === "polygon") this.closeDraft();
    else if (key === "[") this.resizeBrush(-1);
    else if (key === "]") this.resizeBrush(1);
    else if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
      handled = this.select(Number(event.code.slice(5)));
    } else if (DELINEATOR_KEYS[key] && tools.includes(DELINEATOR_KEYS[key])) {
      this.scene.setTool(DELINEATOR_KEYS[key]);
    } else if (key === "i") this.interpolate();
    else handled = false;
    return handled;
  }

  // ---- the panel: structures, brush, range, history (groups of the tool column), notice

  panel() {
    const model = this.model;
    const list = el("div", "dt-structures");

    const reference = el("label", "dt-delineator-field dt-delineator-reference");
    const refBox = el("input");
    refBox.type = "checkbox";
    refBox.dataset.control = "reference";
    refBox.title = "Show the reference outline";
    refBox.addEventListener("change", () => this.set("show_reference", refBox.checked));
    reference.append(refBox, " Reference");
    const structures = controlGroup("Structures", [list, reference], "dt-delineator-panel");

    const brush = el("label", "dt-delineator-field");
    const brushInput = el("input");
    brushInput.type = "number";
    brushInput.min = "0.5";
    brushInput.step = "0.5";
    brushInput.dataset.control = "brush";
    brushInput.title = "Brush radius in mm ([ and ] change it)";
    brush.append("Radius ", brushInput, " mm");
    brushInput.addEventListener("change", () => this.setBrush(Number(brushInput.value)));

    const range = el("label", "dt-delineator-field");
    const lo = el("input"), hi = el("input");
    for (const [input, name] of [[lo, "range-low"], [hi, "range-high"]]) {
      input.type = "number";
      input.step = "any";
      input.dataset.control = name;
      input.addEventListener("change", () => this.setRange(Number(lo.value), Number(hi.value)));
    }
    const units = model.get("units");
    lo.title = `Range brush: lowest value painted${units ? ` (${units})` : ""}`;
    hi.title = `Range brush: highest value painted${units ? ` (${units})` : ""}`;
    range.append("Range ", lo, "–", hi, units ? ` ${units}` : "");
    const brushGroup = controlGroup("Brush", [brush, range], "dt-delineator-panel");

    const undo = button("Undo", "Undo the last change (ctrl-z)", () => this.undo());
    const redo = button("Redo", "Redo (ctrl-shift-z or ctrl-y)", () => this.redo());
    const interpolate = button("Interpolate",
      "Fill the slices between the slices drawn in this plane for the active structure (I)",
      () => this.interpolate());
    undo.dataset.action = "undo";
    redo.dataset.action = "redo";
    interpolate.dataset.action = "interpolate";
    const history = controlGroup("Edit", [undo, redo, interpolate], "dt-delineator-panel");

    const notice = el("div", "dt-delineator-notice");
    notice.setAttribute("aria-live", "polite");

    const structureRow = (s, active) => {
      const row = el("span", "dt-structure");
      row.classList.toggle("dt-hidden", s.visible === false);
      const pick = button("", `Draw ${s.name}${s.value <= 9 ? ` (shift+${s.value})` : ""}`,
        () => this.select(s.value));
      pick.dataset.structure = s.name;
      pick.setAttribute("aria-pressed", String(s.value === active));
      const swatch = el("span", "dt-swatch");
      swatch.style.background = `rgb(${s.color.join(",")})`;
      pick.append(swatch, el("span", "", s.name));
      const show = el("input");
      show.type = "checkbox";
      show.checked = s.visible !== false;
      show.title = `Show ${s.name}`;
      show.setAttribute("aria-label", `Show ${s.name}`);
      show.dataset.visible = s.name;
      show.addEventListener("change", () => this.setVisible(s.value, show.checked));
      row.append(pick, show);
      return row;
    };

    let shown = "";
    const update = () => {
      const state = this.state;
      // Rebuilt only when it changed: a click must not lose its button half-way.
      const key = JSON.stringify([state.structures, state.active]);
      if (key !== shown) {
        shown = key;
        list.replaceChildren(...state.structures.map((s) => structureRow(s, state.active)));
      }
      if (document.activeElement !== brushInput) brushInput.value = String(state.brush_mm);
      const [a, b] = state.hu_range;
      if (document.activeElement !== lo) lo.value = String(a);
      if (document.activeElement !== hi) hi.value = String(b);
      const tools = model.get("tools");
      brush.hidden = !tools.some((t) => PAINT_TOOLS.has(t));
      range.hidden = !tools.includes("range");
      brushGroup.hidden = brush.hidden && range.hidden;
      undo.disabled = model.get("can_undo") === 0;
      redo.disabled = model.get("can_redo") === 0;
      reference.hidden = !this.scene.layers.get("reference");
      refBox.checked = state.show_reference;
      const text = this.localNotice || model.get("notice");
      notice.textContent = text;
      notice.dataset.kind = /moved aside|Could not|could not|Not saved|cannot/.test(text) ? "warning" : "info";
    };
    this.panelUpdate = update;
    return { groups: [structures, brushGroup, history], notice, update };
  }

  destroy() {
    clearTimeout(this.pendingTimer);
    clearTimeout(this.ackTimer);
    this.offMessage();
  }
}

// ---------------------------------------------------------------- the viewport

// The core viewport, with the labels coloured by structure, the reference as an
// outline, and an SVG of drafts (outline being drawn, brush circle) on top.
class DelineatorViewport extends Viewport {
  constructor(scene, editor, options) {
    super(scene, options);
    this.editor = editor;
    this.addCanvas("reference", "dt-viewer-reference");
    this.draftSvg = svg("svg", { class: "dt-viewer-annotations dt-delineator-draft" });
    this.root.append(this.draftSvg);
    this.root.addEventListener("dblclick", (event) => editor.dblclick(event));
    this.root.addEventListener("pointerleave", () => {
      editor.hover = null;
      this.drawDraft();
    });
    editor.viewports.push(this);
  }

  draw(which) {
    super.draw(which);
    if (this.stale) return;
    this.editor.checkDraft();
    this.drawDraft();
  }

  // The labels in the structures' colours (the structures list, not label_info).
  labelInfo() {
    return this.editor.state.structures;
  }

  drawImageLayer(name, layout, s) {
    if (name !== "reference") return super.drawImageLayer(name, layout, s);
    const reference = this.scene.layers.get("reference");
    if (!reference || !this.editor.state.show_reference) return false;
    const colors = new Map();
    for (let v = 1; v < 256; v++) colors.set(v, REFERENCE_COLOR);
    drawLabels(reference, layout, s, colors, 0, "outline", this.pixels(name));
    return true;
  }

  place() {
    super.place();
    if (this.editor && this.scene.layout) this.drawDraft();
  }

  toolChanged() {
    super.toolChanged();
    if (this.editor && this.editor.draft && this.scene.tool !== this.editor.draft.kind) {
      this.editor.cancelDraft();
    }
  }

  // Screen millimetres: the image is drawn with its true aspect, so a disc in mm is a circle.
  pxPerMm() {
    const layout = this.scene.layout;
    const rect = this.canvas.getBoundingClientRect();
    return rect.width / (layout.cols * layout.col_spacing);
  }

  drawDraft() {
    const group = this.draftSvg;
    while (group.firstChild) group.removeChild(group.firstChild);
    const editor = this.editor;
    const scene = this.scene;
    const s = editor.structure(editor.active);
    const color = s ? `rgb(${s.color.join(",")})` : "#fff";
    const centre = (q) => this.toScreen(q[1] + 0.5, q[0] + 0.5);
    const d = editor.draft;
    if (d && d.plane === scene.plane && d.slice === scene.slice && d.points.length) {
      const pts = d.points.map(centre);
      group.append(svg("polyline", {
        class: "dt-draft-line", stroke: color,
        points: pts.map((p) => p.join(",")).join(" "),
      }));
      const h = editor.hover;
      if (d.kind === "polygon") {
        if (h && h.inside) {
          const a = pts[pts.length - 1], b = centre([h.row, h.col]);
          group.append(svg("line", {
            class: "dt-draft-line dt-draft-rubber", stroke: color, x1: a[0], y1: a[1], x2: b[0], y2: b[1],
          }));
        }
        for (const p of pts) {
          group.append(svg("circle", { class: "dt-draft-vertex", fill: color, cx: p[0], cy: p[1], r: 3 }));
        }
      }
    }
    const h = editor.hover;
    if (h && h.inside && PAINT_TOOLS.has(scene.tool)) {
      const [x, y] = centre([h.row, h.col]);
      group.append(svg("circle", {
        class: "dt-brush-cursor", cx: x, cy: y, r: editor.state.brush_mm * this.pxPerMm(),
      }));
    }
  }
}

// ---------------------------------------------------------------- render

async function render({ model, el }) {
  await stateComplete(model);
  el.classList.add("dt-viewer", "dt-delineator");
  el.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the widget.
  el.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  const editor = new Editor(scene, model, el);
  const controls = standardControls(scene, el, {
    toolNames: DELINEATOR_TOOL_NAMES,
    // Before the Viewer's keys: ctrl-z, and Escape/Enter while outlining.
    onKeyFirst: (event) => editor.key(event),
    onDelete: () => editor.removeVertex(),
  });
  const panel = editor.panel();
  const viewport = new DelineatorViewport(scene, editor, {
    showFused: false,
    cursorLine: controls.cursorLine,
    onStatus: (vp) => {
      controls.update(vp);
      panel.update();
    },
    tools: editor.tools(),
  });
  // The structures, brush and history right after the drawing tools.
  controls.toolbar.firstChild.after(...panel.groups);
  widgetLayout(el, {
    main: [viewport.root, controls.slider, controls.readout, controls.cursorLine, panel.notice],
    side: [controls.toolbar],
  });
  viewport.toolChanged();
  viewport.draw();
  panel.update();

  return () => {
    controls.destroy();
    editor.destroy();
    viewport.destroy();
    scene.destroy();
  };
}

export default { render };
