// What the mouse does on a viewport, as in OHIF and Cornerstone: wheel scrolls
// slices, ctrl-wheel or pinch zooms about the cursor, right-drag zooms, middle- or
// shift-drag pans, left-drag runs the scene's tool: W/L, pan, zoom, ruler, ellipse, or
// one of the widget's own tools (ViewportOptions.tools).

/** @import { Viewport, PointerPoint } from "./viewport.js" */

/**
 * A left-button tool a widget adds (options.tools[name], active when scene.tool is name):
 * down starts a drag (false: not on this point, no drag), move and up follow it, hover
 * runs while the mouse moves with no button down.
 * @typedef {object} Tool
 * @property {(event: PointerEvent, p: PointerPoint, vp: Viewport) => boolean | void} [down]
 * @property {(event: PointerEvent, p: PointerPoint, vp: Viewport) => void} [move]
 * @property {(event: PointerEvent, p: PointerPoint, vp: Viewport, cancelled: boolean) => void} [up]
 * @property {(event: PointerEvent, p: PointerPoint, vp: Viewport) => void} [hover]
 */

/**
 * A drag under way: the tool, where it started and the view it started from.
 * @typedef {object} Gesture
 * @property {string} kind "wl", "zoom", "pan", "ruler", "ellipse" or a widget tool's name
 * @property {number} x clientX at the start
 * @property {number} y clientY at the start
 * @property {PointerPoint} p0
 * @property {number} center
 * @property {number} width
 * @property {number} zoom
 * @property {number[]} pan
 * @property {{center: number, width: number}} [difference] Compare: the difference window at the start
 */

/**
 * Listen to the viewport's root: wheel, pointer buttons and moves, no context menu.
 * @param {Viewport} vp
 */
export function listen(vp) {
  const root = vp.root;
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
      const scene = vp.scene;
      if (event.ctrlKey) {
        // Touchpad pinch (and ctrl+wheel): zoom about the cursor.
        zoomAbout(vp, event, Math.exp(-event.deltaY / 200));
      } else if (event.deltaY !== 0) {
        scene.setSlice(scene.slice + Math.sign(event.deltaY));
      }
    },
    { passive: false },
  );
  root.addEventListener("pointerdown", (event) => vp.down(event));
  root.addEventListener("pointermove", (event) => vp.move(event));
  root.addEventListener("pointerup", (event) => vp.up(event));
  root.addEventListener("pointercancel", (event) => vp.up(event, true));
  root.addEventListener("pointerleave", () => vp.hover(null));
}

/**
 * Zoom by `factor` keeping the point under the cursor still.
 * @param {Viewport} vp
 * @param {MouseEvent} event
 * @param {number} factor
 */
function zoomAbout(vp, event, factor) {
  const scene = vp.scene;
  const box = vp.root.getBoundingClientRect();
  const W = box.width, H = box.height;
  const z = scene.zoom, z2 = Math.min(32, Math.max(0.25, z * factor));
  // Keep the point under the cursor still: screen = C + pan + z (q - C).
  const px = event.clientX - box.left - W / 2, py = event.clientY - box.top - H / 2;
  const panX = scene.pan[0] * W, panY = scene.pan[1] * H;
  const nx = px - (z2 / z) * (px - panX), ny = py - (z2 / z) * (py - panY);
  scene.setView(z2, [nx / W, ny / H]);
}

/**
 * The gesture a button starts: zoom (right), pan (middle, shift-left), else the tool.
 * @param {MouseEvent} event
 * @param {string} tool
 * @returns {string | null}
 */
function gestureFor(event, tool) {
  if (event.button === 2) return "zoom";
  if (event.button === 1 || (event.button === 0 && event.shiftKey)) return "pan";
  if (event.button === 0) return tool;
  return null;
}

/**
 * A button went down: start a gesture (unless a widget tool declines the point).
 * @param {Viewport} vp
 * @param {PointerEvent} event
 */
export function startGesture(vp, event) {
  const kind = gestureFor(event, vp.scene.tool);
  if (!kind) return;
  const scene = vp.scene;
  const p = vp.pointAt(event);
  const custom = vp.tools[kind];
  if (custom && custom.down) {
    if (custom.down(event, p, vp) === false) return;
  }
  /** @type {HTMLElement | null} */ (vp.root.closest(".dt-viewer"))?.focus({ preventScroll: true });
  vp.gesture = {
    kind, x: event.clientX, y: event.clientY, p0: p,
    center: scene.center, width: scene.width, zoom: scene.zoom, pan: scene.pan.slice(),
  };
  vp.root.setPointerCapture(event.pointerId);
  // The notebook must not see it: shift-click would extend its cell selection.
  event.preventDefault();
  event.stopPropagation();
}

/**
 * The mouse moved: the cursor, then the gesture under way or the tool's hover.
 * @param {Viewport} vp
 * @param {PointerEvent} event
 */
export function followGesture(vp, event) {
  const p = vp.pointAt(event);
  vp.hover(p);
  const g = vp.gesture;
  if (!g) {
    const hover = vp.tools[vp.scene.tool];
    if (hover && hover.hover) hover.hover(event, p, vp);
    return;
  }
  const scene = vp.scene;
  const dx = event.clientX - g.x, dy = event.clientY - g.y;
  if (g.kind === "wl") {
    // OHIF/Cornerstone habit: horizontal drag sets the width, vertical the center.
    const step = dragStep(vp);
    scene.setWindow(g.center + dy * step, g.width + dx * step, scene.fn, scene.voiTable);
  } else if (g.kind === "zoom") {
    const z2 = g.zoom * Math.exp(-dy / 150);
    scene.setView(z2, [g.pan[0] * z2 / g.zoom, g.pan[1] * z2 / g.zoom]);
  } else if (g.kind === "pan") {
    // Read here only: the cursor line was just written, and reading the layout after a
    // write makes the page lay itself out again at once, on every move of every drag.
    const box = vp.root.getBoundingClientRect();
    scene.setView(scene.zoom, [g.pan[0] + dx / box.width, g.pan[1] + dy / box.height]);
  } else if (g.kind === "ruler" || g.kind === "ellipse") {
    vp.draft = vp.measure(g.kind, g.p0, p);
    vp.drawAnnotations();
  } else {
    const tool = vp.tools[g.kind];
    if (tool && tool.move) tool.move(event, p, vp);
  }
}

/**
 * The button went up (or the pointer was taken away: cancelled): finish the gesture.
 * @param {Viewport} vp
 * @param {PointerEvent} event
 * @param {boolean} cancelled
 */
export function endGesture(vp, event, cancelled) {
  const g = vp.gesture;
  if (!g) return;
  vp.gesture = null;
  if (vp.root.hasPointerCapture(event.pointerId)) vp.root.releasePointerCapture(event.pointerId);
  const p = vp.pointAt(event);
  if (g.kind === "ruler" || g.kind === "ellipse") {
    vp.draft = null;
    const moved = Math.hypot(p.x - g.p0.x, p.y - g.p0.y) > 0.5;
    if (!cancelled && moved) vp.scene.addMeasurement(vp.measure(g.kind, g.p0, p));
    else vp.drawAnnotations();
  } else {
    const tool = vp.tools[g.kind];
    if (tool && tool.up) tool.up(event, p, vp, cancelled);
  }
}

/**
 * W/L sensitivity: the stored range over ~1000 screen pixels (kept once known).
 * @param {Viewport} vp
 * @returns {number} window units per screen pixel
 */
export function dragStep(vp) {
  if (vp.dragStepCache) return vp.dragStepCache;
  const layer = vp.scene.layers.get(vp.imageLayer);
  if (!layer || !layer.complete && layer.nLoaded === 0) return 1;
  const slopeMax = Math.max(...(layer.info.rescale_slope || [1]).map(Math.abs));
  const range = layer.info.stored_range;
  if (range) {
    vp.dragStepCache = Math.max(((range[1] - range[0]) * slopeMax) / 1000, 1e-6);
    return vp.dragStepCache;
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
  if (layer.complete) vp.dragStepCache = result;
  return result;
}
