// The Delineator's editor, one per view: the structures, brush and range the learner
// chose (kept in step with the kernel through the scene), the strokes sent to the
// kernel and its answers (acknowledgements, undo/redo/interpolation "done"), and the
// polygon or freehand outline being drawn. tools.js turns the mouse and keys into
// calls here; panel.js shows this state; viewport.js draws the drafts.

import { SliceEdit } from "./edit.js";

/** @import { Scene } from "../core/scene.js" */
/** @import { AnyModel } from "../anywidget" */
/** @import { ImageState } from "../core/traits" */
/** @import { PointerPoint, Viewport } from "../core/viewport.js" */
/** @import { DelineatorViewport } from "./viewport.js" */

/**
 * One structure the learner draws: its label value, name and colour.
 * @typedef {{value: number, name: string, color: number[], visible?: boolean}} Structure
 */

/**
 * The Delineator's own synced traits (widgets/delineator.py).
 * @typedef {ImageState & {
 *   structures: Structure[],
 *   active: number,
 *   brush_mm: number,
 *   hu_range: number[],
 *   can_undo: number,
 *   can_redo: number,
 *   revision: number,
 *   notice: string,
 *   answer_file: string,
 *   show_reference: boolean,
 * }} DelineatorState
 */

/**
 * What the learner changes here and the kernel may change too.
 * @typedef {Pick<DelineatorState, "active" | "brush_mm" | "hu_range" | "structures" | "show_reference">} EditorState
 */

/**
 * An outline being drawn on one slice: [row, col] pixels.
 * @typedef {{kind: "polygon" | "freehand", plane: string, slice: number, points: number[][]}} Draft
 */

// The model attributes the learner changes here and the kernel may change too.
/** @type {(keyof EditorState)[]} */
const EDITOR_STATE = ["active", "brush_mm", "hu_range", "structures", "show_reference"];
// The ones only the kernel changes: shown in the panel.
const EDITOR_SHOWN = ["can_undo", "can_redo", "notice", "tools", "answer_file"];

export class Editor {
  /**
   * @param {Scene} scene
   * @param {AnyModel<DelineatorState>} model
   * @param {HTMLElement} el the widget's element (its data-* attributes report progress)
   */
  constructor(scene, model, el) {
    this.scene = scene;
    this.model = model;
    this.el = el;
    this.seq = 0;
    this.pending = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pendingTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.ackTimer = undefined;
    /** The stroke under way. @type {SliceEdit | null} */
    this.edit = null;
    /** @type {Draft | null} */
    this.draft = null;
    /** The point under the mouse. @type {PointerPoint | null} */
    this.hover = null;
    /** @type {DelineatorViewport[]} */
    this.viewports = [];
    this.redrawScheduled = false;
    this.localNotice = "";
    /** Set by the panel (panel.js). */
    this.panelUpdate = () => {};
    /**
     * Told each stroke sent to the kernel: the flat indices it changed and its structure
     * (a live session writes it to the person's layer: static/live/session.js).
     * @type {(indices: Iterable<number>, structure: number) => void}
     */
    this.onStroke = () => {};
    /** @type {EditorState} */
    this.state = {
      active: model.get("active"),
      brush_mm: model.get("brush_mm"),
      hu_range: model.get("hu_range"),
      structures: model.get("structures"),
      show_reference: model.get("show_reference"),
    };
    for (const name of EDITOR_STATE) {
      scene.track(name, () => this.state[name], (value) => {
        /** @type {Record<string, unknown>} */ (this.state)[name] = value;
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

  /** The structure being drawn. */
  get active() {
    return this.state.active;
  }

  hiddenValues() {
    return new Set(this.state.structures.filter((s) => s.visible === false).map((s) => s.value));
  }

  /** @param {number} value */
  structure(value) {
    return this.state.structures.find((s) => s.value === value);
  }

  // ---- state the kernel shares

  /**
   * A change made here: shown at once, sent with the scene's next message.
   * @template {keyof EditorState} K
   * @param {K} name
   * @param {EditorState[K]} value
   */
  set(name, value) {
    this.state[name] = value;
    this.localNotice = "";
    this.changed(name);
    this.scene.scheduleSend();
  }

  /** @param {string} name */
  changed(name) {
    this.panelUpdate();
    if (name === "structures") this.redrawLabels();
    else if (name === "show_reference") this.scene.redraw(["reference"]);
    else if (name === "active" || name === "brush_mm") this.drawDrafts();
  }

  /** @param {number} value */
  select(value) {
    if (!this.structure(value)) return false;
    this.set("active", value);
    return true;
  }

  /**
   * @param {number} value
   * @param {boolean} visible
   */
  setVisible(value, visible) {
    this.set("structures", this.state.structures.map((s) => (s.value === value ? { ...s, visible } : s)));
  }

  /** @param {number} mm */
  setBrush(mm) {
    if (!(mm > 0)) return;
    this.set("brush_mm", Math.min(500, Math.round(mm * 10) / 10));
  }

  /** @param {number} sign +1 larger, -1 smaller */
  resizeBrush(sign) {
    const r = this.state.brush_mm;
    const step = Math.max(0.5, Math.round(r * 0.25 * 2) / 2);
    this.setBrush(Math.max(0.5, r + sign * step));
  }

  /**
   * @param {number} lo
   * @param {number} hi
   */
  setRange(lo, hi) {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    this.set("hu_range", lo <= hi ? [lo, hi] : [hi, lo]);
  }

  /** @param {string} text a notice for the learner */
  say(text) {
    this.localNotice = text;
    this.panelUpdate();
  }

  // ---- may the learner draw now?

  /**
   * @param {PointerPoint} p
   * @param {string} tool
   */
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

  /** @param {string} tool */
  begin(tool) {
    return new SliceEdit(this.scene, tool, this.active, this.hiddenValues(), this.state.hu_range);
  }

  /**
   * A finished edit: to the kernel if it changed anything.
   * @param {SliceEdit | null} edit
   * @param {object} [extra] more content for the message (the outline)
   */
  finish(edit, extra) {
    this.edit = null;
    if (!edit || edit.changed === 0) {
      this.redrawLabels();
      return;
    }
    this.seq += 1;
    const [content, buffers] = edit.message(this.scene.origin, this.seq, extra);
    this.model.send(content, undefined, buffers);
    this.onStroke(edit.before.keys(), edit.active);
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

  /**
   * @param {string} type "undo", "redo" or "interpolate"
   * @param {object} [extra]
   */
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

  /**
   * The kernel's messages; its label patches are applied by the scene (core/scene.js),
   * except the one acknowledging this view's own stroke, which this view already shows.
   * @param {any} msg
   */
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
        this.scene.request(["labels"]);
      }
    } else if (msg.type === "done" && mine) {
      this.pending = Math.max(0, this.pending - 1);
      this.el.dataset.pending = String(this.pending);
      this.el.dataset.revision = String(msg.revision);
      if (!msg.changed && msg.op !== "interpolate") this.say(`Nothing to ${msg.op}.`);
    }
  }

  /** @param {{seq?: number}} msg */
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

  /**
   * @param {PointerPoint} p
   * @param {Viewport} vp
   */
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

  destroy() {
    clearTimeout(this.pendingTimer);
    clearTimeout(this.ackTimer);
    this.offMessage();
  }
}
