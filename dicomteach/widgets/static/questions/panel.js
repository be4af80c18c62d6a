// What a Hotspot or LabelDrop shows of the answer: the markers on the image, the list
// of markers (Hotspot), and the status line (how many placed, the hint, saved or not).

import { el, button, svg } from "../core/dom.js";
import { fixed } from "../core/format.js";

/** @import { Answering } from "./answering.js" */
/** @import { Viewport } from "../core/viewport.js" */

/** No word from the kernel this long (ms) after a change: say so. */
export const SAVE_WAIT_MS = 5000;

/**
 * A CSS colour.
 * @param {number[]} c [r, g, b]
 */
export function rgb(c) {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/**
 * The learner's markers (and a dragged chip's preview) on a viewport's SVG; called by
 * the viewport after it redraws its measurements (ViewportOptions.onAnnotations).
 * @param {Answering} a
 * @param {Viewport} vp
 */
export function drawMarkers(a, vp) {
  drawOtherReader(a, vp);
  const group = svg("g", { class: "dt-q-markers" });
  const reach = reachOnScreen(vp, a.model.get("radius_mm") || 0);
  a.marks.forEach((m, i) => {
    const g = a.drag && a.drag.index === i ? a.drag : null;
    let d = a.toDisplay(m.image);
    const leaving = !!(g && g.outside && a.kind === "labels");
    if (leaving) d = { slice: a.scene.slice, x: g.x, y: g.y };
    if (Math.round(d.slice) !== a.scene.slice) return;
    const text = a.kind === "labels" ? m.label : a.maxPoints() > 1 ? String(i + 1) : "";
    const node = marker(vp, d.x, d.y, text, a.colorOf(m.label), reach);
    node.setAttribute("data-index", String(i));
    node.setAttribute("data-label", m.label);
    node.setAttribute("data-image", JSON.stringify(m.image));
    if (i === a.selected) node.classList.add("dt-q-selected");
    if (leaving) node.classList.add("dt-q-leaving");
    group.append(node);
  });
  if (a.preview) {
    const p = a.preview;
    const node = marker(vp, p.x, p.y, p.label, a.colorOf(p.label));
    node.classList.add("dt-q-preview");
    group.append(node);
  }
  vp.svg.append(group);
}

/** The colour of another reader's marks (a second reader's): apart from the learner's. */
export const OTHER_READER_COLOR = [0, 229, 255];

/**
 * Another reader's marks (Hotspot's `ai_marks`: an AI second reader's candidates), under
 * the learner's own: a dashed square round each on the slices it covers, with its text.
 * @param {Answering} a
 * @param {Viewport} vp
 */
function drawOtherReader(a, vp) {
  const marks = a.model.get("ai_marks") || [];
  if (!marks.length) return;
  const group = svg("g", { class: "dt-q-other" });
  const stroke = rgb(OTHER_READER_COLOR);
  for (const m of marks) {
    const box = m.box || [[m.image[0], m.image[0]], [m.image[1], m.image[1]], [m.image[2], m.image[2]]];
    // the slices of the plane on screen the mark's box covers
    const slices = [];
    for (const f of box[0]) for (const r of box[1]) for (const c of box[2]) slices.push(a.toDisplay([f, r, c]).slice);
    const shown = a.scene.slice;
    if (shown < Math.round(Math.min(...slices)) || shown > Math.round(Math.max(...slices))) continue;
    const d = a.toDisplay(m.image);
    const [sx, sy] = vp.toScreen(d.x, d.y);
    const half = Math.max(10, reachOnScreen(vp, m.radius_mm || 0) + 4);
    const g = svg("g", { class: "dt-q-other-mark" });
    g.setAttribute("data-image", JSON.stringify(m.image));
    g.append(
      svg("rect", { class: "dt-q-other-halo", x: sx - half, y: sy - half, width: 2 * half, height: 2 * half }),
      svg("rect", { class: "dt-q-other-box", x: sx - half, y: sy - half, width: 2 * half, height: 2 * half, style: `stroke: ${stroke}` }),
    );
    if (m.text) {
      const t = svg("text", { x: sx - half, y: sy - half - 4, style: `fill: ${stroke}` });
      t.textContent = m.text;
      g.append(t);
    }
    group.append(g);
  }
  vp.svg.append(group);
}

/**
 * A radius in mm as viewport pixels: the image is drawn with its true aspect, so one
 * scale holds across and down.
 * @param {Viewport} vp
 * @param {number} mm
 */
function reachOnScreen(vp, mm) {
  const layout = vp.scene.layout;
  if (!(mm > 0) || !layout) return 0;
  const width = vp.canvas.getBoundingClientRect().width;
  return (mm * width) / (layout.cols * layout.col_spacing);
}

/**
 * One marker: a ring with a dot, and its text beside it; with a reach (pixels), a dashed
 * circle of that radius too.
 * @param {Viewport} vp
 * @param {number} x display coordinates
 * @param {number} y
 * @param {string} text
 * @param {number[]} color
 * @param {number} [reach]
 */
function marker(vp, x, y, text, color, reach = 0) {
  const [sx, sy] = vp.toScreen(x, y);
  const g = svg("g", { class: "dt-q-marker" });
  const stroke = rgb(color);
  if (reach > 0) {
    g.append(svg("circle", { class: "dt-q-reach", cx: sx, cy: sy, r: reach, style: `stroke: ${stroke}` }));
  }
  g.append(
    svg("circle", { class: "dt-q-halo", cx: sx, cy: sy, r: 8 }),
    svg("circle", { class: "dt-q-ring", cx: sx, cy: sy, r: 8, style: `stroke: ${stroke}` }),
    svg("circle", { class: "dt-q-dot", cx: sx, cy: sy, r: 1.5, style: `fill: ${stroke}` }),
  );
  if (text) {
    const t = svg("text", { x: sx + 12, y: sy + 4, style: `fill: ${stroke}` });
    t.textContent = text;
    g.append(t);
  }
  return g;
}

/**
 * The text over the image saying what a click does: "Click to start" while the widget
 * does not have the keys (a click then only gives them to it), how to answer once it
 * has them and nothing is placed yet; nothing once there is an answer to look at.
 * LabelDrop answers by dragging chips, which needs no start: it says so only when a
 * chosen chip waits for a click.
 * @param {Answering} a
 */
export function showStart(a) {
  const active = a.active();
  let text = "";
  if (a.kind === "hotspot") {
    if (!active) text = a.marks.length ? "Click to change your answer" : "Click to start answering";
    else if (!a.marks.length) text = "Click on the image to answer, or press Enter";
  } else if (a.armed && !active) {
    text = `Click to start, then click to place “${a.armed}”`;
  }
  a.startEl.textContent = text;
  a.startEl.hidden = !text;
  a.root.dataset.active = active ? "1" : "0";
}

/**
 * Where a marker is, in words: its slice and patient mm (or row and column).
 * @param {Answering} a
 * @param {number[]} image array index
 */
function where(a, image) {
  const slice = `slice ${Math.round(image[0]) + 1}`;
  if (!a.model.get("geometry_known")) {
    return `${slice} · row ${fixed(image[1], 1)}, column ${fixed(image[2], 1)}`;
  }
  const p = a.scene.toPatient(image);
  return `${slice} · (${p.map((v) => fixed(v, 1)).join(", ")}) mm`;
}

/**
 * Hotspot's list of markers, each with Select and Remove.
 * @param {Answering} a
 */
export function showList(a) {
  const list = a.listEl;
  while (list.firstChild) list.removeChild(list.firstChild);
  const single = a.maxPoints() === 1;
  a.marks.forEach((m, i) => {
    const item = el("li", "dt-q-item");
    item.dataset.index = String(i);
    const name = single ? "Your marker" : `Marker ${i + 1}`;
    const show = button(`${name} · ${where(a, m.image)}`, `Select ${name.toLowerCase()} and show its slice`,
      () => {
        a.select(i);
        a.root.focus({ preventScroll: true });
      });
    show.classList.add("dt-q-show");
    show.setAttribute("aria-pressed", String(i === a.selected));
    const remove = button("Remove", `Remove ${name.toLowerCase()}`, () => {
      a.remove(i);
      a.root.focus({ preventScroll: true }); // the list is redrawn: keep the keys in the widget
    });
    remove.classList.add("dt-q-remove");
    remove.dataset.action = "remove";
    item.append(show, remove);
    list.append(item);
  });
}

/**
 * How many markers are placed, the hint, and whether the kernel saved them.
 * @param {Answering} a
 */
export function showStatus(a) {
  const n = a.marks.length;
  if (a.kind === "labels") {
    const names = a.model.get("choices").map((c) => c.name);
    const placed = names.filter((name) => a.count(name) > 0).length;
    a.countEl.textContent = `${placed} of ${names.length} label${names.length === 1 ? "" : "s"} placed.`;
  } else {
    const max = a.maxPoints();
    a.countEl.textContent = max === 1
      ? n ? "Marker placed." : "No marker yet: click where the finding is."
      : `${n} of ${max} markers placed.`;
  }
  a.hintEl.textContent = a.hint ? ` ${a.hint}` : "";
  const state = a.model.get("save_state") || {};
  let saved = state.error || state.message || "";
  let error = !!state.error;
  if (a.pendingSince) {
    const waited = performance.now() - a.pendingSince;
    saved = waited > SAVE_WAIT_MS
      ? "Not saved yet: the kernel does not answer (is it running?)."
      : "Saving…";
    error = waited > SAVE_WAIT_MS;
  }
  a.savedEl.textContent = saved;
  a.savedEl.classList.toggle("dt-q-error", error);
  a.root.dataset.marks = String(n);
  a.root.dataset.saves = String(state.n || 0);
}
