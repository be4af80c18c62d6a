// Measurements on the slice on screen (ruler, ellipse ROI, point): what they record,
// the text beside them, and their SVG. The statistics follow
// dicomteach/imaging/measure.py, which the tests compare them with.

import { svg } from "./dom.js";
import { format, fixed } from "./format.js";
import { walker, toArrayIndex } from "./geometry.js";
import { LINE_HEIGHT, placeLabels } from "./labels.js";

/** @import { Scene } from "./scene.js" */
/** @import { ArrayIndex } from "./geometry.js" */
/** @import { Label } from "./labels.js" */

/**
 * A measurement as ImageWidget.measurements holds it. `points` are displayed [y, x]
 * (pixel edges whole); `array` the end points in array order (pixel centres whole).
 * @typedef {object} Measurement
 * @property {string} kind "ruler", "ellipse" or "point"
 * @property {string} plane
 * @property {number} slice
 * @property {number[][]} points
 * @property {ArrayIndex[]} [array]
 * @property {number[][]} [patient_mm] when the geometry is known
 * @property {number} [length_mm] rulers
 * @property {number} [mean] ellipses: of the pixels whose centre is inside
 * @property {number} [sd]
 * @property {number} [n]
 * @property {number} [area_mm2]
 * @property {string} [label] points
 * @property {string} [side] Compare: the image it was drawn on
 * @property {Record<string, {mean: number, sd: number, n: number}>} [stats] Compare: per image
 */

/** A point of the slice on screen in display coordinates (x = column, y = row, continuous). @typedef {{x: number, y: number}} DisplayXY */

/** @typedef {{mean: number, sd: number, n: number, area_mm2: number}} EllipseStats */

/**
 * Displayed point {x, y} of the slice on screen → array (frame, row, col), continuous,
 * pixel centres whole numbers (what measurements and answers store).
 * @param {Scene} scene
 * @param {DisplayXY} p
 */
export function displayToArray(scene, p) {
  return toArrayIndex(scene.layout, scene.slice, p.y - 0.5, p.x - 0.5);
}

/**
 * Full description of a measurement from p0 to p1, in display and array coordinates.
 * @param {Scene} scene
 * @param {string} kind
 * @param {DisplayXY} p0
 * @param {DisplayXY} p1
 * @param {string} imageLayer the layer an ellipse's statistics are taken on
 * @returns {Measurement}
 */
export function measure(scene, kind, p0, p1, imageLayer) {
  const layout = scene.layout;
  const points = [[p0.y, p0.x], [p1.y, p1.x]];
  /** @type {Measurement} */
  const m = { kind, plane: scene.plane, slice: scene.slice, points };
  // Array coordinates (pixel centres whole numbers) and patient mm of the end points.
  m.array = [p0, p1].map((p) => displayToArray(scene, p));
  if (scene.model.get("geometry_known")) m.patient_mm = m.array.map((a) => scene.toPatient(a));
  if (kind === "ruler") {
    const dy = (p1.y - p0.y) * layout.row_spacing;
    const dx = (p1.x - p0.x) * layout.col_spacing;
    m.length_mm = Math.hypot(dx, dy);
  } else if (kind === "ellipse") {
    Object.assign(m, ellipseStats(scene, p0, p1, imageLayer));
  }
  return m;
}

/**
 * Pixels whose centre lies inside the ellipse inscribed in the box p0–p1, of an image layer.
 * @param {Scene} scene
 * @param {DisplayXY} p0
 * @param {DisplayXY} p1
 * @param {string} layerName
 * @returns {EllipseStats}
 */
export function ellipseStats(scene, p0, p1, layerName) {
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

/**
 * The lines written beside a measurement.
 * @param {Measurement} m
 * @param {string} units the image's units ("" for none)
 * @returns {string[]}
 */
export function measurementText(m, units) {
  if (m.kind === "ruler") return [`${fixed(/** @type {number} */ (m.length_mm), 1)} mm`];
  if (m.kind === "ellipse") {
    return [
      `mean ${format(/** @type {number} */ (m.mean), 1)} SD ${format(/** @type {number} */ (m.sd), 1)}${units ? " " + units : ""}`,
      `area ${format(/** @type {number} */ (m.area_mm2), 1)} mm² (${m.n} px)`,
    ];
  }
  if (m.kind === "point" && m.label) return [m.label];
  return [];
}

/**
 * How a viewport shows its measurements (viewport.js): where a display point is on
 * screen, the text beside each, extra attributes of each one's SVG group
 * ({name: value}; className: more classes).
 * @typedef {object} MeasurementStyle
 * @property {(x: number, y: number) => number[]} toScreen
 * @property {(m: Measurement) => string[]} label
 * @property {(m: Measurement) => Record<string, unknown>} attributes
 */

/**
 * Replace the contents of `group` by the measurements of this plane and slice, each a
 * <g class="dt-measure dt-measure-KIND" data-index=i> (-1 for the one being drawn, last);
 * their labels kept apart and on the picture (labels.js), in the items' order: a label
 * gives way to those before it.
 * @param {SVGElement} group
 * @param {{m: Measurement, i: number}[]} items
 * @param {string} plane
 * @param {number} slice
 * @param {MeasurementStyle} style
 */
export function drawMeasurements(group, items, plane, slice, style) {
  while (group.firstChild) group.removeChild(group.firstChild);
  /** @type {Label[]} */
  const labels = [];
  for (const { m, i } of items) {
    if (m.plane !== plane || m.slice !== slice) continue;
    const g = svg("g", { class: `dt-measure dt-measure-${m.kind}`, "data-index": i });
    // Where the label starts, and the point of the measurement it is joined to if moved.
    /** @type {number[] | null} */
    let anchor = null;
    /** @type {number[]} */
    let origin = [];
    if (m.kind === "ruler") {
      const [a, b] = m.points.map(([y, x]) => style.toScreen(x, y));
      g.append(svg("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }));
      for (const p of [a, b]) g.append(svg("circle", { cx: p[0], cy: p[1], r: 3 }));
      anchor = [b[0] + 6, b[1] - 6];
      origin = b;
    } else if (m.kind === "ellipse") {
      const [[y0, x0], [y1, x1]] = m.points;
      const a = style.toScreen(Math.min(x0, x1), Math.min(y0, y1));
      const b = style.toScreen(Math.max(x0, x1), Math.max(y0, y1));
      g.append(svg("ellipse", {
        cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2,
        rx: Math.abs(b[0] - a[0]) / 2, ry: Math.abs(b[1] - a[1]) / 2,
      }));
      anchor = [b[0] + 6, a[1] + 12];
      origin = [b[0], (a[1] + b[1]) / 2];
    } else if (m.kind === "point") {
      const p = style.toScreen(m.points[0][1], m.points[0][0]);
      g.append(svg("circle", { cx: p[0], cy: p[1], r: 5, class: "dt-point" }));
      anchor = [p[0] + 8, p[1] + 4];
      origin = p;
    }
    if (anchor) {
      const at = anchor;
      const lines = style.label(m).map((line, k) => {
        const t = svg("text", { x: at[0], y: at[1] + LINE_HEIGHT * k });
        t.textContent = line;
        g.append(t);
        return t;
      });
      labels.push({ group: g, lines, origin });
    }
    for (const [name, value] of Object.entries(style.attributes(m))) {
      if (name === "className") {
        for (const c of String(value).split(/\s+/).filter(Boolean)) g.classList.add(c);
      } else if (value !== undefined && value !== null) g.setAttribute(name, String(value));
    }
    group.append(g);
  }
  // Measured once all are in the document (a layout, so only when there is text to
  // place); the picture's size is the SVG's.
  if (!labels.some((l) => l.lines.length)) return;
  const frame = group.getBoundingClientRect();
  placeLabels(labels, frame.width, frame.height);
}
