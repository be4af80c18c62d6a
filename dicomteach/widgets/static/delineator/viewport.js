// The Delineator's picture: the core viewport with the labels coloured by structure,
// the reference as an outline (its own canvas), and an SVG of drafts on top (the
// outline being drawn, the brush circle).

import { svg } from "../core/dom.js";
import { drawLabels } from "../core/draw.js";
import { Viewport } from "../core/viewport.js";
import { PAINT_TOOLS, dblclick } from "./tools.js";

/** @import { Scene } from "../core/scene.js" */
/** @import { Layout } from "../core/geometry.js" */
/** @import { ViewportOptions } from "../core/viewport.js" */
/** @import { Editor } from "./editor.js" */

/** The reference outline's colour. */
const REFERENCE_COLOR = [255, 255, 0];
/** Another reader's outline (an AI's, Delineator.set_other_reader): as questions/panel.js draws its marks. */
const OTHER_READER_COLOR = [0, 229, 255];

export class DelineatorViewport extends Viewport {
  /**
   * @param {Scene} scene
   * @param {Editor} editor
   * @param {ViewportOptions} options
   */
  constructor(scene, editor, options) {
    super(scene, options);
    this.editor = editor;
    this.addCanvas("reference", "dt-viewer-reference");
    this.addCanvas("other", "dt-viewer-other");
    this.draftSvg = svg("svg", { class: "dt-viewer-annotations dt-delineator-draft" });
    this.root.append(this.draftSvg);
    this.root.addEventListener("dblclick", (event) => dblclick(editor, event));
    this.root.addEventListener("pointerleave", () => {
      editor.hover = null;
      this.drawDraft();
    });
    editor.viewports.push(this);
  }

  /** @param {string[]} [which] */
  draw(which) {
    super.draw(which);
    if (this.stale) return;
    this.editor.checkDraft();
    this.drawDraft();
  }

  /** The labels in the structures' colours (the structures list, not label_info). */
  labelInfo() {
    return this.editor.state.structures;
  }

  /**
   * @param {string} name
   * @param {Layout} layout
   * @param {number} s
   */
  drawImageLayer(name, layout, s) {
    if (name === "other") {
      const other = this.scene.layers.get("other");
      if (!other) return false;
      /** @type {Map<number, number[]>} */
      const colors = new Map();
      for (let v = 1; v < 256; v++) colors.set(v, OTHER_READER_COLOR);
      drawLabels(other, layout, s, colors, 0, "outline", this.pixels(name));
      return true;
    }
    if (name !== "reference") return super.drawImageLayer(name, layout, s);
    const reference = this.scene.layers.get("reference");
    if (!reference || !this.editor.state.show_reference) return false;
    /** @type {Map<number, number[]>} */
    const colors = new Map();
    for (let v = 1; v < 256; v++) colors.set(v, REFERENCE_COLOR);
    drawLabels(reference, layout, s, colors, 0, "outline", this.pixels(name));
    return true;
  }

  place() {
    super.place();
    if (this.editor && this.scene.layout) this.drawDraft();
  }

  toolChanged() {
    super.toolChanged();
    if (this.editor && this.editor.draft && this.scene.tool !== this.editor.draft.kind) {
      this.editor.cancelDraft();
    }
  }

  /** Screen pixels per mm: the image is drawn with its true aspect, so a disc in mm is a circle. */
  pxPerMm() {
    const layout = this.scene.layout;
    const rect = this.canvas.getBoundingClientRect();
    return rect.width / (layout.cols * layout.col_spacing);
  }

  drawDraft() {
    const group = this.draftSvg;
    while (group.firstChild) group.removeChild(group.firstChild);
    const editor = this.editor;
    const scene = this.scene;
    const s = editor.structure(editor.active);
    const color = s ? `rgb(${s.color.join(",")})` : "#fff";
    /** @param {number[]} q [row, col] */
    const centre = (q) => this.toScreen(q[1] + 0.5, q[0] + 0.5);
    const d = editor.draft;
    if (d && d.plane === scene.plane && d.slice === scene.slice && d.points.length) {
      const pts = d.points.map(centre);
      group.append(svg("polyline", {
        class: "dt-draft-line", stroke: color,
        points: pts.map((p) => p.join(",")).join(" "),
      }));
      const h = editor.hover;
      if (d.kind === "polygon") {
        if (h && h.inside) {
          const a = pts[pts.length - 1], b = centre([h.row, h.col]);
          group.append(svg("line", {
            class: "dt-draft-line dt-draft-rubber", stroke: color, x1: a[0], y1: a[1], x2: b[0], y2: b[1],
          }));
        }
        for (const p of pts) {
          group.append(svg("circle", { class: "dt-draft-vertex", fill: color, cx: p[0], cy: p[1], r: 3 }));
        }
      }
    }
    const h = editor.hover;
    if (h && h.inside && PAINT_TOOLS.has(scene.tool)) {
      const [x, y] = centre([h.row, h.col]);
      group.append(svg("circle", {
        class: "dt-brush-cursor", cx: x, cy: y, r: editor.state.brush_mm * this.pxPerMm(),
      }));
    }
  }
}
