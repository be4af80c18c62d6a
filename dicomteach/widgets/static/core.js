// dicomteach widget core: layers of stored values streamed once from the kernel,
// windowed and coloured here, shown in viewports with zoom, pan, reformats,
// orientation letters, cursor readout, overlays and measurements.
// No imports, no CDN (DESIGN.md decisions 1 and 2). The Python side joins this
// file with one widget file (viewer.js, …) into the widget's ES module.

// ---------------------------------------------------------------- the model's state

// The kernel opens a widget's comm with default values and sends the rest of its
// state as updates; Lab may render the view in between (Run All with the cell out of
// view). Views wait for the state the kernel marks complete (_base.py).
function stateComplete(model) {
  if (model.get("state_complete")) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (!model.get("state_complete")) return;
      model.off("change:state_complete", check);
      resolve();
    };
    model.on("change:state_complete", check);
  });
}

// ---------------------------------------------------------------- pixel rules

// The 8-bit rule of dicomteach/imaging/voi.py (module docstring), in float64,
// in the same order: window (PS3.3 C.11.2.1.2.1 LINEAR; C.11.2.1.3.2
// LINEAR_EXACT; C.11.2.1.3.1 SIGMOID) to 0..255, then round half up and clip
// with Math.min(255, Math.max(0, Math.floor(y + 0.5))), then MONOCHROME1
// inversion v = 255 - v after the rounding.
function displayValue(x, center, width, fn, invert) {
  let y;
  if (fn === "SIGMOID") {
    y = 255 / (1 + Math.exp(-4 * (x - center) / width)) + 0;
  } else {
    const c1 = fn === "LINEAR" ? center - 0.5 : center;
    const w1 = fn === "LINEAR" ? width - 1 : width;
    if (x <= c1 - w1 / 2) y = 0;
    else if (x > c1 + w1 / 2) y = 255;
    else y = ((x - c1) / w1 + 0.5) * 255 + 0;
  }
  const v = Math.min(255, Math.max(0, Math.floor(y + 0.5)));
  return invert ? 255 - v : v;
}

// VOI LUT table (imaging/voi.py voi_lut_to_uint8): entry at floor(x - first),
// clipped to the table, scaled by 255 / (2**bits - 1), then the same rounding.
function tableDisplayValue(x, table, invert) {
  const n = table.data.length;
  let i = Math.floor(x - table.first);
  if (!(i >= 0)) i = 0;
  if (i > n - 1) i = n - 1;
  const y = (table.data[i] * 255) / (2 ** table.bits - 1);
  const v = Math.min(255, Math.max(0, Math.floor(y + 0.5)));
  return invert ? 255 - v : v;
}

// Modality LUT (imaging/modality.py): rescale, or a table indexed by
// stored - first_mapped clipped to the table.
function modalityValue(stored, slope, intercept, lut) {
  if (lut) {
    let i = stored - lut.first;
    if (i < 0) i = 0;
    if (i > lut.data.length - 1) i = lut.data.length - 1;
    return lut.data[i];
  }
  return stored * slope + intercept;
}

const TYPED = { int16: Int16Array, uint16: Uint16Array, uint8: Uint8Array, int8: Int8Array };

function format(n, digits = 2) {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  const f = 10 ** digits;
  return String(Math.round(n * f) / f);
}

function fixed(n, digits) {
  return (Math.round(n * 10 ** digits) / 10 ** digits).toFixed(digits);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, title, onClick) {
  const b = el("button", "dt-viewer-button", label);
  b.type = "button";
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick);
  return b;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}


// ---------------------------------------------------------------- layers

// One array streamed from the kernel: an image (stored values) or labels.
class Layer {
  constructor(name, info, shape) {
    this.name = name;
    this.info = info;
    this.shape = shape;
    this.channels = info.channels || 1;
    this.frameSize = shape[1] * shape[2] * this.channels;
    const Typed = TYPED[info.dtype];
    if (!Typed) throw new Error(`layer ${name}: unknown dtype ${info.dtype}`);
    this.data = new Typed(shape[0] * this.frameSize);
    this.loaded = new Uint8Array(shape[0]);
    this.nLoaded = 0;
    this.generation = info.generation;
    this.lutCache = null;
  }

  // A message buffer (DataView) as values of this layer's type; copied when not aligned.
  typed(view) {
    const Typed = this.data.constructor;
    const bytes = Typed.BYTES_PER_ELEMENT;
    let buffer = view.buffer;
    let offset = view.byteOffset;
    if (offset % bytes !== 0) {
      buffer = buffer.slice(offset, offset + view.byteLength);
      offset = 0;
    }
    // Little-endian on the wire; typed arrays read platform order, little-endian everywhere we run.
    return new Typed(buffer, offset, view.byteLength / Typed.BYTES_PER_ELEMENT);
  }

  accept(start, count, view) {
    this.data.set(this.typed(view), start * this.frameSize);
    for (let f = start; f < start + count; f++) {
      if (!this.loaded[f]) {
        this.loaded[f] = 1;
        this.nLoaded += 1;
      }
    }
  }

  // Replace one box of the array, [[k0, k1], [r0, r1], [c0, c1]] in array order, with the
  // box's values in C order (ImageWidget._patch_layer). False if the sizes disagree.
  patch(box, view) {
    const src = this.typed(view);
    const [[k0, k1], [r0, r1], [c0, c1]] = box;
    const [n, rows, cols] = this.shape;
    if (!(0 <= k0 && k0 <= k1 && k1 <= n && 0 <= r0 && r0 <= r1 && r1 <= rows &&
      0 <= c0 && c0 <= c1 && c1 <= cols)) return false;
    const w = (c1 - c0) * this.channels;
    if (src.length !== (k1 - k0) * (r1 - r0) * w) return false;
    let j = 0;
    for (let k = k0; k < k1; k++) {
      for (let r = r0; r < r1; r++, j += w) {
        this.data.set(src.subarray(j, j + w), ((k * rows + r) * cols + c0) * this.channels);
      }
    }
    return true;
  }

  get complete() {
    return this.nLoaded === this.shape[0];
  }

  slope(f) {
    const s = this.info.rescale_slope || [1];
    return s.length === 1 ? s[0] : s[f];
  }

  intercept(f) {
    const s = this.info.rescale_intercept || [0];
    return s.length === 1 ? s[0] : s[f];
  }

  value(index) {
    // Modality value of the element at flat index (grey images).
    const f = Math.floor(index / this.frameSize);
    return modalityValue(this.data[index], this.slope(f), this.intercept(f), this.info.modality_lut);
  }

  // Stored → 8-bit display value for every possible stored value, when the
  // modality LUT is the same for all frames (one rescale or one table).
  displayLut(view) {
    const uniform =
      (this.info.rescale_slope || [1]).length === 1 &&
      (this.info.rescale_intercept || [0]).length === 1;
    if (!uniform && !this.info.modality_lut) return null;
    const key = JSON.stringify([view.center, view.width, view.fn, view.tableIndex, view.invert]);
    if (this.lutCache && this.lutCache.key === key) return this.lutCache;
    const dtype = this.info.dtype;
    const lo = dtype === "int16" ? -32768 : dtype === "int8" ? -128 : 0;
    const n = dtype === "uint8" || dtype === "int8" ? 256 : 65536;
    const lut = new Uint8Array(n);
    const slope = this.slope(0), intercept = this.intercept(0), mlut = this.info.modality_lut;
    for (let i = 0; i < n; i++) {
      const x = modalityValue(i + lo, slope, intercept, mlut);
      lut[i] = view.table
        ? tableDisplayValue(x, view.table, view.invert)
        : displayValue(x, view.center, view.width, view.fn, view.invert);
    }
    this.lutCache = { key, lut, lo };
    return this.lutCache;
  }
}

// Array strides of a layout: displayed (row, col) of slice s → flat index.
function walker(layout, shape, s) {
  const stride = [shape[1] * shape[2], shape[2], 1];
  const sR = stride[layout.row_axis], sC = stride[layout.col_axis];
  let base = s * stride[layout.slice_axis];
  if (layout.flip_rows) base += (layout.rows - 1) * sR;
  if (layout.flip_cols) base += (layout.cols - 1) * sC;
  return {
    base,
    dR: layout.flip_rows ? -sR : sR,
    dC: layout.flip_cols ? -sC : sC,
  };
}

// Displayed (row, col) of slice s → array (frame, row, col).
function toArrayIndex(layout, s, r, c) {
  const a = [0, 0, 0];
  a[layout.slice_axis] = s;
  a[layout.row_axis] = layout.flip_rows ? layout.rows - 1 - r : r;
  a[layout.col_axis] = layout.flip_cols ? layout.cols - 1 - c : c;
  return a;
}

// Array (frame, row, col) → displayed [slice, row, col] of a layout.
function fromArrayIndex(layout, a) {
  const r = a[layout.row_axis], c = a[layout.col_axis];
  return [
    a[layout.slice_axis],
    layout.flip_rows ? layout.rows - 1 - r : r,
    layout.flip_cols ? layout.cols - 1 - c : c,
  ];
}
// Draw one slice of an image layer into RGBA `out` (a Uint8ClampedArray).
// view: {center, width, fn, table, invert, colormap (256×3 flat or null), alphaZero}
function drawImage(layer, layout, s, view, out) {
  const rows = layout.rows, cols = layout.cols;
  const data = layer.data;
  const cmap = view.colormap;
  const alphaZero = view.alphaZero;
  if (layer.channels === 3) {
    const { base, dR, dC } = walker(layout, layer.shape.slice(0, 3), s);
    const lut = new Uint8Array(256);
    for (let i = 0; i < 256; i++) lut[i] = displayValue(i, view.center, view.width, view.fn, false);
    let j = 0;
    for (let r = 0; r < rows; r++) {
      let p = base + r * dR;
      for (let c = 0; c < cols; c++, p += dC, j += 4) {
        out[j] = lut[data[3 * p]];
        out[j + 1] = lut[data[3 * p + 1]];
        out[j + 2] = lut[data[3 * p + 2]];
        out[j + 3] = 255;
      }
    }
    return;
  }
  const { base, dR, dC } = walker(layout, layer.shape, s);
  const lutInfo = layer.displayLut(view);
  const frameSize = layer.frameSize;
  let j = 0;
  for (let r = 0; r < rows; r++) {
    let p = base + r * dR;
    for (let c = 0; c < cols; c++, p += dC, j += 4) {
      let v;
      if (lutInfo) v = lutInfo.lut[data[p] - lutInfo.lo];
      else {
        const f = Math.floor(p / frameSize);
        const x = data[p] * layer.slope(f) + layer.intercept(f);
        v = view.table
          ? tableDisplayValue(x, view.table, view.invert)
          : displayValue(x, view.center, view.width, view.fn, view.invert);
      }
      if (cmap) {
        out[j] = cmap[3 * v];
        out[j + 1] = cmap[3 * v + 1];
        out[j + 2] = cmap[3 * v + 2];
      } else {
        out[j] = v;
        out[j + 1] = v;
        out[j + 2] = v;
      }
      out[j + 3] = alphaZero && v === 0 ? 0 : 255;
    }
  }
}

// Draw one slice of a label layer: filled at `opacity` with a full-colour edge,
// or the edge only. colors: Map value → [r, g, b]; hidden: Set of values.
function drawLabels(layer, layout, s, colors, opacity, mode, out) {
  const rows = layout.rows, cols = layout.cols;
  const { base, dR, dC } = walker(layout, layer.shape, s);
  const data = layer.data;
  const fillAlpha = mode === "outline" ? 0 : Math.round(255 * opacity);
  let j = 0;
  for (let r = 0; r < rows; r++) {
    let p = base + r * dR;
    for (let c = 0; c < cols; c++, p += dC, j += 4) {
      const v = data[p];
      const color = v ? colors.get(v) : null;
      if (!color) {
        out[j + 3] = 0;
        continue;
      }
      const edge =
        r === 0 || c === 0 || r === rows - 1 || c === cols - 1 ||
        data[p - dR] !== v || data[p + dR] !== v || data[p - dC] !== v || data[p + dC] !== v;
      out[j] = color[0];
      out[j + 1] = color[1];
      out[j + 2] = color[2];
      out[j + 3] = edge ? 255 : fillAlpha;
    }
  }
}


// ---------------------------------------------------------------- the scene

// Model attributes the scene keeps in step with its own state, both ways.
const SCENE_STATE = ["window_center", "window_width", "voi_function", "voi_table", "position",
  "plane", "zoom", "pan", "tool", "measurements"];
// Model attributes that only change the drawing.
const SCENE_DISPLAY = ["label_info", "overlay_opacity", "overlay_mode", "overlay_visible",
  "error", "description"];

// Shared state of one widget: layers, plane, position, window, measurements, and the
// widget's own tracked attributes (track). Viewports draw it; changes go to Python at most
// once per animation frame. Events (on): "message" (msg, buffers) for the kernel's custom
// messages other than chunks, after a layer patch is applied; "measurements" (list) after
// the measurements changed, here or in the kernel.
class Scene {
  constructor(model) {
    this.model = model;
    this.layers = new Map();
    this.viewports = [];
    this.tracked = new Map();
    this.handlers = new Map();
    this.modelHandlers = [];
    // Names this view's own edits, so their patches are not applied twice.
    this.origin = `view-${Math.random().toString(36).slice(2, 10)}`;
    this.sendScheduled = false;
    this.sending = false;
    this.sent = {};
    this.readState();
    this.onMessage = (msg, buffers) => this.message(msg, buffers);
    model.on("msg:custom", this.onMessage);
    this.watch(SCENE_STATE, (name) => this.fromModel(name));
    this.watch(SCENE_DISPLAY, () => this.redraw());
    this.watch(["layers"], () => {
      this.readState();
      this.syncLayers();
      this.redraw();
      this.emit("measurements", this.measurements);
    });
    this.syncLayers();
  }

  readState() {
    const m = this.model;
    this.shape = m.get("shape");
    this.layouts = m.get("layouts");
    this.planes = m.get("planes");
    this.plane = m.get("plane");
    this.position = m.get("position").slice();
    this.center = m.get("window_center");
    this.width = m.get("window_width");
    this.fn = m.get("voi_function");
    this.voiTable = m.get("voi_table");
    this.zoom = m.get("zoom");
    this.pan = m.get("pan").slice();
    this.tool = m.get("tool");
    this.measurements = m.get("measurements").slice();
  }

  get layout() {
    return this.layouts[this.plane];
  }

  get slice() {
    return this.position[this.layout.slice_axis];
  }

  // ---- events and model attributes

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
    return () => this.handlers.get(event).delete(fn);
  }

  emit(event, ...args) {
    for (const fn of [...(this.handlers.get(event) || [])]) fn(...args);
  }

  // fn(name) on every change of these model attributes, until destroy().
  watch(names, fn) {
    for (const name of names) {
      const handler = () => fn(name);
      this.model.on(`change:${name}`, handler);
      this.modelHandlers.push([name, handler]);
    }
  }

  // Keep a widget's own model attribute in step, with the scene's echo filtering:
  // get() is the value this view holds (undefined: nothing to send now, e.g. during a
  // drag), set(value) takes a value from the kernel or another view. Changes go out with
  // scheduleSend(); the kernel's echoes of what this view sent are ignored.
  track(name, get, set) {
    this.tracked.set(name, { get, set });
    this.watch([name], () => this.fromModel(name));
  }

  // ---- streaming

  syncLayers() {
    const infos = this.model.get("layers");
    const wanted = [];
    for (const [name, info] of Object.entries(infos)) {
      const old = this.layers.get(name);
      if (old && old.generation === info.generation) {
        old.info = info;
        old.lutCache = null;
        continue;
      }
      this.layers.set(name, new Layer(name, info, this.shape));
      wanted.push(name);
    }
    for (const name of [...this.layers.keys()]) if (!(name in infos)) this.layers.delete(name);
    if (wanted.length) this.model.send({ type: "ready", layers: wanted, frame: this.position[0] });
  }

  message(msg, buffers) {
    if (!msg) return;
    if (msg.type === "chunk") {
      this.chunk(msg, buffers);
      return;
    }
    if (msg.type === "patch" && typeof msg.layer === "string") this.patch(msg, buffers);
    this.emit("message", msg, buffers);
  }

  chunk(msg, buffers) {
    const layer = this.layers.get(msg.layer);
    if (!layer || layer.generation !== msg.generation || !buffers || !buffers.length) return;
    layer.accept(msg.start, msg.count, buffers[0]);
    const s = this.slice;
    const layout = this.layout;
    // Redraw when the chunk touches what is on screen.
    const visible =
      layout.slice_axis === 0 ? s >= msg.start && s < msg.start + msg.count : true;
    if (visible || layer.complete) this.redraw();
    else this.status();
  }

  // A box of a layer changed in the kernel (an undo, another view's edit…). The view
  // whose edit it acknowledges (msg.origin) already shows it: applying it again could
  // overwrite a stroke begun since.
  patch(msg, buffers) {
    const layer = this.layers.get(msg.layer);
    if (!layer || layer.generation !== msg.generation || !buffers || !buffers.length) return;
    if (msg.origin && msg.origin === this.origin) return;
    if (layer.patch(msg.box, buffers[0])) this.redraw([msg.layer]);
  }

  loadedFor(name) {
    const layer = this.layers.get(name);
    if (!layer) return true;
    if (this.layout.slice_axis === 0) return !!layer.loaded[this.slice];
    return layer.complete;
  }

  // ---- state changes

  setWindow(c, w, f, table = null) {
    this.center = c;
    this.width = f === "LINEAR" ? Math.max(1, w) : Math.max(w, 1e-6);
    this.fn = f;
    this.voiTable = table;
    this.redraw(["image"]);
    this.scheduleSend();
  }

  setSlice(s) {
    const n = this.layout.n_slices;
    const next = Math.min(n - 1, Math.max(0, Math.round(s)));
    if (next === this.slice) return;
    this.position[this.layout.slice_axis] = next;
    this.redraw();
    this.scheduleSend();
  }

  setPlane(plane) {
    if (!this.layouts[plane] || plane === this.plane) return;
    this.plane = plane;
    this.zoom = 1;
    this.pan = [0, 0];
    this.redraw();
    this.scheduleSend();
  }

  setView(zoom, pan) {
    this.zoom = Math.min(32, Math.max(0.25, zoom));
    this.pan = pan;
    for (const vp of this.viewports) vp.place();
    this.scheduleSend();
  }

  setTool(tool) {
    this.tool = tool;
    for (const vp of this.viewports) vp.toolChanged();
    this.status();  // the pressed tool button follows at once
    this.scheduleSend();
  }

  addMeasurement(m) {
    this.measurements = this.measurements.concat([m]);
    this.measurementsChanged();
  }

  removeMeasurement(index) {
    this.measurements = this.measurements.filter((_, i) => i !== index);
    this.measurementsChanged();
  }

  measurementsChanged() {
    this.redrawAnnotations();
    this.scheduleSend();
    this.emit("measurements", this.measurements);
  }

  redraw(which) {
    for (const vp of this.viewports) vp.draw(which);
    this.status();
  }

  redrawAnnotations() {
    for (const vp of this.viewports) vp.drawAnnotations();
  }

  status() {
    for (const vp of this.viewports) vp.status();
  }

  // The state this scene sends, as model attribute → local value.
  outgoing() {
    const out = {
      window_center: this.center,
      window_width: this.width,
      voi_function: this.fn,
      voi_table: this.voiTable,
      plane: this.plane,
      position: this.position.slice(),
      zoom: this.zoom,
      pan: this.pan.slice(),
      tool: this.tool,
      measurements: this.measurements.slice(),
    };
    for (const [name, { get }] of this.tracked) {
      const value = get();
      if (value !== undefined) out[name] = value;
    }
    return out;
  }

  scheduleSend() {
    if (this.sendScheduled) return;
    this.sendScheduled = true;
    requestAnimationFrame(() => {
      this.sendScheduled = false;
      const m = this.model;
      const now = performance.now();
      this.sending = true;
      for (const [name, value] of Object.entries(this.outgoing())) {
        const json = JSON.stringify(value);
        if (JSON.stringify(m.get(name)) === json) continue;
        // Remember what we sent: the kernel echoes it back, maybe after newer values.
        const sent = (this.sent[name] = (this.sent[name] || []).filter((e) => now - e.t < 5000));
        sent.push({ json, t: now });
        // A copy: the model must not share arrays the widget goes on changing in place.
        m.set(name, structuredClone(value));
      }
      this.sending = false;
      m.save_changes();
    });
  }

  // A change of one attribute made in Python (or by another view of the same
  // model). Echoes of values this view sent in the last seconds are ignored:
  // an old one arriving late must not undo the learner's newer gesture.
  fromModel(name) {
    if (this.sending) return;
    const m = this.model;
    const value = m.get(name);
    const json = JSON.stringify(value);
    const now = performance.now();
    if ((this.sent[name] || []).some((e) => e.json === json && now - e.t < 5000)) return;
    const local = this.outgoing();
    if (name in local && JSON.stringify(local[name]) === json) return;
    const tracked = this.tracked.get(name);
    if (tracked) {
      tracked.set(structuredClone(value));
      return;
    }
    if (name === "window_center") this.center = value;
    else if (name === "window_width") this.width = value;
    else if (name === "voi_function") this.fn = value;
    else if (name === "voi_table") this.voiTable = value;
    else if (name === "plane") {
      if (!this.layouts[value]) return;
      this.plane = value;
    } else if (name === "position") this.position = value.slice();
    else if (name === "zoom") this.zoom = value;
    else if (name === "pan") this.pan = value.slice();
    else if (name === "tool") {
      this.tool = value;
      for (const vp of this.viewports) vp.toolChanged();
    } else if (name === "measurements") this.measurements = value.slice();
    if (name === "zoom" || name === "pan" || name === "plane") {
      for (const vp of this.viewports) vp.place();
    }
    this.redraw();
    if (name === "measurements") this.emit("measurements", this.measurements);
  }

  // ---- geometry

  // Array (frame, row, col), continuous → patient LPS mm.
  toPatient(a) {
    const sp = this.model.get("spacing");
    const o = this.model.get("origin");
    const d = this.model.get("direction");
    const p = [o[0], o[1], o[2]];
    for (let axis = 0; axis < 3; axis++)
      for (let k = 0; k < 3; k++) p[k] += a[axis] * sp[axis] * d[3 * axis + k];
    return p;
  }

  // The modality value at array (frame, row, col) of an image layer.
  valueAt(name, a) {
    const layer = this.layers.get(name);
    if (!layer || !layer.loaded[a[0]]) return null;
    const [, rows, cols] = this.shape;
    const index = (a[0] * rows + a[1]) * cols + a[2];
    if (layer.channels === 3) {
      const i = 3 * index;
      return [layer.data[i], layer.data[i + 1], layer.data[i + 2]];
    }
    return layer.value(index);
  }

  destroy() {
    this.model.off("msg:custom", this.onMessage);
    for (const [name, handler] of this.modelHandlers) this.model.off(`change:${name}`, handler);
    this.modelHandlers = [];
    this.handlers.clear();
  }
}

// ---------------------------------------------------------------- a viewport

// LPS: negative / positive side of each plane's axis.
const PLANE_AXIS_LETTERS = { axial: ["I", "S"], coronal: ["A", "P"], sagittal: ["R", "L"] };

// One picture of the scene: stacked canvases (the image, then overlays: "fused", "labels",
// and any a widget adds with addCanvas) under an SVG of measurements, with letters and
// corner texts; mouse and wheel handling.
//
// Properties a widget may read:
//   cursor   the point under the mouse ({x, y, row, col, inside, index}, as pointAt
//            gives it) while it is over the image, else null
//   hovered  true while the mouse is over this viewport
// Hooks a widget may override (subclass) to draw or describe more:
//   drawImageLayer(name, layout, s)  fill pixels(name) for canvas `name`; false hides it
//   neededLayers()       layers that must be loaded for data-rendered="1"
//   labelInfo()          [{value, color, visible}] colouring the "labels" layer
//   measurementLabel(m)  the lines of text beside a measurement
//   measurementAttributes(m)  extra attributes of its SVG group (className: more classes)
// Options: imageLayer, showFused, showLabels, cursorLine (the element the cursor text goes
// to), tools (custom left-button tools), onStatus(vp), onAnnotations(vp), onCursor(vp).
class Viewport {
  constructor(scene, options = {}) {
    this.scene = scene;
    this.options = options;
    this.imageLayer = options.imageLayer || "image";
    this.root = el("div", "dt-viewport");
    this.root.setAttribute("role", "img");
    this.layersBox = el("div", "dt-layers");
    this.canvas = el("canvas", "dt-viewer-canvas");
    this.canvases = new Map([["image", this.canvas]]);
    this.windowed = new Set(["image"]);
    this.layersBox.append(this.canvas);
    this.fusedCanvas = this.addCanvas("fused", "dt-viewer-fused");
    this.labelCanvas = this.addCanvas("labels", "dt-viewer-overlay");
    this.svg = svg("svg", { class: "dt-viewer-annotations" });
    this.letters = {};
    for (const side of ["top", "bottom", "left", "right"]) {
      this.letters[side] = el("div", `dt-letter dt-letter-${side}`);
    }
    this.corners = {};
    for (const corner of ["tl", "tr", "bl", "br"]) {
      this.corners[corner] = el("div", `dt-corner dt-corner-${corner}`);
    }
    this.message = el("div", "dt-viewer-message");
    this.root.append(this.layersBox, this.svg, ...Object.values(this.letters),
      ...Object.values(this.corners), this.message);
    this.cursor = null;
    this.hovered = false;
    this.stale = false;
    this.gesture = null;
    this.tools = options.tools || {};
    this.listen();
    this.resizer = new ResizeObserver(() => this.place());
    this.resizer.observe(this.root);
    scene.viewports.push(this);
  }

  // A canvas stacked over the image (after the canvas named `after`, else on top),
  // drawn by drawImageLayer(name); `windowed`: redrawn when the window changes.
  addCanvas(name, className, { after = null, windowed = false } = {}) {
    const canvas = el("canvas", className);
    canvas.hidden = true;
    const below = after && this.canvases.get(after);
    if (below) below.after(canvas);
    else this.layersBox.append(canvas);
    this.canvases.set(name, canvas);
    if (windowed) this.windowed.add(name);
    return canvas;
  }

  // Inside an element hidden by the widget (e.g. Compare's second pane): not drawn until shown.
  get hidden() {
    return !!this.root.closest("[hidden]");
  }

  // ---- layout on screen

  place() {
    const layout = this.scene.layout;
    // Lab may lay a widget out (render, ResizeObserver) before its series has arrived:
    // nothing to place yet; draw() places it once the layout is known.
    if (!layout) return;
    const mmW = layout.cols * layout.col_spacing;
    const mmH = layout.rows * layout.row_spacing;
    this.root.style.aspectRatio = `${mmW} / ${mmH}`;
    // The image keeps its aspect when its height is the limit, and the picture column is
    // no wider than the image (viewer.css: --dt-image-height, --dt-aspect).
    (this.root.closest(".dt-viewer") || this.root).style.setProperty("--dt-aspect", String(mmW / mmH));
    if (this.stale && !this.hidden) this.draw();
    const W = this.root.clientWidth, H = this.root.clientHeight;
    if (!W || !H) return;
    const fit = Math.min(W / mmW, H / mmH);
    const w = mmW * fit, h = mmH * fit;
    const box = this.layersBox.style;
    box.left = `${(W - w) / 2}px`;
    box.top = `${(H - h) / 2}px`;
    box.width = `${w}px`;
    box.height = `${h}px`;
    const [px, py] = this.scene.pan;
    box.transform = `translate(${px * W}px, ${py * H}px) scale(${this.scene.zoom})`;
    this.drawAnnotations();
  }

  // ---- drawing

  prepare(canvas, layout) {
    if (canvas.width !== layout.cols || canvas.height !== layout.rows) {
      canvas.width = layout.cols;
      canvas.height = layout.rows;
    }
    const key = `${layout.cols}x${layout.rows}`;
    if (!canvas._image || canvas._key !== key) {
      canvas._image = canvas.getContext("2d").createImageData(layout.cols, layout.rows);
      canvas._key = key;
    }
    return canvas._image;
  }

  // The RGBA pixels of canvas `name` for the plane on screen: where drawImageLayer draws.
  pixels(name) {
    return this.prepare(this.canvases.get(name), this.scene.layout).data;
  }

  // Redraw the canvases named in `which` ("image" also redraws the windowed ones), or all.
  draw(which) {
    if (this.hidden) {
      this.stale = true;
      return;
    }
    const scene = this.scene;
    const layout = scene.layout;
    if (!layout) {
      this.stale = true; // drawn when the series' layout arrives
      return;
    }
    if (!which) this.stale = false;
    const s = scene.slice;
    const sizeChanged = this.canvas.width !== layout.cols || this.canvas.height !== layout.rows;
    const names = which && which.includes("image") ? [...which, ...this.windowed] : which;
    this.prepare(this.canvas, layout);
    for (const [name, canvas] of this.canvases) {
      if (names && !names.includes(name)) continue;
      const shown = !!this.drawImageLayer(name, layout, s);
      if (shown && canvas._image) canvas.getContext("2d").putImageData(canvas._image, 0, 0);
      if (canvas === this.canvas) continue;
      canvas.hidden = !shown;
      canvas.dataset.plane = scene.plane;
      canvas.dataset.slice = String(s);
      canvas.dataset.loaded = scene.loadedFor(name) ? "1" : "0";
    }
    const layer = scene.layers.get(this.imageLayer);
    const ds = this.canvas.dataset;
    ds.frame = String(scene.position[0]);
    ds.slice = String(s);
    ds.plane = scene.plane;
    ds.center = String(scene.center);
    ds.width = String(scene.width);
    ds.loaded = String(layer ? layer.nLoaded : 0);
    const needed = this.neededLayers();
    ds.rendered = needed.every((n) => scene.layers.has(n) && scene.loadedFor(n)) ? "1" : "0";
    if (sizeChanged) this.place();
    this.drawLetters();
    this.drawAnnotations();
    this.status();
  }

  // Draw canvas `name` for slice s into pixels(name); false: nothing to show (hidden).
  drawImageLayer(name, layout, s) {
    const scene = this.scene;
    const model = scene.model;
    if (name === "image") {
      const layer = scene.layers.get(this.imageLayer);
      if (!layer) return false;
      drawImage(layer, layout, s, this.imageView(layer), this.pixels(name));
      return true;
    }
    if (name === "fused") {
      const fused = scene.layers.get("fused");
      if (!fused || !this.options.showFused) return false;
      const info = fused.info;
      drawImage(fused, layout, s, {
        center: info.window_center, width: info.window_width, fn: info.voi_function || "LINEAR",
        table: null, invert: false, colormap: info.colormap_table, alphaZero: true,
      }, this.pixels(name));
      this.canvases.get(name).style.opacity = String(info.opacity ?? 0.5);
      return true;
    }
    if (name === "labels") {
      const labels = scene.layers.get("labels");
      if (!labels || this.options.showLabels === false || !model.get("overlay_visible")) return false;
      const colors = new Map();
      for (const item of this.labelInfo()) {
        if (item.visible !== false) colors.set(item.value, item.color);
      }
      drawLabels(labels, layout, s, colors, model.get("overlay_opacity"),
        model.get("overlay_mode"), this.pixels(name));
      return true;
    }
    return false;
  }

  // The layers the picture is made of now: data-rendered="1" once they are all loaded.
  neededLayers() {
    const names = [this.imageLayer];
    for (const [name, canvas] of this.canvases) {
      if (canvas !== this.canvas && !canvas.hidden && this.scene.layers.has(name)) names.push(name);
    }
    return names;
  }

  // Value, colour and visibility of each label value of the "labels" layer.
  labelInfo() {
    return this.scene.model.get("label_info");
  }

  imageView(layer) {
    const scene = this.scene;
    const table = scene.voiTable !== null && scene.voiTable !== undefined
      ? (layer.info.voi_luts || [])[scene.voiTable] || null : null;
    return {
      center: scene.center, width: scene.width, fn: scene.fn, table, tableIndex: table ? scene.voiTable : null,
      invert: !!layer.info.inverted, colormap: layer.info.colormap_table || null,
      alphaZero: false,
    };
  }

  drawLetters() {
    const letters = this.scene.layout.letters || {};
    for (const side of ["top", "bottom", "left", "right"]) {
      this.letters[side].textContent = letters[side] || "";
    }
  }

  // The text under the image: window, slice, position in mm; corner texts.
  status() {
    const scene = this.scene;
    const model = scene.model;
    const layout = scene.layout;
    const layer = scene.layers.get(this.imageLayer);
    const units = model.get("units");
    const n = layout.n_slices;
    const s = scene.slice;
    const windowText = layer && layer.channels === 3
      ? `Brightness ${format(scene.center)} contrast ${format(scene.width)}`
      : scene.voiTable !== null && scene.voiTable !== undefined
        ? ((layer && layer.info.voi_luts) || [])[scene.voiTable]?.name || "VOI LUT"
        : `W ${format(scene.width)} L ${format(scene.center)}${units ? " " + units : ""}`;
    const a = [...scene.position];
    const p = scene.toPatient(a);
    // Slice position along the plane's patient axis, with the letter of its side.
    const axis = { axial: 2, coronal: 1, sagittal: 0 }[scene.plane];
    const letters = PLANE_AXIS_LETTERS[scene.plane];
    const where = model.get("geometry_known") && axis !== undefined
      ? ` · ${p[axis] < 0 ? letters[0] : letters[1]} ${fixed(Math.abs(p[axis]), 1)} mm` : "";
    this.corners.bl.textContent = windowText;
    this.corners.br.textContent = `${n > 1 ? `${s + 1}/${n}` : ""}${where}` +
      (scene.zoom !== 1 ? ` · ×${format(scene.zoom, 2)}` : "");
    this.corners.tl.textContent = model.get("description");
    // Several viewports may share one cursor line: only the one under the mouse writes it.
    if (this.options.cursorLine && this.hovered) {
      this.options.cursorLine.textContent = this.cursorText();
    }
    let message = "";
    if (model.get("error")) message = model.get("error");
    else if (!layer) message = "No image";
    else if (!scene.loadedFor(this.imageLayer)) {
      message = `Loading… ${layer.nLoaded}/${layer.shape[0]}`;
    }
    this.message.textContent = message;
    this.message.hidden = !message;
    this.root.classList.toggle("dt-error", !!model.get("error"));
    this.root.closest(".dt-viewer")?.classList.toggle("dt-empty", !layer);
    this.text = { windowText, slice: n > 1 ? `slice ${s + 1}/${n}` : "", where };
    if (this.options.onStatus) this.options.onStatus(this);
  }

  cursorText() {
    const c = this.cursor;
    if (!c) return "";
    const scene = this.scene;
    const value = scene.valueAt(this.imageLayer, c.index);
    const units = scene.model.get("units");
    let text = "";
    if (value === null) text = "";
    else if (Array.isArray(value)) text = `RGB ${value.join(" ")}`;
    else text = `${format(value, 1)}${units ? " " + units : ""}`;
    const fused = scene.layers.get("fused");
    if (fused && this.options.showFused) {
      const v = scene.valueAt("fused", c.index);
      if (v !== null) text += ` · ${format(v, 2)} ${fused.info.units || ""}`.trimEnd();
    }
    if (scene.model.get("geometry_known")) {
      const p = scene.toPatient(c.index);
      text += ` · (${p.map((x) => fixed(x, 1)).join(", ")}) mm`;
    }
    return text;
  }

  // ---- coordinates

  // Event → displayed image coordinates (x = column, y = row, continuous;
  // pixel (r, c) covers [c, c+1) × [r, r+1)) and the array index under it.
  pointAt(event) {
    const layout = this.scene.layout;
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * layout.cols;
    const y = ((event.clientY - rect.top) / rect.height) * layout.rows;
    const col = Math.floor(x), row = Math.floor(y);
    const inside = col >= 0 && row >= 0 && col < layout.cols && row < layout.rows;
    const index = inside ? toArrayIndex(layout, this.scene.slice, row, col) : null;
    return { x, y, row, col, inside, index };
  }

  // Displayed point {x, y} of the slice on screen → array (frame, row, col), continuous,
  // pixel centres whole numbers (what measurements and answers store).
  toArray(p) {
    const layout = this.scene.layout;
    return toArrayIndex(layout, this.scene.slice, p.y - 0.5, p.x - 0.5);
  }

  // Array (frame, row, col) → {slice, x, y}: the plane's slice through it (continuous)
  // and the displayed point, as pointAt gives it.
  fromArray(a) {
    const [s, r, c] = fromArrayIndex(this.scene.layout, a);
    return { slice: s, x: c + 0.5, y: r + 0.5 };
  }

  // Displayed image coordinates → viewport pixels (for the SVG).
  toScreen(x, y) {
    const layout = this.scene.layout;
    const rect = this.canvas.getBoundingClientRect();
    const root = this.root.getBoundingClientRect();
    return [
      rect.left - root.left + (x / layout.cols) * rect.width,
      rect.top - root.top + (y / layout.rows) * rect.height,
    ];
  }

  // ---- measurements (ruler, ellipse, point) drawn in the SVG

  drawAnnotations() {
    const scene = this.scene;
    const group = this.svg;
    while (group.firstChild) group.removeChild(group.firstChild);
    const items = scene.measurements.map((m, i) => ({ m, i }));
    if (this.draft) items.push({ m: this.draft, i: -1 });
    for (const { m, i } of items) {
      if (m.plane !== scene.plane || m.slice !== scene.slice) continue;
      const g = svg("g", { class: `dt-measure dt-measure-${m.kind}`, "data-index": i });
      let anchor = null;
      if (m.kind === "ruler") {
        const [a, b] = m.points.map(([y, x]) => this.toScreen(x, y));
        g.append(svg("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }));
        for (const p of [a, b]) g.append(svg("circle", { cx: p[0], cy: p[1], r: 3 }));
        anchor = [b[0] + 6, b[1] - 6];
      } else if (m.kind === "ellipse") {
        const [[y0, x0], [y1, x1]] = m.points;
        const a = this.toScreen(Math.min(x0, x1), Math.min(y0, y1));
        const b = this.toScreen(Math.max(x0, x1), Math.max(y0, y1));
        g.append(svg("ellipse", {
          cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2,
          rx: Math.abs(b[0] - a[0]) / 2, ry: Math.abs(b[1] - a[1]) / 2,
        }));
        anchor = [b[0] + 6, a[1] + 12];
      } else if (m.kind === "point") {
        const p = this.toScreen(m.points[0][1], m.points[0][0]);
        g.append(svg("circle", { cx: p[0], cy: p[1], r: 5, class: "dt-point" }));
        anchor = [p[0] + 8, p[1] + 4];
      }
      if (anchor) {
        this.measurementLabel(m).forEach((line, k) => {
          const t = svg("text", { x: anchor[0], y: anchor[1] + 14 * k });
          t.textContent = line;
          g.append(t);
        });
      }
      for (const [name, value] of Object.entries(this.measurementAttributes(m))) {
        if (name === "className") {
          for (const c of String(value).split(/\s+/).filter(Boolean)) g.classList.add(c);
        } else if (value !== undefined && value !== null) g.setAttribute(name, String(value));
      }
      group.append(g);
    }
    if (this.options.onAnnotations) this.options.onAnnotations(this);
  }

  // The lines written beside a measurement.
  measurementLabel(m) {
    if (m.kind === "ruler") return [`${fixed(m.length_mm, 1)} mm`];
    if (m.kind === "ellipse") {
      const units = this.scene.model.get("units");
      return [
        `mean ${format(m.mean, 1)} SD ${format(m.sd, 1)}${units ? " " + units : ""}`,
        `area ${format(m.area_mm2, 1)} mm² (${m.n} px)`,
      ];
    }
    if (m.kind === "point" && m.label) return [m.label];
    return [];
  }

  // Extra attributes of a measurement's SVG group: {name: value, className: "more classes"}.
  measurementAttributes(_m) {
    return {};
  }

  // Full description of a finished measurement, in display and array coordinates.
  measure(kind, p0, p1) {
    const scene = this.scene;
    const layout = scene.layout;
    const points = [[p0.y, p0.x], [p1.y, p1.x]];
    const m = { kind, plane: scene.plane, slice: scene.slice, points };
    // Array coordinates (pixel centres whole numbers) and patient mm of the end points.
    m.array = [p0, p1].map((p) => this.toArray(p));
    if (scene.model.get("geometry_known")) m.patient_mm = m.array.map((a) => scene.toPatient(a));
    if (kind === "ruler") {
      const dy = (p1.y - p0.y) * layout.row_spacing;
      const dx = (p1.x - p0.x) * layout.col_spacing;
      m.length_mm = Math.hypot(dx, dy);
    } else if (kind === "ellipse") {
      Object.assign(m, this.ellipseStats(p0, p1));
    }
    return m;
  }

  // Pixels whose centre lies inside the ellipse inscribed in the box p0–p1, of an image layer.
  ellipseStats(p0, p1, layerName = this.imageLayer) {
    const scene = this.scene;
    const layout = scene.layout;
    const cx = (p0.x + p1.x) / 2, cy = (p0.y + p1.y) / 2;
    const a = Math.abs(p1.x - p0.x) / 2, b = Math.abs(p1.y - p0.y) / 2;
    const layer = scene.layers.get(layerName);
    let n = 0, sum = 0, sum2 = 0;
    if (a > 0 && b > 0 && layer && layer.channels === 1) {
      const r0 = Math.max(0, Math.floor(cy - b)), r1 = Math.min(layout.rows - 1, Math.ceil(cy + b));
      const c0 = Math.max(0, Math.floor(cx - a)), c1 = Math.min(layout.cols - 1, Math.ceil(cx + a));
      const { base, dR, dC } = walker(layout, layer.shape, scene.slice);
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const u = (c + 0.5 - cx) / a, v = (r + 0.5 - cy) / b;
          if (u * u + v * v > 1) continue;
          const x = layer.value(base + r * dR + c * dC);
          n += 1;
          sum += x;
          sum2 += x * x;
        }
      }
    }
    const mean = n ? sum / n : NaN;
    const sd = n ? Math.sqrt(Math.max(0, sum2 / n - mean * mean)) : NaN;
    const area = Math.PI * a * layout.col_spacing * b * layout.row_spacing;
    return { mean, sd, n, area_mm2: area };
  }

  // ---- input

  toolChanged() {
    this.root.dataset.tool = this.scene.tool;
  }

  // The mouse moved over the viewport, or left it (p null): cursor, cursor line, onCursor.
  hover(p) {
    this.hovered = !!p;
    this.cursor = p && p.inside ? p : null;
    if (this.options.cursorLine) this.options.cursorLine.textContent = this.cursorText();
    if (this.options.onCursor) this.options.onCursor(this);
  }

  listen() {
    const root = this.root;
    // Right-drag zooms: no browser or JupyterLab context menu over the image.
    root.dataset.jpSuppressContextMenu = "";
    root.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      e.stopPropagation();
    });
    root.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const scene = this.scene;
        if (event.ctrlKey) {
          // Touchpad pinch (and ctrl+wheel): zoom about the cursor.
          this.zoomAbout(event, Math.exp(-event.deltaY / 200));
        } else if (event.deltaY !== 0) {
          scene.setSlice(scene.slice + Math.sign(event.deltaY));
        }
      },
      { passive: false },
    );
    root.addEventListener("pointerdown", (event) => this.down(event));
    root.addEventListener("pointermove", (event) => this.move(event));
    root.addEventListener("pointerup", (event) => this.up(event));
    root.addEventListener("pointercancel", (event) => this.up(event, true));
    root.addEventListener("pointerleave", () => this.hover(null));
  }

  zoomAbout(event, factor) {
    const scene = this.scene;
    const box = this.root.getBoundingClientRect();
    const W = box.width, H = box.height;
    const z = scene.zoom, z2 = Math.min(32, Math.max(0.25, z * factor));
    // Keep the point under the cursor still: screen = C + pan + z (q - C).
    const px = event.clientX - box.left - W / 2, py = event.clientY - box.top - H / 2;
    const panX = scene.pan[0] * W, panY = scene.pan[1] * H;
    const nx = px - (z2 / z) * (px - panX), ny = py - (z2 / z) * (py - panY);
    scene.setView(z2, [nx / W, ny / H]);
  }

  gestureFor(event) {
    if (event.button === 2) return "zoom";
    if (event.button === 1 || (event.button === 0 && event.shiftKey)) return "pan";
    if (event.button === 0) return this.scene.tool;
    return null;
  }

  down(event) {
    const kind = this.gestureFor(event);
    if (!kind) return;
    const scene = this.scene;
    const p = this.pointAt(event);
    const custom = this.tools[kind];
    if (custom && custom.down) {
      if (custom.down(event, p, this) === false) return;
    }
    this.root.closest(".dt-viewer")?.focus({ preventScroll: true });
    this.gesture = {
      kind, x: event.clientX, y: event.clientY, p0: p,
      center: scene.center, width: scene.width, zoom: scene.zoom, pan: scene.pan.slice(),
    };
    this.root.setPointerCapture(event.pointerId);
    // The notebook must not see it: shift-click would extend its cell selection.
    event.preventDefault();
    event.stopPropagation();
  }

  move(event) {
    const p = this.pointAt(event);
    this.hover(p);
    const g = this.gesture;
    if (!g) {
      const hover = this.tools[this.scene.tool];
      if (hover && hover.hover) hover.hover(event, p, this);
      return;
    }
    const scene = this.scene;
    const dx = event.clientX - g.x, dy = event.clientY - g.y;
    const box = this.root.getBoundingClientRect();
    if (g.kind === "wl") {
      // OHIF/Cornerstone habit: horizontal drag sets the width, vertical the center.
      const step = this.dragStep();
      scene.setWindow(g.center + dy * step, g.width + dx * step, scene.fn, scene.voiTable);
    } else if (g.kind === "zoom") {
      const z2 = g.zoom * Math.exp(-dy / 150);
      scene.setView(z2, [g.pan[0] * z2 / g.zoom, g.pan[1] * z2 / g.zoom]);
    } else if (g.kind === "pan") {
      scene.setView(scene.zoom, [g.pan[0] + dx / box.width, g.pan[1] + dy / box.height]);
    } else if (g.kind === "ruler" || g.kind === "ellipse") {
      this.draft = this.measure(g.kind, g.p0, p);
      this.drawAnnotations();
    } else if (this.tools[g.kind] && this.tools[g.kind].move) {
      this.tools[g.kind].move(event, p, this);
    }
  }

  up(event, cancelled = false) {
    const g = this.gesture;
    if (!g) return;
    this.gesture = null;
    if (this.root.hasPointerCapture(event.pointerId)) this.root.releasePointerCapture(event.pointerId);
    const p = this.pointAt(event);
    if (g.kind === "ruler" || g.kind === "ellipse") {
      this.draft = null;
      const moved = Math.hypot(p.x - g.p0.x, p.y - g.p0.y) > 0.5;
      if (!cancelled && moved) this.scene.addMeasurement(this.measure(g.kind, g.p0, p));
      else this.drawAnnotations();
    } else if (this.tools[g.kind] && this.tools[g.kind].up) {
      this.tools[g.kind].up(event, p, this, cancelled);
    }
  }

  // W/L sensitivity: the stored range over ~1000 screen pixels (computed once).
  dragStep() {
    if (this._dragStep) return this._dragStep;
    const layer = this.scene.layers.get(this.imageLayer);
    if (!layer || !layer.complete && layer.nLoaded === 0) return 1;
    const slopeMax = Math.max(...(layer.info.rescale_slope || [1]).map(Math.abs));
    const range = layer.info.stored_range;
    if (range) {
      this._dragStep = Math.max(((range[1] - range[0]) * slopeMax) / 1000, 1e-6);
      return this._dragStep;
    }
    let lo = Infinity, hi = -Infinity;
    const data = layer.data;
    const step = Math.max(1, Math.floor(data.length / 2_000_000));
    for (let i = 0; i < data.length; i += step) {
      const s = data[i];
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    const slopes = (layer.info.rescale_slope || [1]).map(Math.abs);
    const result = Math.max(((hi - lo) * Math.max(...slopes)) / 1000, 1e-6);
    if (layer.complete) this._dragStep = result;
    return result;
  }

  destroy() {
    this.resizer.disconnect();
  }
}

// ---------------------------------------------------------------- controls

// A labelled group of controls (buttons, fields) for a tool column; hidden while empty.
function controlGroup(label, items = [], className = "") {
  const group = el_("div", `dt-viewer-group${className ? " " + className : ""}`);
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", label);
  const caption = el_("div", "dt-group-label", label);
  caption.setAttribute("aria-hidden", "true");
  const body = el_("div", "dt-group-items");
  body.append(...items);
  group.append(caption, body);
  group.items = body;
  group.hidden = !body.childElementCount;
  return group;
}

// The widget's frame: header rows, then the picture column (.dt-main) with the tool column
// (.dt-side) to its right when the output is wide enough, above it when not (viewer.css),
// then footer rows.
function widgetLayout(root, { header = [], main = [], side = [], footer = [] }) {
  const body = el_("div", "dt-body");
  const sideBox = el_("div", "dt-side");
  const mainBox = el_("div", "dt-main");
  sideBox.append(...side);
  mainBox.append(...main);
  body.append(sideBox, mainBox);
  root.append(...header, body, ...footer);
  return { body, side: sideBox, main: mainBox };
}

// The standard tool groups, slider, readout and keys around one scene.
// Options: toolNames (name → [label, title]); onKeyFirst(event) runs before the standard
// keys (ctrl-keys included) and returns true when it used the key; onKey(event) after them,
// for keys they leave; onDelete(event) for Delete/Backspace, before "remove the last
// measurement", true when it removed something; onReset() after the view is reset.
function standardControls(scene, root, options = {}) {
  const model = scene.model;
  const toolbar = el_("div", "dt-viewer-toolbar");
  const toolNames = {
    wl: ["W/L", "Window/level: drag left–right for width, up–down for level"],
    pan: ["Pan", "Pan: drag the image (or middle-drag, shift-drag)"],
    zoom: ["Zoom", "Zoom: drag up to enlarge (or right-drag, ctrl-wheel, pinch)"],
    ruler: ["Ruler", "Ruler: drag to measure a distance in mm"],
    ellipse: ["Ellipse", "Ellipse ROI: drag a box; mean, SD and area"],
    ...(options.toolNames || {}),
  };
  const toolButtons = new Map();
  const toolGroup = controlGroup("Tools");
  for (const name of model.get("tools")) {
    const [label, title] = toolNames[name] || [name, name];
    const b = button(label, title, () => scene.setTool(name));
    b.dataset.tool = name;
    toolButtons.set(name, b);
    toolGroup.items.append(b);
  }

  const planeGroup = controlGroup("Plane");
  const planeButtons = new Map();
  if (scene.planes.length > 1) {
    for (const plane of scene.planes) {
      const label = plane[0].toUpperCase() + plane.slice(1);
      const b = button(label, `${label} plane (key ${plane[0]})`, () => scene.setPlane(plane));
      b.dataset.plane = plane;
      planeButtons.set(plane, b);
      planeGroup.items.append(b);
    }
  }

  const presets = model.get("presets");
  const presetGroup = controlGroup("Window");
  presets.forEach((p, i) => {
    const title = p.voi_table !== undefined && p.voi_table !== null
      ? `${p.name} (VOI LUT table, key ${i + 1})`
      : `W ${format(p.width)} L ${format(p.center)} (key ${i + 1})`;
    const b = button(p.name, title, () => applyPreset(p));
    b.dataset.preset = p.name;
    presetGroup.items.append(b);
  });

  const actions = controlGroup("View");
  let play = null;
  if (model.get("fps") > 0) {
    play = button("Play", "Play / pause the frames (space)", () => togglePlay());
    play.dataset.action = "play";
    actions.items.append(play);
  }
  const undoMeasure = button("Clear", "Remove the last measurement (Delete)", () => {
    if (scene.measurements.length) scene.removeMeasurement(scene.measurements.length - 1);
  });
  undoMeasure.dataset.action = "clear";
  if (model.get("tools").some((t) => t === "ruler" || t === "ellipse")) actions.items.append(undoMeasure);
  const zoomIn = button("+", "Zoom in (key +)", () => scene.setView(scene.zoom * 1.25, scene.pan.map((v) => v * 1.25)));
  const zoomOut = button("−", "Zoom out (key -)", () => scene.setView(scene.zoom / 1.25, scene.pan.map((v) => v / 1.25)));
  zoomIn.dataset.action = "zoom-in";
  zoomOut.dataset.action = "zoom-out";
  const reset = button("Reset", "Initial window, zoom and middle slice (key r)", () => resetView());
  reset.dataset.action = "reset";
  actions.items.append(zoomIn, zoomOut, reset);
  for (const g of [toolGroup, planeGroup, presetGroup, actions]) {
    g.hidden = !g.items.childElementCount;
    toolbar.append(g);
  }

  const slider = el_("input", "dt-viewer-slider");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.title = "Slice (wheel or ↑/↓)";
  slider.setAttribute("aria-label", "Slice");
  slider.addEventListener("input", () => scene.setSlice(Number(slider.value)));

  const readout = el_("div", "dt-viewer-readout");
  readout.setAttribute("aria-live", "polite");
  const cursorLine = el_("div", "dt-viewer-cursor");

  function applyPreset(p) {
    if (p.voi_table !== undefined && p.voi_table !== null) {
      scene.setWindow(scene.center, scene.width, scene.fn, p.voi_table);
    } else scene.setWindow(p.center, p.width, p.function, null);
  }

  function resetView() {
    const w = model.get("initial_window");
    scene.position = model.get("initial_position").slice();
    scene.zoom = 1;
    scene.pan = [0, 0];
    for (const vp of scene.viewports) vp.place();
    scene.setWindow(w.center, w.width, w.function, w.voi_table ?? null);
    scene.redraw();
    if (options.onReset) options.onReset();
  }

  // Delete / Backspace: the widget's own last thing first (a marker, a vertex…), else the
  // last measurement.
  function deleteLast(event) {
    if (options.onDelete && options.onDelete(event)) return true;
    if (!scene.measurements.length) return false;
    undoMeasure.click();
    return true;
  }

  let timer = null;
  function togglePlay(force) {
    const playing = force !== undefined ? force : !timer;
    if (timer) clearInterval(timer);
    timer = null;
    if (playing) {
      const n = scene.layout.n_slices;
      timer = setInterval(() => {
        scene.position[scene.layout.slice_axis] = (scene.slice + 1) % n;
        scene.redraw();
        scene.scheduleSend();
      }, 1000 / model.get("fps"));
    }
    if (play) {
      play.textContent = playing ? "Pause" : "Play";
      play.setAttribute("aria-pressed", String(playing));
    }
    root.dataset.playing = playing ? "1" : "0";
  }

  const onKeyDown = (event) => {
    if (event.target === slider && event.key.startsWith("Arrow")) return;
    // Typing in a widget's own fields (brush size, HU range…) is not a shortcut, and stays
    // there: the notebook would take Enter, and the field would not see its change.
    if (event.target.matches?.("input:not([type=range]), textarea, select")) {
      event.stopPropagation();
      return;
    }
    if (options.onKeyFirst && options.onKeyFirst(event)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const n = scene.layout.n_slices;
    let handled = true;
    const key = event.key;
    if (key === "ArrowDown") scene.setSlice(scene.slice + 1);
    else if (key === "ArrowUp") scene.setSlice(scene.slice - 1);
    else if (key === "PageDown") scene.setSlice(scene.slice + 10);
    else if (key === "PageUp") scene.setSlice(scene.slice - 10);
    else if (key === "Home") scene.setSlice(0);
    else if (key === "End") scene.setSlice(n - 1);
    else if (key === "r") resetView();
    else if (key === "+" || key === "=") zoomIn.click();
    else if (key === "-") zoomOut.click();
    else if (key === " " && play) togglePlay();
    else if ((key === "Delete" || key === "Backspace") && deleteLast(event)) handled = true;
    else if (key === "Escape") scene.setTool(model.get("tools")[0]);
    else if (/^[1-9]$/.test(key) && presets[Number(key) - 1]) applyPreset(presets[Number(key) - 1]);
    else if (["a", "c", "s"].includes(key) && scene.planes.length > 1) {
      const plane = scene.planes.find((p) => p[0] === key);
      if (plane) scene.setPlane(plane);
      else handled = false;
    } else if (options.onKey && options.onKey(event)) handled = true;
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };
  root.addEventListener("keydown", onKeyDown);

  function update(vp) {
    const layout = scene.layout;
    slider.max = String(layout.n_slices - 1);
    slider.value = String(scene.slice);
    slider.disabled = layout.n_slices < 2;
    const t = vp.text;
    readout.textContent = [t.windowText, t.slice].filter(Boolean).join(" · ") + t.where;
    for (const [name, b] of toolButtons) b.setAttribute("aria-pressed", String(name === scene.tool));
    for (const [name, b] of planeButtons) b.setAttribute("aria-pressed", String(name === scene.plane));
  }

  function destroy() {
    togglePlay(false);
    root.removeEventListener("keydown", onKeyDown);
  }

  return { toolbar, slider, readout, cursorLine, update, togglePlay, resetView, destroy };
}

// The DOM helper `el` under a name widget code can use where a parameter is called el.
const el_ = el;
