// Participants' layers in a live session (docs/live.md: `layers/<username>/edits`): each
// edit is a box of the series in array order, [[k0, k1], [r0, r1], [c0, c1]], and its
// labels as runs [label, count, …] in C order, as dicomteach/live/save.py replays them.
// Here: the edits this person's strokes make (editFromIndices, editFromBox), the others'
// layers rebuilt from their edits (LiveLayers), and those drawn over a slice in each
// person's colour (drawLayers). Pure: arrays in, arrays out.

import { walker } from "../core/geometry.js";

/** @import { Layout, ArrayIndex } from "../core/geometry.js" */

/**
 * One edit of a layer (docs/live.md).
 * @typedef {{box: number[][], runs: number[], structure: number}} LayerEdit
 */

/**
 * Values in order as runs: [value, count, value, count, …].
 * @param {ArrayLike<number>} values
 * @returns {number[]}
 */
export function runsOf(values) {
  /** @type {number[]} */
  const runs = [];
  let value = -1, count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === value) {
      count += 1;
      continue;
    }
    if (count) runs.push(value, count);
    value = v;
    count = 1;
  }
  if (count) runs.push(value, count);
  return runs;
}

/**
 * The edit that writes a box of the label array `data` (array order, `shape`) as it is now.
 * @param {ArrayLike<number>} data
 * @param {number[]} shape [frames, rows, cols]
 * @param {number[][]} box [[k0, k1], [r0, r1], [c0, c1]]
 * @param {number} structure
 * @returns {LayerEdit}
 */
export function editFromBox(data, shape, box, structure) {
  const [[k0, k1], [r0, r1], [c0, c1]] = box;
  const rows = shape[1], cols = shape[2];
  const values = new Uint8Array((k1 - k0) * (r1 - r0) * (c1 - c0));
  let j = 0;
  for (let k = k0; k < k1; k++) {
    for (let r = r0; r < r1; r++) {
      const start = (k * rows + r) * cols;
      for (let c = c0; c < c1; c++) values[j++] = data[start + c];
    }
  }
  return { box: box.map((b) => b.slice()), runs: runsOf(values), structure };
}

/**
 * The edit of a stroke: the smallest box holding the flat indices it changed, with the
 * label array's values in it now.
 * @param {ArrayLike<number>} data
 * @param {number[]} shape
 * @param {Iterable<number>} indices flat indices into `data`
 * @param {number} structure
 * @returns {LayerEdit | null} null when no index was given
 */
export function editFromIndices(data, shape, indices, structure) {
  const rows = shape[1], cols = shape[2], frame = rows * cols;
  const lo = [Infinity, Infinity, Infinity], hi = [-1, -1, -1];
  for (const p of indices) {
    const k = Math.floor(p / frame), rest = p - k * frame;
    const r = Math.floor(rest / cols), c = rest - r * cols;
    const at = [k, r, c];
    for (let a = 0; a < 3; a++) {
      if (at[a] < lo[a]) lo[a] = at[a];
      if (at[a] > hi[a]) hi[a] = at[a];
    }
  }
  if (hi[0] < 0) return null;
  return editFromBox(data, shape, [[lo[0], hi[0] + 1], [lo[1], hi[1] + 1], [lo[2], hi[2] + 1]], structure);
}

/**
 * One person's layer as it is drawn: the frames their edits touched (each rows × cols,
 * made on first use, so thirty people drawing on a few slices of a long series cost a
 * few slices each, not the series), and the edits applied so far.
 * @typedef {{frames: Map<number, Uint8Array>, applied: number, last: unknown}} PersonLayer
 */

/** Everyone's layers rebuilt from their edits (module comment). */
export class LiveLayers {
  /** @param {number[]} shape the series' [frames, rows, cols] */
  constructor(shape) {
    this.shape = shape;
    this.frameSize = shape[1] * shape[2];
    /** @type {Map<string, PersonLayer>} */
    this.people = new Map();
    /** Edits that did not fit the series, skipped (as the service's saver skips them). */
    this.skipped = 0;
  }

  /**
   * Bring `name`'s layer up to `edits` (their list as the document holds it now).
   * Edits are appended, so only the new ones are applied; a list that changed otherwise
   * (a new document) is replayed from the start.
   * @param {string} name
   * @param {unknown[]} edits
   * @returns {boolean} whether the layer changed
   */
  update(name, edits) {
    let person = this.people.get(name);
    if (person && (edits.length < person.applied || (person.applied && edits[person.applied - 1] !== person.last))) {
      person = undefined;
    }
    if (!person) {
      person = { frames: new Map(), applied: 0, last: null };
      this.people.set(name, person);
    }
    if (edits.length === person.applied) return false;
    for (let i = person.applied; i < edits.length; i++) this.apply(person, edits[i]);
    person.applied = edits.length;
    person.last = edits[edits.length - 1];
    return true;
  }

  /** @param {string} name */
  forget(name) {
    this.people.delete(name);
  }

  /**
   * @param {PersonLayer} person
   * @param {any} edit
   */
  apply(person, edit) {
    const box = edit && edit.box, runs = edit && edit.runs;
    if (!Array.isArray(box) || box.length !== 3 || !Array.isArray(runs) || runs.length % 2) {
      this.skipped += 1;
      return;
    }
    const b = box.map((pair) => (Array.isArray(pair) ? pair.map(Number) : [0, 0]));
    if (b.some(([lo, hi], axis) => !(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo < hi && hi <= this.shape[axis]))) {
      this.skipped += 1;
      return;
    }
    const [[k0, k1], [r0, r1], [c0, c1]] = b;
    const size = (k1 - k0) * (r1 - r0) * (c1 - c0);
    let total = 0;
    for (let i = 1; i < runs.length; i += 2) total += Number(runs[i]);
    if (total !== size) {
      this.skipped += 1;
      return;
    }
    const cols = this.shape[2], width = c1 - c0, height = r1 - r0;
    let run = 0, left = Number(runs[1]), value = Number(runs[0]);
    for (let k = k0; k < k1; k++) {
      let frame = person.frames.get(k);
      if (!frame) person.frames.set(k, (frame = new Uint8Array(this.frameSize)));
      for (let r = r0; r < r0 + height; r++) {
        let p = r * cols + c0;
        for (let c = 0; c < width; c++, p++) {
          while (left === 0) {
            run += 2;
            value = Number(runs[run]);
            left = Number(runs[run + 1]);
          }
          frame[p] = value;
          left -= 1;
        }
      }
    }
  }

  /**
   * `name`'s label at array index `a` (whole numbers), 0 outside their layer.
   * @param {string} name
   * @param {ArrayIndex} a
   */
  at(name, a) {
    const frame = this.people.get(name)?.frames.get(a[0]);
    return frame ? frame[a[1] * this.shape[2] + a[2]] : 0;
  }

  /**
   * `name`'s labels on slice s of a layout (rows × cols), or null when they drew nothing.
   * @param {string} name
   * @param {Layout} layout
   * @param {number} s
   * @returns {Uint8Array | null}
   */
  slice(name, layout, s) {
    const person = this.people.get(name);
    if (!person || !person.frames.size) return null;
    const { base, dR, dC } = walker(layout, this.shape, s);
    const size = this.frameSize, rows = layout.rows, cols = layout.cols;
    const out = new Uint8Array(rows * cols);
    let any = false;
    for (let r = 0, j = 0; r < rows; r++) {
      let p = base + r * dR;
      for (let c = 0; c < cols; c++, p += dC, j++) {
        const k = Math.floor(p / size);
        const frame = person.frames.get(k);
        if (frame && (out[j] = frame[p - k * size])) any = true;
      }
    }
    return any ? out : null;
  }
}

/**
 * "#rrggbb" → [r, g, b] (a participant's colour in the `present` map).
 * @param {string} hex
 * @returns {number[]}
 */
export function rgbOf(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : [255, 255, 255];
}

/**
 * Whether pixel (r, c) of a slice's mask (rows × cols, set there) is on its outline: on
 * the slice's border, or beside a pixel outside it (left, right, above, below).
 * @param {Uint8Array} mask
 * @param {number} rows
 * @param {number} cols
 * @param {number} r
 * @param {number} c
 */
export function edgeAt(mask, rows, cols, r, c) {
  const j = r * cols + c;
  return r === 0 || c === 0 || r === rows - 1 || c === cols - 1 ||
    !mask[j - cols] || !mask[j + cols] || !mask[j - 1] || !mask[j + 1];
}

/**
 * Several people's layers over slice s into RGBA pixels: each person's outline opaque
 * in their colour, the inside lightly tinted; later people over earlier ones.
 * @param {LiveLayers} layers
 * @param {{name: string, color: number[]}[]} people
 * @param {Layout} layout
 * @param {number} s
 * @param {Uint8ClampedArray} out rows × cols × 4
 * @returns {boolean} whether anything was drawn
 */
export function drawLayers(layers, people, layout, s, out) {
  out.fill(0);
  const rows = layout.rows, cols = layout.cols;
  let drawn = false;
  for (const { name, color } of people) {
    const mask = layers.slice(name, layout, s);
    if (!mask) continue;
    drawn = true;
    for (let r = 0, j = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++, j++) {
        if (!mask[j]) continue;
        const edge = edgeAt(mask, rows, cols, r, c);
        const o = 4 * j;
        out[o] = color[0];
        out[o + 1] = color[1];
        out[o + 2] = color[2];
        out[o + 3] = edge ? 255 : Math.max(out[o + 3], 70);
      }
    }
  }
  return drawn;
}
