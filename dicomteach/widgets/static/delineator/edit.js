// One stroke of the learner on the slice on screen: the pixels it changes are written
// into the "labels" layer at once (the learner sees them), their values before are
// remembered, and when the stroke ends the changed box goes to the kernel
// (DelineatorWidget's "edit" message, widgets/delineator.py).

import { walker } from "../core/geometry.js";
import { capsulePixels, polygonPixels, floodPixels } from "./raster.js";

/** @import { Scene } from "../core/scene.js" */
/** @import { Layer } from "../core/layers.js" */

export class SliceEdit {
  /**
   * @param {Scene} scene
   * @param {string} tool "brush", "eraser", "range", "polygon", "freehand" or "fill"
   * @param {number} active the structure drawn
   * @param {Set<number>} hidden structures painting must not cover
   * @param {number[]} range the range brush's [low, high] modality values
   */
  constructor(scene, tool, active, hidden, range) {
    const layout = scene.layout;
    this.tool = tool;
    this.plane = scene.plane;
    this.slice = scene.slice;
    this.layout = layout;
    this.labels = /** @type {Layer} */ (scene.layers.get("labels"));
    this.image = /** @type {Layer} */ (scene.layers.get("image"));
    const w = walker(layout, this.labels.shape, this.slice);
    this.base = w.base;
    this.dR = w.dR;
    this.dC = w.dC;
    this.active = active;
    this.value = tool === "eraser" ? 0 : active;
    this.hidden = hidden;
    this.range = tool === "range" ? range : null;
    /** Flat index → value before the stroke. @type {Map<number, number>} */
    this.before = new Map();
    this.box = [Infinity, -Infinity, Infinity, -Infinity];
    /** @type {number[] | null} the last stamped pixel */
    this.last = null;
  }

  /**
   * @param {number} r
   * @param {number} c
   */
  index(r, c) {
    return this.base + r * this.dR + c * this.dC;
  }

  /**
   * @param {number} r
   * @param {number} c
   */
  valueAt(r, c) {
    return this.labels.data[this.index(r, c)];
  }

  /**
   * Paint one pixel if the tool may: the eraser takes only the active structure;
   * painting never covers hidden structures; the range brush checks the image value.
   * @param {number} r
   * @param {number} c
   */
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

  /**
   * The brush from the last point to this one.
   * @param {number[]} point [row, col]
   * @param {number} radius mm
   */
  stamp(point, radius) {
    const from = this.last || point;
    const l = this.layout;
    capsulePixels(from, point, radius, l.row_spacing, l.col_spacing, l.rows, l.cols,
      (r, c) => this.set(r, c));
    this.last = point;
  }

  /** @param {number[][]} points [row, col] vertices of a closed outline */
  fillOutline(points) {
    polygonPixels(points, this.layout.rows, this.layout.cols, (r, c) => this.set(r, c));
  }

  /**
   * @param {number} r
   * @param {number} c
   */
  flood(r, c) {
    const target = this.valueAt(r, c);
    if (target === this.value || this.hidden.has(target)) return;
    floodPixels((y, x) => this.valueAt(y, x), r, c, this.layout.rows, this.layout.cols,
      (y, x) => this.set(y, x));
  }

  get changed() {
    return this.before.size;
  }

  /**
   * The message to the kernel: the changed box, values after and before.
   * @param {string} origin the scene's name (Scene.origin)
   * @param {number} seq this view's stroke number
   * @param {object} [extra] more content (the outline drawn)
   * @returns {[object, ArrayBuffer[]]}
   */
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
        before[j] = this.before.get(p) ?? data[p];
      }
    }
    const content = {
      type: "edit", plane: this.plane, slice: this.slice, box: [r0, r1, c0, c1],
      structure: this.active, tool: this.tool, origin, seq, ...(extra || {}),
    };
    return [content, [after.buffer, before.buffer]];
  }

  /** Put the values back (an edit the kernel will not get). */
  revert() {
    for (const [p, v] of this.before) this.labels.data[p] = v;
    this.before.clear();
  }
}
