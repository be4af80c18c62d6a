// Where the texts beside measurements go: each label starts beside its measurement and
// is moved up or down, the shortest way, until it covers no label placed before it and
// stays on the picture, as OHIF / Cornerstone keep their text boxes apart. A moved
// label is joined to its measurement by a dashed line. Labels are placed in the
// measurements' order, so adding one never moves the ones already there.

import { svg } from "./dom.js";

/** The distance between two lines of one label (px; the text is 12 px, viewer.css). */
export const LINE_HEIGHT = 14;
/** How far a label is moved at each try (px): half a line. */
const STEP = 7;
/** The space kept between two labels, and between a label and the picture's edge (px). */
const GAP = 2;
/** A label moved further than this, that ends as far from its measurement, is joined
 * to it by a line (px). */
const LINK_DISTANCE = 10;
/** Tries each way when the picture's height is not known (laid out at width 0). */
const UNBOUNDED_TRIES = 40;

/** A box on the picture, in SVG pixels. @typedef {{x0: number, y0: number, x1: number, y1: number}} Box */

/**
 * A label as drawMeasurements writes it: its lines (SVG text, x and y set) inside the
 * measurement's group, and the point of the measurement it speaks of.
 * @typedef {object} Label
 * @property {SVGGElement} group the measurement's <g>
 * @property {SVGTextElement[]} lines
 * @property {number[]} origin [x, y] the point a moved label is joined to
 */

/**
 * Move labels so that no two overlap and each stays inside a picture of this size.
 * The lines must be in the document to be measured; where they are not laid out yet
 * (a hidden or detached picture), their size is estimated from their length.
 * @param {Label[]} labels in the order they keep their places
 * @param {number} width the picture's size, 0 when unknown
 * @param {number} height
 */
export function placeLabels(labels, width, height) {
  /** @type {Box[]} */
  const placed = [];
  for (const label of labels) {
    if (!label.lines.length) continue;
    const box = measure(label.lines);
    let dx = 0;
    if (width > 0) {
      // Cut by the right edge: moved left, but never past the left one.
      dx = Math.min(0, width - GAP - box.x1);
      dx = Math.max(dx, GAP - box.x0);
    }
    const dy = freeShift(box, dx, placed, height);
    const moved = shift(box, dx, dy);
    placed.push(moved);
    if (dx || dy) {
      for (const t of label.lines) {
        t.setAttribute("x", String(Number(t.getAttribute("x")) + dx));
        t.setAttribute("y", String(Number(t.getAttribute("y")) + dy));
      }
    }
    if (Math.hypot(dx, dy) > LINK_DISTANCE) link(label, moved);
  }
}

/**
 * The vertical shift nearest 0 that puts `box` (moved by dx) clear of `placed` and inside
 * the picture; 0 when there is none.
 * @param {Box} box
 * @param {number} dx
 * @param {Box[]} placed
 * @param {number} height 0 when unknown
 */
function freeShift(box, dx, placed, height) {
  const tries = height > 0 ? Math.ceil(height / STEP) : UNBOUNDED_TRIES;
  for (let k = 0; k <= tries; k++) {
    for (const dy of k ? [k * STEP, -k * STEP] : [0]) {
      const b = shift(box, dx, dy);
      if (height > 0 && (b.y0 < GAP || b.y1 > height - GAP)) continue;
      if (!placed.some((p) => overlap(p, b))) return dy;
    }
  }
  return 0;
}

/**
 * The box the lines cover on the picture: measured by the browser, or estimated.
 * @param {SVGTextElement[]} lines
 * @returns {Box}
 */
function measure(lines) {
  /** @type {Box | null} */
  let box = null;
  for (const t of lines) {
    let b = null;
    try {
      b = t.getBBox();
    } catch {
      b = null; // not rendered (Firefox throws, Chromium answers zeros)
    }
    if (!b || !b.width) {
      box = null;
      break;
    }
    const own = { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height };
    box = box ? union(box, own) : own;
  }
  if (box) return box;
  // About 7 px a character at 12 px; the first baseline 11 px below the top.
  const x = Number(lines[0].getAttribute("x")), y = Number(lines[0].getAttribute("y"));
  const chars = Math.max(...lines.map((t) => (t.textContent || "").length));
  return { x0: x, y0: y - 11, x1: x + 7 * chars, y1: y + LINE_HEIGHT * (lines.length - 1) + 3 };
}

/**
 * A dashed line from the measurement to its moved label, unless the label still touches it.
 * @param {Label} label
 * @param {Box} box
 */
function link(label, box) {
  const [x, y] = label.origin;
  const nx = Math.min(Math.max(x, box.x0), box.x1);
  const ny = Math.min(Math.max(y, box.y0), box.y1);
  if (Math.hypot(nx - x, ny - y) <= LINK_DISTANCE) return;
  label.group.prepend(svg("line", { class: "dt-measure-link", x1: x, y1: y, x2: nx, y2: ny }));
}

/**
 * @param {Box} a
 * @param {Box} b
 */
function overlap(a, b) {
  return a.x0 < b.x1 + GAP && b.x0 < a.x1 + GAP && a.y0 < b.y1 + GAP && b.y0 < a.y1 + GAP;
}

/**
 * @param {Box} a
 * @param {Box} b
 * @returns {Box}
 */
function union(a, b) {
  return {
    x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0),
    x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1),
  };
}

/**
 * @param {Box} b
 * @param {number} dx
 * @param {number} dy
 * @returns {Box}
 */
function shift(b, dx, dy) {
  return { x0: b.x0 + dx, y0: b.y0 + dy, x1: b.x1 + dx, y1: b.y1 + dy };
}
