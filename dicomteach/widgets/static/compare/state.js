// The state of one view of a Compare (mode, divider, flicker, checkerboard, difference
// window) shared by its two viewports and kept in step with the model through the
// scene (Scene.track): what compare/viewport.js draws and compare.js's controls change.

/** @import { Scene } from "../core/scene.js" */
/** @import { AnyModel } from "../anywidget" */
/** @import { ImageState } from "../core/traits" */
/** @import { CompareViewport } from "./viewport.js" */
/** @import { Viewport } from "../core/viewport.js" */
/** @import { DifferenceView } from "./pixels.js" */

/**
 * Compare's own synced traits (widgets/compare.py).
 * @typedef {ImageState & {
 *   mode: string,
 *   series_labels: string[],
 *   alignment: string,
 *   swipe: number,
 *   flicker_rate: number,
 *   flicker_playing: boolean,
 *   checker_mm: number,
 *   difference_center: number,
 *   difference_width: number,
 *   difference_style: string,
 *   difference_table: number[],
 * }} CompareState
 */

export class Comparison {
  /**
   * @param {Scene} scene
   * @param {AnyModel<CompareState>} model
   * @param {() => void} onChange the controls' texts need refreshing
   */
  constructor(scene, model, onChange) {
    this.scene = scene;
    this.model = model;
    this.onChange = onChange;
    this.mode = model.get("mode");
    /** The layer flicker shows now: "image" (baseline) or "after". */
    this.flickerLayer = "image";
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    // The divider or the difference window under the mouse: sent when the drag ends.
    this.dragging = false;
    /** @type {CompareViewport[]} */
    this.viewports = [];
    this.initialDifference = {
      center: model.get("difference_center"), width: model.get("difference_width"),
    };
    this.labels = model.get("series_labels");
    this.table = model.get("difference_table");
    this.swipe = model.get("swipe");
    this.checkerMm = model.get("checker_mm");
    this.flickerRate = model.get("flicker_rate");
    this.flickerPlaying = model.get("flicker_playing");
    this.differenceCenter = model.get("difference_center");
    this.differenceWidth = model.get("difference_width");
    this.differenceStyle = model.get("difference_style");
    /** @type {(value: () => unknown) => () => unknown} */
    const unlessDragging = (value) => () => (this.dragging ? undefined : value());
    scene.track("swipe", unlessDragging(() => this.swipe), (v) => {
      if (!this.dragging) this.setSwipe(v);
    });
    scene.track("difference_center", unlessDragging(() => this.differenceCenter),
      (v) => this.setDifferenceWindow(v, this.differenceWidth));
    scene.track("difference_width", unlessDragging(() => this.differenceWidth),
      (v) => this.setDifferenceWindow(this.differenceCenter, v));
    scene.track("difference_style", () => this.differenceStyle, (v) => {
      this.differenceStyle = v;
      this.redrawMain();
      this.onChange();
    });
    scene.track("checker_mm", () => this.checkerMm, (v) => {
      this.checkerMm = v;
      this.redrawMain();
      this.onChange();
    });
    scene.track("flicker_rate", () => this.flickerRate, (v) => {
      this.flickerRate = v;
      this.runFlicker();
    });
    scene.track("flicker_playing", () => this.flickerPlaying, (v) => {
      this.flickerPlaying = v;
      this.runFlicker();
    });
    scene.watch(["series_labels", "difference_table"], () => {
      this.labels = model.get("series_labels");
      this.table = model.get("difference_table");
      scene.redraw();
      this.onChange();
    });
    scene.watch(["alignment"], () => this.onChange());
  }

  /**
   * The name a side goes by: the series label of "before" or "after", else "Δ".
   * @param {string} side
   */
  sideName(side) {
    return side === "before" ? this.labels[0] : side === "after" ? this.labels[1] : "Δ";
  }

  /** @returns {DifferenceView} */
  differenceView() {
    return {
      center: this.differenceCenter, width: this.differenceWidth,
      absolute: this.differenceStyle === "absolute", colormap: this.table,
    };
  }

  /** @param {number} f the divider, as a fraction of the viewport's width */
  setSwipe(f) {
    this.swipe = Math.min(1, Math.max(0, f));
    for (const vp of this.viewports) vp.updateSwipe();
    this.scene.scheduleSend();
    this.onChange();
  }

  /**
   * @param {number} center
   * @param {number} width
   */
  setDifferenceWindow(center, width) {
    width = Math.max(width, 1e-6);
    const changed = center !== this.differenceCenter || width !== this.differenceWidth;
    this.differenceCenter = center;
    this.differenceWidth = width;
    if (changed) this.redrawMain();
    this.scene.scheduleSend();
    this.onChange();
  }

  /** @param {string} style "signed" or "absolute" */
  setDifferenceStyle(style) {
    this.differenceStyle = style;
    // |Δ| starts black at 0; the signed map is centred on 0 (as the kernel does too)
    this.differenceCenter = style === "absolute" ? this.differenceWidth / 2 : 0;
    this.redrawMain();
    this.scene.scheduleSend();
    this.onChange();
  }

  /** @param {number} size mm */
  setCheckerMm(size) {
    this.checkerMm = Math.max(0.1, size);
    this.redrawMain();
    this.scene.scheduleSend();
    this.onChange();
  }

  /** @param {{flickerRate?: number, flickerPlaying?: boolean}} values */
  setFlicker(values) {
    Object.assign(this, values);
    this.runFlicker();
    this.scene.scheduleSend();
  }

  flip() {
    this.flickerLayer = this.flickerLayer === "image" ? "after" : "image";
    this.redrawMain();
  }

  // Alternate automatically while in flicker mode and playing.
  runFlicker() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.mode === "flicker" && this.flickerPlaying) {
      this.timer = setInterval(() => this.flip(), 1000 / this.flickerRate);
    }
    this.onChange();
  }

  redrawMain() {
    const main = this.viewports[0];
    if (main) main.draw(["image"]);
  }

  /**
   * The cursor moved on one viewport: a cross at the same place on the others.
   * @param {Viewport} source
   */
  hover(source) {
    for (const vp of this.viewports) if (vp !== source) vp.showMarker(source.cursor);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
