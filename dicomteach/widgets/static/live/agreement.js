// The class's agreement map and STAPLE consensus (docs/live.md: the document's `consensus`
// root, which only the service writes, when an instructor asks). Per structure: its raters,
// a box of the series and, over it, `agreement` (how many drew each voxel) and `consensus`
// (1 inside) as runs, the form of a layer's edit. Here: those maps rebuilt on the slices
// they touch (LiveLayers, as the participants' layers), the colour of each count, and the
// two drawn over a slice: the map as a colour ramp from "1 of N" to "N of N", the consensus
// as an outline. Pure: arrays in, arrays out.

import { LiveLayers, edgeAt } from "./layers.js";

/** @import { Layout } from "../core/geometry.js" */

/**
 * One structure of the `consensus` root (docs/live.md).
 * @typedef {{label: number, raters: string[], box: number[][], agreement: number[],
 *   consensus: number[], sensitivity?: number[], specificity?: number[]}} ConsensusStructure
 */

/**
 * The ramp's stops, from "1 of N" (few agree: cool) to "N of N" (all agree: hot), vivid
 * enough over a grey image at the map's opacity (live.css).
 */
const RAMP = [[40, 110, 255], [0, 210, 235], [90, 225, 60], [255, 215, 0], [240, 30, 30]];

/** The consensus outline's colour: white, beside the ramp's and the participants' colours. */
export const CONSENSUS_RGB = [255, 255, 255];

/**
 * The colour of "k of n drew here" (1 ≤ k ≤ n): k = n is always the ramp's hot end, k = 1
 * its cool end (with one rater, both are one: hot).
 * @param {number} k
 * @param {number} n
 * @returns {number[]} [r, g, b]
 */
export function agreementColour(k, n) {
  const t = n <= 1 ? 1 : Math.min(1, Math.max(0, (k - 1) / (n - 1)));
  const at = t * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(at));
  const f = at - i;
  return RAMP[i].map((v, c) => Math.round(v + (RAMP[i + 1][c] - v) * f));
}

/** @param {number[]} rgb */
export function hexOf(rgb) {
  return "#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join("");
}

/**
 * A value of the document as plain JSON (a Y type's `toJSON`, else the value itself).
 * @param {any} value
 */
function plain(value) {
  return value && typeof value.toJSON === "function" ? value.toJSON() : value;
}

/** The `consensus` root rebuilt for drawing (module comment). */
export class ClassAgreement {
  /** @param {number[]} shape the series' [frames, rows, cols] */
  constructor(shape) {
    this.shape = shape;
    this.maps = new LiveLayers(shape);
    /** @type {ConsensusStructure[]} */
    this.structures = [];
    /** When the service made it (its `made`), "" when it has not. */
    this.made = "";
    this.by = "";
    /** Who counted, over every structure. @type {string[]} */
    this.raters = [];
  }

  /**
   * Rebuild from the root as the document holds it now; false when nothing changed.
   * @param {{get: (key: string) => any}} root the `consensus` root
   */
  update(root) {
    const made = String(root.get("made") || "");
    const structures = plain(root.get("structures"));
    const list = Array.isArray(structures) ? structures : [];
    if (made === this.made && list.length === this.structures.length) return false;
    this.made = made;
    this.by = String(root.get("by") || "");
    const raters = plain(root.get("raters"));
    this.raters = Array.isArray(raters) ? raters.map(String) : [];
    this.maps = new LiveLayers(this.shape);
    this.structures = [];
    for (const s of list) {
      if (!s || !Number.isFinite(Number(s.label)) || !Array.isArray(s.raters)) continue;
      const label = Number(s.label);
      const skipped = this.maps.skipped;
      this.maps.update(`agreement ${label}`, [{ box: s.box, runs: s.agreement, structure: label }]);
      this.maps.update(`consensus ${label}`, [{ box: s.box, runs: s.consensus, structure: label }]);
      if (this.maps.skipped === skipped) this.structures.push({ ...s, label, raters: s.raters.map(String) });
    }
    return true;
  }

  /**
   * A structure by its label, or the first when that one is not there.
   * @param {number} label
   * @returns {ConsensusStructure | null}
   */
  structure(label) {
    return this.structures.find((s) => s.label === label) || this.structures[0] || null;
  }

  /**
   * How many drew at array index `a`, out of how many, for structure `label`.
   * @param {number} label
   * @param {number[]} a
   */
  countAt(label, a) {
    const s = this.structure(label);
    return s ? this.maps.at(`agreement ${s.label}`, a) : 0;
  }
}

/**
 * Structure `label`'s agreement map over slice s into RGBA pixels: each voxel some drew in
 * the colour of its count (agreementColour), opaque (the canvas's opacity lets the image
 * through, and its pixels stay exact), nothing where nobody drew.
 * @param {ClassAgreement} agreement
 * @param {number} label
 * @param {Layout} layout
 * @param {number} s
 * @param {Uint8ClampedArray} out rows × cols × 4
 * @returns {boolean} whether anything was drawn
 */
export function drawAgreement(agreement, label, layout, s, out) {
  out.fill(0);
  const structure = agreement.structure(label);
  if (!structure) return false;
  const counts = agreement.maps.slice(`agreement ${structure.label}`, layout, s);
  if (!counts) return false;
  const n = structure.raters.length;
  const colours = Array.from({ length: Math.max(1, n) }, (_, i) => agreementColour(i + 1, n));
  for (let j = 0; j < counts.length; j++) {
    const k = counts[j];
    if (!k) continue;
    const rgb = colours[Math.min(k, colours.length) - 1];
    const o = 4 * j;
    out[o] = rgb[0];
    out[o + 1] = rgb[1];
    out[o + 2] = rgb[2];
    out[o + 3] = 255;
  }
  return true;
}

/**
 * Structure `label`'s consensus over slice s as its outline (the voxels inside it that
 * touch the outside), opaque in CONSENSUS_RGB.
 * @param {ClassAgreement} agreement
 * @param {number} label
 * @param {Layout} layout
 * @param {number} s
 * @param {Uint8ClampedArray} out rows × cols × 4
 * @returns {boolean} whether anything was drawn
 */
export function drawConsensus(agreement, label, layout, s, out) {
  out.fill(0);
  const structure = agreement.structure(label);
  if (!structure) return false;
  const mask = agreement.maps.slice(`consensus ${structure.label}`, layout, s);
  if (!mask) return false;
  const rows = layout.rows, cols = layout.cols;
  for (let r = 0, j = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++, j++) {
      if (!mask[j] || !edgeAt(mask, rows, cols, r, c)) continue;
      const o = 4 * j;
      out[o] = CONSENSUS_RGB[0];
      out[o + 1] = CONSENSUS_RGB[1];
      out[o + 2] = CONSENSUS_RGB[2];
      out[o + 3] = 255;
    }
  }
  return true;
}
