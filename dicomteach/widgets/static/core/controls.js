// The frame and the standard controls around a scene: labelled groups of buttons, the
// widget layout (tools beside the picture, above it when narrow: viewer.css), the
// slice slider, the readout and cursor lines, and the keys (arrows and pages for slices,
// r reset, +/- zoom, 1–9 window presets, a/c/s planes, space play, Delete, Escape).
// A widget adds its own groups and keys through the hooks below.

import { el, button, setText } from "./dom.js";
import { formatWindow } from "./format.js";

/** @import { Scene } from "./scene.js" */
/** @import { Preset } from "./traits" */
/** @import { Viewport } from "./viewport.js" */

/** A control group: its items go in `.items`. @typedef {HTMLDivElement & {items: HTMLDivElement}} ControlGroup */

/** A key hook: true when it used the key (then no one else sees it). @callback KeyHook @param {KeyboardEvent} event @returns {boolean | undefined} */

/**
 * @typedef {object} ControlsOptions
 * @property {Record<string, [string, string]>} [toolNames] tool → [button label, title]
 * @property {KeyHook} [onKeyFirst] before the standard keys (ctrl-keys included)
 * @property {KeyHook} [onKey] after them, for the keys they leave
 * @property {KeyHook} [onDelete] Delete/Backspace, before "remove the last measurement":
 *   true when it removed something
 * @property {() => void} [onReset] after the view is reset
 */

/**
 * What standardControls gives a widget to place (widgetLayout) and to call.
 * @typedef {object} Controls
 * @property {HTMLDivElement} toolbar the groups: tools, planes, window presets, view actions
 * @property {HTMLInputElement} slider
 * @property {HTMLDivElement} readout window, slice and position
 * @property {HTMLDivElement} cursorLine give it to the viewports (ViewportOptions.cursorLine)
 * @property {(vp: Viewport) => void} update call from the viewport's onStatus
 * @property {(force?: boolean) => void} togglePlay
 * @property {() => void} resetView
 * @property {() => void} destroy
 */

/**
 * A labelled group of controls (buttons, fields) for a tool column; hidden while empty.
 * @param {string} label
 * @param {(Node | string)[]} [items]
 * @param {string} [className]
 * @returns {ControlGroup}
 */
export function controlGroup(label, items = [], className = "") {
  const group = /** @type {ControlGroup} */ (el("div", `dt-viewer-group${className ? " " + className : ""}`));
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", label);
  const caption = el("div", "dt-group-label", label);
  caption.setAttribute("aria-hidden", "true");
  const body = el("div", "dt-group-items");
  body.append(...items);
  group.append(caption, body);
  group.items = body;
  group.hidden = !body.childElementCount;
  return group;
}

/**
 * The widget's frame: header rows, then the picture column (.dt-main) with the tool
 * column (.dt-side) to its right when the output is wide enough, above it when not
 * (viewer.css), then footer rows.
 * @param {HTMLElement} root
 * @param {{header?: Node[], main?: Node[], side?: Node[], footer?: Node[]}} parts
 */
export function widgetLayout(root, { header = [], main = [], side = [], footer = [] }) {
  const body = el("div", "dt-body");
  const sideBox = el("div", "dt-side");
  const mainBox = el("div", "dt-main");
  sideBox.append(...side);
  mainBox.append(...main);
  body.append(sideBox, mainBox);
  root.append(...header, body, ...footer);
  return { body, side: sideBox, main: mainBox };
}

/**
 * The standard tool groups, slider, readout and keys around one scene.
 * @param {Scene} scene
 * @param {HTMLElement} root the widget's element (keys are heard there)
 * @param {ControlsOptions} [options]
 * @returns {Controls}
 */
export function standardControls(scene, root, options = {}) {
  const model = scene.model;
  const toolbar = el("div", "dt-viewer-toolbar");
  /** @type {Record<string, [string, string]>} */
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
  /** @type {[Preset, HTMLButtonElement][]} */
  const presetButtons = [];
  presets.forEach((p, i) => {
    const title = p.voi_table !== undefined && p.voi_table !== null
      ? `${p.name} (VOI LUT table, key ${i + 1})`
      : `${formatWindow(/** @type {number} */ (p.center), /** @type {number} */ (p.width))} (key ${i + 1})`;
    const b = button(p.name, title, () => applyPreset(p));
    b.dataset.preset = p.name;
    presetButtons.push([p, b]);
    presetGroup.items.append(b);
  });

  const actions = controlGroup("View");
  /** @type {HTMLButtonElement | null} */
  let play = null;
  if (model.get("fps") > 0) {
    play = button("Play", "Play / pause the frames (space)", () => togglePlay());
    play.dataset.action = "play";
    actions.items.append(play);
  }
  const undoMeasure = button("Remove last", "Remove the last measurement (Delete)", () => {
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

  const slider = el("input", "dt-viewer-slider");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.title = "Slice (wheel or ↑/↓)";
  slider.setAttribute("aria-label", "Slice");
  slider.addEventListener("input", () => scene.setSlice(Number(slider.value)));

  const readout = el("div", "dt-viewer-readout");
  readout.setAttribute("aria-live", "polite");
  const cursorLine = el("div", "dt-viewer-cursor");

  /** @param {Preset} p */
  function applyPreset(p) {
    if (p.voi_table !== undefined && p.voi_table !== null) {
      scene.setWindow(scene.center, scene.width, scene.fn, p.voi_table);
    } else scene.setWindow(/** @type {number} */ (p.center), /** @type {number} */ (p.width), /** @type {string} */ (p.function), null);
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
  /** @param {KeyboardEvent} event */
  function deleteLast(event) {
    if (options.onDelete && options.onDelete(event)) return true;
    if (!scene.measurements.length) return false;
    undoMeasure.click();
    return true;
  }

  /** @type {ReturnType<typeof setInterval> | null} */
  let timer = null;
  /** @param {boolean} [force] playing or not; toggles when absent */
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

  /** @param {KeyboardEvent} event */
  const onKeyDown = (event) => {
    const target = /** @type {Element} */ (event.target);
    if (target === slider && event.key.startsWith("Arrow")) return;
    // Typing in a widget's own fields (brush size, HU range…) is not a shortcut, and stays
    // there: the notebook would take Enter, and the field would not see its change.
    if (target.matches?.("input:not([type=range]), textarea, select")) {
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

  /** @param {Viewport} vp */
  function update(vp) {
    // Called at every redraw (each step of a drag): only what changed is written, so
    // the page restyles and lays out no more than the texts that move.
    const layout = scene.layout;
    const max = String(layout.n_slices - 1), value = String(scene.slice);
    if (slider.max !== max) slider.max = max;
    if (slider.value !== value) slider.value = value;
    const single = layout.n_slices < 2; // one image: nothing to scroll
    if (slider.disabled !== single) slider.disabled = single;
    if (slider.hidden !== single) slider.hidden = single;
    const t = vp.text;
    setText(readout, [t.windowText, t.slice].filter(Boolean).join(" · ") + t.where);
    for (const [name, b] of toolButtons) press(b, name === scene.tool);
    for (const [name, b] of planeButtons) press(b, name === scene.plane);
    for (const [p, b] of presetButtons) press(b, showing(p));
  }

  /**
   * @param {HTMLElement} b
   * @param {boolean} pressed
   */
  function press(b, pressed) {
    const value = String(pressed);
    if (b.getAttribute("aria-pressed") !== value) b.setAttribute("aria-pressed", value);
  }

  /**
   * The preset on screen now: its VOI LUT table, or its window and function exactly.
   * @param {Preset} p
   */
  function showing(p) {
    if (p.voi_table !== undefined && p.voi_table !== null) return scene.voiTable === p.voi_table;
    return (scene.voiTable === null || scene.voiTable === undefined)
      && scene.center === p.center && scene.width === p.width
      && scene.fn === (p.function || "LINEAR");
  }

  function destroy() {
    togglePlay(false);
    root.removeEventListener("keydown", onKeyDown);
  }

  return { toolbar, slider, readout, cursorLine, update, togglePlay, resetView, destroy };
}
