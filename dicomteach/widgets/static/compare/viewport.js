// One picture of a Compare: the baseline viewport (every mode) or the follow-up one
// (side by side only). Draws the mode (core/viewport.js hooks: drawImageLayer,
// neededLayers, status, cursorText, measure…), the swipe divider and the cross where
// the cursor is on the other picture; measurements carry the side they were drawn on.

import { el } from "../core/dom.js";
import { format, fixed } from "../core/format.js";
import { drawImage } from "../core/draw.js";
import { Viewport } from "../core/viewport.js";
import { ellipseStats } from "../core/measurements.js";
import { dragStep } from "../core/gestures.js";
import { drawDifference, checkerAfter, composeCheckerboard } from "./pixels.js";

/** @import { Scene } from "../core/scene.js" */
/** @import { Layout } from "../core/geometry.js" */
/** @import { ViewportOptions, PointerPoint } from "../core/viewport.js" */
/** @import { Measurement, DisplayXY } from "../core/measurements.js" */
/** @import { Comparison } from "./state.js" */

/** The layer of each side. @type {Record<string, string>} */
const SIDE_LAYERS = { before: "image", after: "after" };

export class CompareViewport extends Viewport {
  /**
   * @param {Scene} scene
   * @param {Comparison} compare
   * @param {ViewportOptions & {side: "before" | "after"}} options
   */
  constructor(scene, compare, options) {
    super(scene, options);
    this.compare = compare;
    this.side = options.side;
    this.baseLayer = this.imageLayer;
    /** @type {Uint8ClampedArray | null} the follow-up's pixels, for the checkerboard */
    this.scratch = null;
    this.root.classList.add("dt-compare-viewport");
    this.root.dataset.side = this.side;
    // Swipe: the follow-up over the baseline, clipped right of the divider.
    this.afterCanvas = this.addCanvas("after", "dt-compare-after-canvas", { after: "image", windowed: true });
    this.divider = el("div", "dt-compare-divider");
    this.divider.hidden = true;
    this.divider.title = "Drag to move the divider (←/→ keys)";
    this.divider.append(
      el("div", "dt-compare-divider-line"),
      el("div", "dt-compare-divider-handle"),
      el("div", "dt-compare-divider-tag dt-compare-divider-left"),
      el("div", "dt-compare-divider-tag dt-compare-divider-right"),
    );
    this.marker = el("div", "dt-compare-marker");
    this.marker.hidden = true;
    this.root.append(this.divider, this.marker);
    this.listenDivider();
  }

  /** The mode this viewport shows: the follow-up one is always side by side. */
  get mode() {
    return this.side === "before" ? this.compare.mode : "side-by-side";
  }

  // ---- drawing

  /** @param {string[]} [which] */
  draw(which) {
    // The base constructor may draw before this one has run.
    if (!this.compare) return;
    const mode = this.mode;
    this.imageLayer = mode === "flicker" ? this.compare.flickerLayer : this.baseLayer;
    super.draw(which);
    if (this.stale) return;
    this.canvas.dataset.mode = mode;
    this.canvas.dataset.layer = this.imageLayer;
    this.updateSwipe();
  }

  /**
   * Checkerboard and difference mix both layers on the image canvas; swipe draws the
   * follow-up on its own canvas; side by side and flicker draw one layer (the core's).
   * @param {string} name
   * @param {Layout} layout
   * @param {number} s
   */
  drawImageLayer(name, layout, s) {
    const scene = this.scene;
    const mode = this.mode;
    const before = scene.layers.get("image");
    const after = scene.layers.get("after");
    if (name === "after") {
      if (mode !== "swipe" || !after) return false;
      drawImage(after, layout, s, this.imageView(after), this.pixels(name));
      return true;
    }
    if (name !== "image" || !before || !after || (mode !== "checkerboard" && mode !== "difference")) {
      return super.drawImageLayer(name, layout, s);
    }
    const out = this.pixels(name);
    const ds = this.canvas.dataset;
    if (mode === "checkerboard") {
      drawImage(before, layout, s, this.imageView(before), out);
      if (!this.scratch || this.scratch.length !== out.length) this.scratch = new Uint8ClampedArray(out.length);
      drawImage(after, layout, s, this.imageView(after), this.scratch);
      const size = this.compare.checkerMm;
      composeCheckerboard(out, this.scratch, layout, size);
      ds.checkerMm = String(size);
    } else {
      const view = { ...this.compare.differenceView(), invert: !!before.info.inverted };
      drawDifference(before, after, layout, s, view, out);
      ds.differenceCenter = String(view.center);
      ds.differenceWidth = String(view.width);
      ds.differenceStyle = view.absolute ? "absolute" : "signed";
    }
    return true;
  }

  /** Every mode but side by side shows both images in this viewport. */
  neededLayers() {
    return this.mode === "side-by-side" ? super.neededLayers() : ["image", "after"];
  }

  place() {
    super.place();
    if (this.compare && this.scene.layout) this.updateSwipe();
  }

  /** The divider at `swipe` of the viewport's width; the follow-up clipped to its right. */
  updateSwipe() {
    const on = this.mode === "swipe";
    this.divider.hidden = !on;
    if (!on) {
      this.afterCanvas.style.clipPath = "";
      delete this.canvas.dataset.swipeColumn;
      return;
    }
    const f = this.swipeFraction();
    this.afterCanvas.style.clipPath = `inset(0 0 0 ${(100 * f).toFixed(4)}%)`;
    this.divider.style.left = `${100 * this.compare.swipe}%`;
    this.canvas.dataset.swipeColumn = String(f * this.scene.layout.cols);
    const [l0, l1] = this.compare.labels;
    /** @type {HTMLElement} */ (this.divider.querySelector(".dt-compare-divider-left")).textContent = `◂ ${l0}`;
    /** @type {HTMLElement} */ (this.divider.querySelector(".dt-compare-divider-right")).textContent = `${l1} ▸`;
  }

  /** Where the divider crosses the image, as a fraction of the image's width. */
  swipeFraction() {
    const root = this.root.getBoundingClientRect();
    const rect = this.canvas.getBoundingClientRect();
    if (!rect.width) return this.compare.swipe;
    const x = root.left + this.compare.swipe * root.width;
    return Math.min(1, Math.max(0, (x - rect.left) / rect.width));
  }

  listenDivider() {
    const d = this.divider;
    let dragging = false;
    /** @param {PointerEvent} event */
    const moveTo = (event) => {
      const root = this.root.getBoundingClientRect();
      this.compare.setSwipe((event.clientX - root.left) / root.width);
    };
    d.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      dragging = true;
      this.compare.dragging = true;
      d.setPointerCapture(event.pointerId);
      /** @type {HTMLElement | null} */ (this.root.closest(".dt-viewer"))?.focus({ preventScroll: true });
      moveTo(event);
      event.preventDefault();
      event.stopPropagation();
    });
    d.addEventListener("pointermove", (event) => {
      if (dragging) moveTo(event);
    });
    /** @param {PointerEvent} event */
    const end = (event) => {
      if (!dragging) return;
      dragging = false;
      this.compare.dragging = false;
      if (d.hasPointerCapture(event.pointerId)) d.releasePointerCapture(event.pointerId);
      this.scene.scheduleSend();
      event.stopPropagation();
    };
    d.addEventListener("pointerup", end);
    d.addEventListener("pointercancel", end);
  }

  // ---- texts

  status() {
    super.status();
    if (!this.compare) return;
    const [l0, l1] = this.compare.labels;
    const mode = this.mode;
    /** @type {Record<string, string>} */
    const titles = {
      "side-by-side": this.side === "after" ? l1 : l0,
      flicker: this.imageLayer === "after" ? l1 : l0,
      swipe: `${l0} | ${l1}`,
      checkerboard: `${l0} / ${l1}`,
      difference: `${l1} − ${l0}`,
    };
    this.corners.tl.textContent = titles[mode];
    this.root.setAttribute("aria-label", titles[mode]);
    if (mode === "difference") {
      const view = this.compare.differenceView();
      const units = this.scene.model.get("units");
      this.corners.bl.textContent = `${view.absolute ? "|Δ|" : "Δ"} W ${format(view.width)} ` +
        `L ${format(view.center)}${units ? " " + units : ""}`;
    }
  }

  /** Both images' values under the cursor, and their difference. */
  cursorText() {
    const c = this.cursor;
    if (!c || !c.index || !this.compare) return "";
    const scene = this.scene;
    const units = scene.model.get("units");
    const u = units ? " " + units : "";
    const [l0, l1] = this.compare.labels;
    const b = /** @type {number | null} */ (scene.valueAt("image", c.index));
    const a = /** @type {number | null} */ (scene.valueAt("after", c.index));
    const parts = [];
    if (b !== null) parts.push(`${l0} ${format(b, 1)}${u}`);
    if (a !== null) parts.push(`${l1} ${format(a, 1)}${u}`);
    if (a !== null && b !== null) {
      const d = a - b;
      parts.push(`Δ ${d > 0 ? "+" : ""}${format(d, 1)}${u}`);
    }
    let text = parts.join(" · ");
    if (scene.model.get("geometry_known")) {
      const p = scene.toPatient(c.index);
      text += ` · (${p.map((x) => fixed(x, 1)).join(", ")}) mm`;
    }
    return text;
  }

  // ---- measurements: tagged with the side, ellipse statistics on both images

  /**
   * The image under display point p: what a measurement started there was drawn on.
   * @param {DisplayXY} p
   */
  sideAt(p) {
    const mode = this.mode;
    if (mode === "side-by-side") return this.side;
    if (mode === "flicker") return this.imageLayer === "after" ? "after" : "before";
    if (mode === "difference") return "difference";
    if (mode === "swipe") {
      return p.x < this.swipeFraction() * this.scene.layout.cols ? "before" : "after";
    }
    return checkerAfter(this.scene.layout, Math.floor(p.y), Math.floor(p.x), this.compare.checkerMm)
      ? "after" : "before";
  }

  /**
   * @param {string} kind
   * @param {DisplayXY} p0
   * @param {DisplayXY} p1
   * @returns {Measurement}
   */
  measure(kind, p0, p1) {
    const m = super.measure(kind, p0, p1);
    m.side = this.sideAt(p0);
    if (kind === "ellipse") {
      /** @type {NonNullable<Measurement["stats"]>} */
      const stats = {};
      for (const [side, layer] of Object.entries(SIDE_LAYERS)) {
        const st = ellipseStats(this.scene, p0, p1, layer);
        stats[side] = { mean: st.mean, sd: st.sd, n: st.n };
      }
      m.stats = stats;
      const own = stats[m.side === "after" ? "after" : "before"];
      Object.assign(m, own);
    }
    return m;
  }

  /** The side this viewport shows on its own, or null when it mixes both. */
  shownSide() {
    const mode = this.mode;
    if (mode === "side-by-side") return this.side;
    if (mode === "flicker") return this.imageLayer === "after" ? "after" : "before";
    return null;
  }

  /**
   * Drawn on the other image: dashed (compare.css), its ruler length not written again.
   * @param {Measurement} m
   */
  measurementAttributes(m) {
    if (!m.side || !this.compare) return {};
    const mine = this.shownSide();
    return { "data-side": m.side, className: mine && m.side !== mine ? "dt-compare-other" : "" };
  }

  /** @param {Measurement} m */
  measurementLabel(m) {
    if (!m.side || !this.compare) return super.measurementLabel(m);
    // Side by side, each picture speaks for its own image; the others show both images
    // in one picture (flicker in turn: its labels stay put rather than flash).
    const mine = this.mode === "side-by-side" ? this.side : null;
    /** @param {string} side */
    const name = (side) => this.compare.sideName(side);
    if (m.kind === "ruler") {
      // Its length is the same in mm on both sides: written once, where it was drawn,
      // so rulers across the same lesion on each side do not write over each other.
      return mine && m.side !== mine ? [] : [`${name(m.side)}: ${fixed(/** @type {number} */ (m.length_mm), 1)} mm`];
    }
    const stats = m.stats;
    if (m.kind === "ellipse" && stats) {
      const units = this.scene.model.get("units");
      const u = units ? " " + units : "";
      const lines = (mine ? [mine] : ["before", "after"]).map((side) => {
        const st = stats[side];
        return `${name(side)} mean ${format(st.mean, 1)} SD ${format(st.sd, 1)}${u}`;
      });
      lines.push(`area ${format(/** @type {number} */ (m.area_mm2), 1)} mm² (${m.n} px)`);
      return lines;
    }
    return super.measurementLabel(m);
  }

  // ---- difference window by left-drag in difference mode

  /** @param {PointerEvent} event */
  down(event) {
    super.down(event);
    const g = this.gesture;
    if (g && g.kind === "wl" && this.mode === "difference") {
      g.difference = { center: this.compare.differenceCenter, width: this.compare.differenceWidth };
      this.compare.dragging = true;
    }
  }

  /** @param {PointerEvent} event */
  move(event) {
    const g = this.gesture;
    if (g && g.difference) {
      const step = dragStep(this);
      const dx = event.clientX - g.x, dy = event.clientY - g.y;
      this.compare.setDifferenceWindow(g.difference.center + dy * step, g.difference.width + dx * step);
      return;
    }
    super.move(event);
  }

  /**
   * @param {PointerEvent} event
   * @param {boolean} [cancelled]
   */
  up(event, cancelled = false) {
    const g = this.gesture;
    super.up(event, cancelled);
    if (g && g.difference) {
      this.compare.dragging = false;
      this.scene.scheduleSend();
    }
  }

  /**
   * A small cross where the cursor is on the other viewport.
   * @param {PointerPoint | null} p
   */
  showMarker(p) {
    if (!p || this.hidden) {
      this.marker.hidden = true;
      return;
    }
    const [x, y] = this.toScreen(p.x, p.y);
    this.marker.style.left = `${x}px`;
    this.marker.style.top = `${y}px`;
    this.marker.hidden = false;
  }
}
