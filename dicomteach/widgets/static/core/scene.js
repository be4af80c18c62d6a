// The state one view of an image widget shares between its viewports and the kernel:
// the streamed layers (layers.js), plane, position, window, zoom, pan, tool,
// measurements, and the attributes a widget adds (track). Changes made here go to the
// kernel at most once per animation frame, the kernel's own come back (sync.js).

import { syncLayers, acceptChunk, applyPatch } from "./layers.js";
import { arrayToPatient } from "./geometry.js";
import { ModelSync } from "./sync.js";

/** @import { AnyModel } from "../anywidget" */
/** @import { Layer, ChunkMessage, PatchMessage } from "./layers.js" */
/** @import { Layout, ArrayIndex } from "./geometry.js" */
/** @import { Measurement } from "./measurements.js" */
/** @import { ImageState } from "./traits" */

/**
 * What a scene asks of each picture of it (viewport.js Viewport).
 * @typedef {object} SceneView
 * @property {(which?: string[]) => void} draw redraw these canvases, or all
 * @property {() => void} place zoom, pan or plane changed
 * @property {() => void} status texts changed
 * @property {() => void} drawAnnotations measurements changed
 * @property {() => void} toolChanged
 */

/**
 * Scene events and their arguments: "message" for the kernel's custom messages other
 * than chunks (after a layer patch is applied); "measurements" after the measurements
 * changed, here or in the kernel; "changed" after the view's state changed, here (a
 * gesture, a key: sent to the kernel next) or in the kernel (a live session's lead
 * writes its view then, static/live/session.js).
 * @typedef {{message: [msg: any, buffers: DataView[]], measurements: [list: Measurement[]],
 *   changed: []}} SceneEvents
 */

/**
 * A widget attribute kept in step by the scene (Scene.track).
 * @typedef {object} Tracked
 * @property {() => unknown} get the value this view holds; undefined: nothing to send now
 * @property {(value: any) => void} set take a value from the kernel or another view
 */

// Model attributes the scene keeps in step with its own state, both ways.
const SCENE_STATE = ["window_center", "window_width", "voi_function", "voi_table", "position",
  "plane", "zoom", "pan", "tool", "measurements"];
// Model attributes that only change the drawing.
const SCENE_DISPLAY = ["label_info", "overlay_opacity", "overlay_mode", "overlay_visible",
  "error", "description"];

export class Scene {
  // The model's state as this view holds it (readState; changed here, sent by scheduleSend).
  /** @type {number[]} */ shape = [];
  /** @type {Record<string, Layout>} */ layouts = {};
  /** @type {string[]} */ planes = [];
  plane = "";
  /** @type {number[]} */ position = [];
  center = 0;
  width = 1;
  fn = "LINEAR";
  /** @type {number | null} */ voiTable = null;
  zoom = 1;
  /** @type {number[]} */ pan = [0, 0];
  tool = "";
  /** @type {Measurement[]} */ measurements = [];

  /** @param {AnyModel<ImageState>} model */
  constructor(model) {
    this.model = model;
    /** @type {Map<string, Layer>} */
    this.layers = new Map();
    /** @type {SceneView[]} */
    this.viewports = [];
    /** @type {Map<string, Tracked>} */
    this.tracked = new Map();
    /** @type {Map<string, Set<(...args: any[]) => void>>} */
    this.handlers = new Map();
    /** @type {[string, () => void][]} */
    this.modelHandlers = [];
    // Names this view's own edits, so their patches are not applied twice.
    this.origin = `view-${Math.random().toString(36).slice(2, 10)}`;
    // The model with attributes named at run time (tracked ones too).
    const anyModel = /** @type {AnyModel<Record<string, any>>} */ (model);
    this.sync = new ModelSync(anyModel, () => this.outgoing(), (name, value) => this.fromModel(name, value));
    this.readState();
    /** @type {(msg: any, buffers: DataView[]) => void} */
    this.onMessage = (msg, buffers) => this.message(msg, buffers);
    model.on("msg:custom", this.onMessage);
    this.watch(SCENE_STATE, (name) => this.sync.changed(name));
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

  /** The layout of the plane on screen. */
  get layout() {
    return this.layouts[this.plane];
  }

  /** The slice on screen, in the plane's own numbering. */
  get slice() {
    return this.position[this.layout.slice_axis];
  }

  // ---- events and model attributes

  /**
   * @template {keyof SceneEvents} E
   * @param {E} event
   * @param {(...args: SceneEvents[E]) => void} fn
   * @returns {() => void} removes the handler
   */
  on(event, fn) {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn);
    return () => this.handlers.get(event)?.delete(fn);
  }

  /**
   * @template {keyof SceneEvents} E
   * @param {E} event
   * @param {SceneEvents[E]} args
   */
  emit(event, ...args) {
    for (const fn of [...(this.handlers.get(event) || [])]) fn(...args);
  }

  /**
   * fn(name) on every change of these model attributes, until destroy().
   * @param {string[]} names
   * @param {(name: string) => void} fn
   */
  watch(names, fn) {
    for (const name of names) {
      const handler = () => fn(name);
      this.model.on(`change:${name}`, handler);
      this.modelHandlers.push([name, handler]);
    }
  }

  /**
   * Keep a widget's own model attribute in step, with the scene's echo filtering:
   * get() is the value this view holds (undefined: nothing to send now, e.g. during a
   * drag), set(value) takes a value from the kernel or another view. Changes go out
   * with scheduleSend(); the kernel's echoes of what this view sent are ignored.
   * @param {string} name
   * @param {Tracked["get"]} get
   * @param {Tracked["set"]} set
   */
  track(name, get, set) {
    this.tracked.set(name, { get, set });
    this.watch([name], () => this.sync.changed(name));
  }

  // ---- streaming (layers.js)

  syncLayers() {
    const wanted = syncLayers(this.layers, this.model.get("layers"), this.shape);
    if (wanted.length) this.request(wanted);
  }

  /**
   * Ask the kernel for these layers, streamed to this view (ImageWidget._handle_ready),
   * starting at the frame on screen.
   * @param {string[]} names
   */
  request(names) {
    const frame = this.position[0];
    for (const name of names) {
      const layer = this.layers.get(name);
      if (layer) layer.wanted = frame;
    }
    this.model.send({ type: "ready", layers: names, frame, stream: this.origin });
  }

  /**
   * The slice on screen has not arrived: the kernel sends it next, then the slices
   * around it (ImageWidget._handle_want). Once per frame and layer; a reformatted
   * plane needs every frame and asks for none first.
   */
  wantShown() {
    const layout = this.layout;
    if (!layout || layout.slice_axis !== 0) return;
    const frame = this.position[0];
    for (const layer of this.layers.values()) {
      if (layer.complete || layer.loaded[frame] || layer.wanted === frame) continue;
      layer.wanted = frame;
      this.model.send({ type: "want", stream: this.origin, layer: layer.name, frame });
    }
  }

  /**
   * @param {any} msg
   * @param {DataView[]} buffers
   */
  message(msg, buffers) {
    if (!msg) return;
    if (msg.type === "chunk") {
      this.chunk(msg, buffers);
      return;
    }
    if (msg.type === "patch" && typeof msg.layer === "string") this.patch(msg, buffers);
    this.emit("message", msg, buffers);
  }

  /**
   * @param {ChunkMessage} msg
   * @param {DataView[]} buffers
   */
  chunk(msg, buffers) {
    // The kernel sends this view's next chunks once it has this one (another view's
    // chunks are kept too, unacknowledged: they fill the same layer).
    if (msg.stream === this.origin) {
      this.model.send({ type: "received", stream: msg.stream, layer: msg.layer, seq: msg.seq });
    }
    const layer = acceptChunk(this.layers, msg, buffers);
    if (!layer) return;
    const s = this.slice;
    const layout = this.layout;
    // Redraw when the chunk touches what is on screen.
    const visible =
      layout.slice_axis === 0 ? s >= msg.start && s < msg.start + msg.count : true;
    if (visible || layer.complete) this.redraw();
    else this.status();
  }

  /**
   * @param {PatchMessage} msg
   * @param {DataView[]} buffers
   */
  patch(msg, buffers) {
    if (applyPatch(this.layers, msg, buffers, this.origin)) this.redraw([msg.layer]);
  }

  /**
   * Is the slice on screen of this layer here (true when there is no such layer)?
   * @param {string} name
   */
  loadedFor(name) {
    const layer = this.layers.get(name);
    if (!layer) return true;
    return layer.loadedOn(this.layout, this.slice);
  }

  // ---- state changes

  /**
   * @param {number} c
   * @param {number} w
   * @param {string} f
   * @param {number | null} [table] one of the image's VOI LUT tables instead
   */
  setWindow(c, w, f, table = null) {
    this.center = c;
    this.width = f === "LINEAR" ? Math.max(1, w) : Math.max(w, 1e-6);
    this.fn = f;
    this.voiTable = table;
    this.redraw(["image"]);
    this.scheduleSend();
  }

  /** @param {number} s */
  setSlice(s) {
    const n = this.layout.n_slices;
    const next = Math.min(n - 1, Math.max(0, Math.round(s)));
    if (next === this.slice) return;
    this.position[this.layout.slice_axis] = next;
    this.redraw();
    this.scheduleSend();
  }

  /** @param {string} plane */
  setPlane(plane) {
    if (!this.layouts[plane] || plane === this.plane) return;
    this.plane = plane;
    this.zoom = 1;
    this.pan = [0, 0];
    this.redraw();
    this.scheduleSend();
  }

  /**
   * @param {number} zoom
   * @param {number[]} pan
   */
  setView(zoom, pan) {
    this.zoom = Math.min(32, Math.max(0.25, zoom));
    this.pan = pan;
    for (const vp of this.viewports) vp.place();
    this.scheduleSend();
  }

  /** @param {string} tool */
  setTool(tool) {
    this.tool = tool;
    for (const vp of this.viewports) vp.toolChanged();
    this.status();  // the pressed tool button follows at once
    this.scheduleSend();
  }

  /** @param {Measurement} m */
  addMeasurement(m) {
    this.measurements = this.measurements.concat([m]);
    this.measurementsChanged();
  }

  /** @param {number} index */
  removeMeasurement(index) {
    this.measurements = this.measurements.filter((_, i) => i !== index);
    this.measurementsChanged();
  }

  measurementsChanged() {
    this.redrawAnnotations();
    this.scheduleSend();
    this.emit("measurements", this.measurements);
  }

  /** @param {string[]} [which] canvases to redraw (all when absent) */
  redraw(which) {
    for (const vp of this.viewports) vp.draw(which);
    this.status();
    this.wantShown();
  }

  redrawAnnotations() {
    for (const vp of this.viewports) vp.drawAnnotations();
  }

  status() {
    for (const vp of this.viewports) vp.status();
  }

  // ---- to and from the model

  /**
   * The state this scene sends, as model attribute → local value.
   * @returns {Record<string, unknown>}
   */
  outgoing() {
    /** @type {Record<string, unknown>} */
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

  /** Send this view's state to the kernel with the next animation frame. */
  scheduleSend() {
    this.sync.schedule();
    this.emit("changed");
  }

  /**
   * A change of one attribute made in Python (or by another view of the same model),
   * not an echo of this view's own (sync.js).
   * @param {string} name
   * @param {any} value
   */
  fromModel(name, value) {
    const tracked = this.tracked.get(name);
    if (tracked) {
      tracked.set(value);
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
    this.emit("changed");
  }

  // ---- values

  /**
   * Array (frame, row, col), continuous → patient LPS mm.
   * @param {ArrayIndex} a
   */
  toPatient(a) {
    const m = this.model;
    return arrayToPatient(a, m.get("spacing"), m.get("origin"), m.get("direction"));
  }

  /**
   * The modality value at array (frame, row, col) of an image layer: a number, [r, g, b]
   * for colour images, null while that frame has not arrived.
   * @param {string} name
   * @param {ArrayIndex} a
   * @returns {number | number[] | null}
   */
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
    this.sync.destroy();
    this.model.off("msg:custom", this.onMessage);
    for (const [name, handler] of this.modelHandlers) this.model.off(`change:${name}`, handler);
    this.modelHandlers = [];
    this.handlers.clear();
  }
}
