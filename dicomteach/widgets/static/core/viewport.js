// One picture of a scene: stacked canvases (the image, then overlays "fused" and
// "labels", and any a widget adds with addCanvas) under an SVG of measurements, with
// orientation letters, corner texts and a message; mouse and wheel gestures
// (gestures.js). A widget changes what it shows through the options and the hooks
// below, by subclassing (Compare, Delineator) or passing options (Viewer, questions).

import { el, svg, setText } from "./dom.js";
import { drawImage, drawLabels, fusedView, labelColors, imageData, paint } from "./draw.js";
import { toArrayIndex, fromArrayIndex } from "./geometry.js";
import { measure, measurementText, drawMeasurements, displayToArray } from "./measurements.js";
import { listen, startGesture, followGesture, endGesture } from "./gestures.js";
import { writeStatus, cursorText } from "./readout.js";

/** @import { Scene } from "./scene.js" */
/** @import { Layer } from "./layers.js" */
/** @import { Layout, ArrayIndex } from "./geometry.js" */
/** @import { ImageView, LabelStyle, LayerCanvas } from "./draw.js" */
/** @import { Measurement, DisplayXY } from "./measurements.js" */
/** @import { Gesture, Tool } from "./gestures.js" */
/** @import { StatusTexts } from "./readout.js" */

/**
 * The point under the mouse (Viewport.pointAt): display coordinates x = column,
 * y = row (continuous; pixel (r, c) covers [c, c+1) × [r, r+1)), the pixel, and its
 * array index when it is on the image.
 * @typedef {object} PointerPoint
 * @property {number} x
 * @property {number} y
 * @property {number} row
 * @property {number} col
 * @property {boolean} inside
 * @property {ArrayIndex | null} index
 */

/** @callback ViewportHook @param {Viewport} vp @returns {void} */

/**
 * Draws a canvas added with addCanvas: slice s of the layout into its RGBA pixels.
 * @callback CanvasDraw
 * @param {Layout} layout
 * @param {number} s
 * @param {Uint8ClampedArray} out rows × cols × 4
 * @returns {boolean} false: nothing to show (the canvas is hidden)
 */

/**
 * @typedef {object} ViewportOptions
 * @property {string} [imageLayer] the layer of the "image" canvas ("image")
 * @property {boolean} [showFused] draw the "fused" layer (PET on CT…)
 * @property {boolean} [showLabels] draw the "labels" layer (default true)
 * @property {HTMLElement} [cursorLine] where the value under the mouse is written
 * @property {Record<string, Tool>} [tools] the widget's own left-button tools
 * @property {ViewportHook} [onStatus] after the texts changed (vp.text is new)
 * @property {ViewportHook} [onAnnotations] after the measurements' SVG was redrawn
 * @property {ViewportHook} [onCursor] after the mouse moved over it or left it
 */

export class Viewport {
  /**
   * @param {Scene} scene
   * @param {ViewportOptions} [options]
   */
  constructor(scene, options = {}) {
    this.scene = scene;
    this.options = options;
    this.imageLayer = options.imageLayer || "image";
    this.root = el("div", "dt-viewport");
    this.root.setAttribute("role", "img");
    this.layersBox = el("div", "dt-layers");
    /** @type {LayerCanvas} */
    this.canvas = el("canvas", "dt-viewer-canvas");
    /** @type {Map<string, LayerCanvas>} */
    this.canvases = new Map([["image", this.canvas]]);
    /** Canvases a widget draws itself (addCanvas's `draw`). @type {Map<string, CanvasDraw>} */
    this.canvasDraws = new Map();
    this.windowed = new Set(["image"]);
    this.layersBox.append(this.canvas);
    this.fusedCanvas = this.addCanvas("fused", "dt-viewer-fused");
    this.labelCanvas = this.addCanvas("labels", "dt-viewer-overlay");
    this.svg = svg("svg", { class: "dt-viewer-annotations" });
    /** @type {Record<string, HTMLDivElement>} */
    this.letters = {};
    for (const side of ["top", "bottom", "left", "right"]) {
      this.letters[side] = el("div", `dt-letter dt-letter-${side}`);
    }
    this.corners = {
      tl: el("div", "dt-corner dt-corner-tl"), tr: el("div", "dt-corner dt-corner-tr"),
      bl: el("div", "dt-corner dt-corner-bl"), br: el("div", "dt-corner dt-corner-br"),
    };
    this.message = el("div", "dt-viewer-message");
    this.root.append(this.layersBox, this.svg, ...Object.values(this.letters),
      ...Object.values(this.corners), this.message);
    /** The point under the mouse while it is over the image, else null. @type {PointerPoint | null} */
    this.cursor = null;
    /** True while the mouse is over this viewport. */
    this.hovered = false;
    /** Hidden when last asked to draw: drawn when shown (place). */
    this.stale = false;
    /** @type {Gesture | null} */
    this.gesture = null;
    /** The measurement being drawn. @type {Measurement | null} */
    this.draft = null;
    /** The texts of the last status(). @type {StatusTexts} */
    this.text = { windowText: "", slice: "", where: "" };
    /** @type {number | null} W/L drag step, once known (gestures.js dragStep) */
    this.dragStepCache = null;
    this.tools = options.tools || {};
    listen(this);
    this.resizer = new ResizeObserver(() => this.place());
    this.resizer.observe(this.root);
    scene.viewports.push(this);
  }

  /**
   * A canvas stacked over the image (after the canvas named `after`, else on top),
   * drawn by drawImageLayer(name), or by `draw` when given; `windowed`: redrawn when
   * the window changes.
   * @param {string} name
   * @param {string} className
   * @param {{after?: string | null, windowed?: boolean, draw?: CanvasDraw}} [where]
   * @returns {LayerCanvas}
   */
  addCanvas(name, className, { after = null, windowed = false, draw } = {}) {
    if (draw) this.canvasDraws.set(name, draw);
    const canvas = el("canvas", className);
    canvas.hidden = true;
    const below = after && this.canvases.get(after);
    if (below) below.after(canvas);
    else this.layersBox.append(canvas);
    this.canvases.set(name, canvas);
    if (windowed) this.windowed.add(name);
    return canvas;
  }

  /** Inside an element hidden by the widget (e.g. Compare's second pane): not drawn until shown. */
  get hidden() {
    return !!this.root.closest("[hidden]");
  }

  // ---- layout on screen

  /** Fit the image to the viewport with its true aspect, then zoom and pan it. */
  place() {
    const layout = this.scene.layout;
    // Lab may lay a widget out (render, ResizeObserver) before its series has arrived:
    // nothing to place yet; draw() places it once the layout is known.
    if (!layout) return;
    const mmW = layout.cols * layout.col_spacing;
    const mmH = layout.rows * layout.row_spacing;
    this.root.style.aspectRatio = `${mmW} / ${mmH}`;
    // The image keeps its aspect when its height is the limit, and the picture column is
    // no wider than the image (viewer.css: --dt-image-height, --dt-aspect).
    /** @type {HTMLElement} */ (this.root.closest(".dt-viewer") || this.root).style.setProperty("--dt-aspect", String(mmW / mmH));
    if (this.stale && !this.hidden) this.draw();
    const W = this.root.clientWidth, H = this.root.clientHeight;
    if (!W || !H) return;
    const fit = Math.min(W / mmW, H / mmH);
    const w = mmW * fit, h = mmH * fit;
    const box = this.layersBox.style;
    box.left = `${(W - w) / 2}px`;
    box.top = `${(H - h) / 2}px`;
    box.width = `${w}px`;
    box.height = `${h}px`;
    const [px, py] = this.scene.pan;
    box.transform = `translate(${px * W}px, ${py * H}px) scale(${this.scene.zoom})`;
    this.drawAnnotations();
  }

  // ---- drawing

  /**
   * The RGBA pixels of canvas `name` for the plane on screen: where drawImageLayer draws.
   * @param {string} name
   */
  pixels(name) {
    return imageData(/** @type {LayerCanvas} */ (this.canvases.get(name)), this.scene.layout).data;
  }

  /**
   * Redraw the canvases named in `which` ("image" also redraws the windowed ones), or all.
   * @param {string[]} [which]
   */
  draw(which) {
    if (this.hidden) {
      this.stale = true;
      return;
    }
    const scene = this.scene;
    const layout = scene.layout;
    if (!layout) {
      this.stale = true; // drawn when the series' layout arrives
      return;
    }
    if (!which) this.stale = false;
    const s = scene.slice;
    const sizeChanged = this.canvas.width !== layout.cols || this.canvas.height !== layout.rows;
    const names = which && which.includes("image") ? [...which, ...this.windowed] : which;
    imageData(this.canvas, layout);
    for (const [name, canvas] of this.canvases) {
      if (names && !names.includes(name)) continue;
      const shown = !!this.drawImageLayer(name, layout, s);
      if (shown) paint(canvas);
      if (canvas === this.canvas) continue;
      canvas.hidden = !shown;
      canvas.dataset.plane = scene.plane;
      canvas.dataset.slice = String(s);
      canvas.dataset.loaded = scene.loadedFor(name) ? "1" : "0";
    }
    const layer = scene.layers.get(this.imageLayer);
    const ds = this.canvas.dataset;
    ds.frame = String(scene.position[0]);
    ds.slice = String(s);
    ds.plane = scene.plane;
    ds.center = String(scene.center);
    ds.width = String(scene.width);
    ds.loaded = String(layer ? layer.nLoaded : 0);
    const needed = this.neededLayers();
    ds.rendered = needed.every((n) => scene.layers.has(n) && scene.loadedFor(n)) ? "1" : "0";
    if (sizeChanged) this.place();
    this.drawLetters();
    this.drawAnnotations();
    this.status();
  }

  /**
   * Hook: draw canvas `name` for slice s into pixels(name).
   * @param {string} name
   * @param {Layout} layout
   * @param {number} s
   * @returns {boolean} false: nothing to show (the canvas is hidden)
   */
  drawImageLayer(name, layout, s) {
    const scene = this.scene;
    const model = scene.model;
    if (name === "image") {
      const layer = scene.layers.get(this.imageLayer);
      if (!layer) return false;
      drawImage(layer, layout, s, this.imageView(layer), this.pixels(name));
      return true;
    }
    if (name === "fused") {
      const fused = scene.layers.get("fused");
      if (!fused || !this.options.showFused) return false;
      drawImage(fused, layout, s, fusedView(fused.info), this.pixels(name));
      /** @type {LayerCanvas} */ (this.canvases.get(name)).style.opacity = String(fused.info.opacity ?? 0.5);
      return true;
    }
    if (name === "labels") {
      const labels = scene.layers.get("labels");
      if (!labels || this.options.showLabels === false || !model.get("overlay_visible")) return false;
      drawLabels(labels, layout, s, labelColors(this.labelInfo()), model.get("overlay_opacity"),
        model.get("overlay_mode"), this.pixels(name));
      return true;
    }
    const own = this.canvasDraws.get(name);
    return own ? own(layout, s, this.pixels(name)) : false;
  }

  /**
   * Hook: the layers the picture is made of now; data-rendered="1" once all are loaded.
   * @returns {string[]}
   */
  neededLayers() {
    const names = [this.imageLayer];
    for (const [name, canvas] of this.canvases) {
      if (canvas !== this.canvas && !canvas.hidden && this.scene.layers.has(name)) names.push(name);
    }
    return names;
  }

  /**
   * Hook: value, colour and visibility of each label value of the "labels" layer.
   * @returns {LabelStyle[]}
   */
  labelInfo() {
    return this.scene.model.get("label_info");
  }

  /**
   * The scene's window as an image layer is drawn with it.
   * @param {Layer} layer
   * @returns {ImageView}
   */
  imageView(layer) {
    const scene = this.scene;
    const table = scene.voiTable !== null && scene.voiTable !== undefined
      ? (layer.info.voi_luts || [])[scene.voiTable] || null : null;
    return {
      center: scene.center, width: scene.width, fn: scene.fn, table, tableIndex: table ? scene.voiTable : null,
      invert: !!layer.info.inverted, colormap: layer.info.colormap_table || null,
      alphaZero: false,
    };
  }

  drawLetters() {
    const letters = this.scene.layout.letters || {};
    for (const side of /** @type {const} */ (["top", "bottom", "left", "right"])) {
      setText(this.letters[side], letters[side] || "");
    }
  }

  /** Hook: the texts under and on the image (readout.js), then options.onStatus. */
  status() {
    writeStatus(this);
    if (this.options.onStatus) this.options.onStatus(this);
  }

  /**
   * Hook: the text of the cursor line for the point under the mouse.
   * @returns {string}
   */
  cursorText() {
    const c = this.cursor;
    const layout = this.scene.layout;
    if (!c || !layout || c.row >= layout.rows || c.col >= layout.cols) return "";
    // The slice may have changed under a still mouse (wheel, keys, cine): read the
    // value on the slice on screen now, not on the one the mouse last moved over.
    c.index = toArrayIndex(layout, this.scene.slice, c.row, c.col);
    return cursorText(this.scene, c, this.imageLayer, !!this.options.showFused);
  }

  // ---- coordinates

  /**
   * Event → displayed image coordinates and the array index under it.
   * @param {{clientX: number, clientY: number}} event
   * @returns {PointerPoint}
   */
  pointAt(event) {
    const layout = this.scene.layout;
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * layout.cols;
    const y = ((event.clientY - rect.top) / rect.height) * layout.rows;
    const col = Math.floor(x), row = Math.floor(y);
    const inside = col >= 0 && row >= 0 && col < layout.cols && row < layout.rows;
    const index = inside ? toArrayIndex(layout, this.scene.slice, row, col) : null;
    return { x, y, row, col, inside, index };
  }

  /**
   * Displayed point {x, y} of the slice on screen → array (frame, row, col), continuous,
   * pixel centres whole numbers (what measurements and answers store).
   * @param {DisplayXY} p
   */
  toArray(p) {
    return displayToArray(this.scene, p);
  }

  /**
   * Array (frame, row, col) → the plane's slice through it (continuous) and the
   * displayed point, as pointAt gives it.
   * @param {ArrayIndex} a
   * @returns {{slice: number, x: number, y: number}}
   */
  fromArray(a) {
    const [s, r, c] = fromArrayIndex(this.scene.layout, a);
    return { slice: s, x: c + 0.5, y: r + 0.5 };
  }

  /**
   * Displayed image coordinates → viewport pixels (for the SVG).
   * @param {number} x
   * @param {number} y
   * @returns {number[]}
   */
  toScreen(x, y) {
    const layout = this.scene.layout;
    const rect = this.canvas.getBoundingClientRect();
    const root = this.root.getBoundingClientRect();
    return [
      rect.left - root.left + (x / layout.cols) * rect.width,
      rect.top - root.top + (y / layout.rows) * rect.height,
    ];
  }

  // ---- measurements (measurements.js) drawn in the SVG

  drawAnnotations() {
    const items = this.scene.measurements.map((m, i) => ({ m, i }));
    if (this.draft) items.push({ m: this.draft, i: -1 });
    drawMeasurements(this.svg, items, this.scene.plane, this.scene.slice, {
      toScreen: (x, y) => this.toScreen(x, y),
      label: (m) => this.measurementLabel(m),
      attributes: (m) => this.measurementAttributes(m),
    });
    if (this.options.onAnnotations) this.options.onAnnotations(this);
  }

  /**
   * Hook: the lines written beside a measurement.
   * @param {Measurement} m
   * @returns {string[]}
   */
  measurementLabel(m) {
    return measurementText(m, this.scene.model.get("units"));
  }

  /**
   * Hook: extra attributes of a measurement's SVG group: {name: value, className: "more classes"}.
   * @param {Measurement} _m
   * @returns {Record<string, unknown>}
   */
  measurementAttributes(_m) {
    return {};
  }

  /**
   * Hook: a finished (or being drawn) measurement from p0 to p1.
   * @param {string} kind
   * @param {DisplayXY} p0
   * @param {DisplayXY} p1
   * @returns {Measurement}
   */
  measure(kind, p0, p1) {
    return measure(this.scene, kind, p0, p1, this.imageLayer);
  }

  // ---- input (gestures.js)

  /** Hook: scene.tool changed. */
  toolChanged() {
    this.root.dataset.tool = this.scene.tool;
  }

  /**
   * The mouse moved over the viewport, or left it (p null): cursor, cursor line, onCursor.
   * @param {PointerPoint | null} p
   */
  hover(p) {
    this.hovered = !!p;
    this.cursor = p && p.inside ? p : null;
    if (this.options.cursorLine) setText(this.options.cursorLine, this.cursorText());
    if (this.options.onCursor) this.options.onCursor(this);
  }

  /**
   * Hook: a button went down on the viewport: start a gesture.
   * @param {PointerEvent} event
   */
  down(event) {
    startGesture(this, event);
  }

  /**
   * Hook: the mouse moved over the viewport, a button down or not.
   * @param {PointerEvent} event
   */
  move(event) {
    followGesture(this, event);
  }

  /**
   * Hook: the button went up, or the browser took the pointer away (cancelled).
   * @param {PointerEvent} event
   * @param {boolean} [cancelled]
   */
  up(event, cancelled = false) {
    endGesture(this, event, cancelled);
  }

  destroy() {
    this.resizer.disconnect();
  }
}
