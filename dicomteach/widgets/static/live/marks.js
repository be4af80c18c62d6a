// What a live session adds on each picture (session.js LiveSession.attach): the lead's
// pointer, the poll's clicks as a heat map and its answer, and the names of who drew
// under the mouse (and how many of the class, while the agreement map is shown). The lead's own mouse over the image is their pointer; a left click
// while a poll waits for this person's answer is their click, and no tool sees it.

import { el, svg } from "../core/dom.js";
import { fromArrayIndex } from "../core/geometry.js";

/** @import { Viewport } from "../core/viewport.js" */
/** @import { Layout } from "../core/geometry.js" */
/** @import { LiveSession, PollClick } from "./session.js" */

/** The heat map's blob: its radius in pixels of the slice, at least. */
const HEAT_MIN_RADIUS = 2;

/**
 * Poll clicks on slice s as a heat map into RGBA pixels: a Gaussian blob per click
 * (σ a fortieth of the slice's width), summed, from transparent dark red to opaque
 * yellow where clicks gather.
 * @param {PollClick[]} clicks
 * @param {Layout} layout
 * @param {number} s
 * @param {Uint8ClampedArray} out rows × cols × 4
 * @returns {boolean} whether a click lies on the slice
 */
export function drawHeat(clicks, layout, s, out) {
  out.fill(0);
  const rows = layout.rows, cols = layout.cols;
  const sigma = Math.max(HEAT_MIN_RADIUS, cols / 40);
  const reach = Math.ceil(3 * sigma);
  const heat = new Float32Array(rows * cols);
  let any = false;
  for (const c of clicks) {
    const [slice, r0, c0] = fromArrayIndex(layout, [c.frame, c.row, c.column]);
    if (Math.round(slice) !== s) continue;
    any = true;
    for (let r = Math.max(0, Math.floor(r0 - reach)); r <= Math.min(rows - 1, r0 + reach); r++) {
      for (let q = Math.max(0, Math.floor(c0 - reach)); q <= Math.min(cols - 1, c0 + reach); q++) {
        const d2 = (r - r0) ** 2 + (q - c0) ** 2;
        heat[r * cols + q] += Math.exp(-d2 / (2 * sigma * sigma));
      }
    }
  }
  if (!any) return false;
  for (let j = 0; j < heat.length; j++) {
    const h = Math.min(1, heat[j] / 2);
    if (h < 0.05) continue;
    const o = 4 * j;
    out[o] = 255;
    out[o + 1] = Math.round(255 * Math.max(0, 2 * h - 1));
    out[o + 2] = 0;
    out[o + 3] = Math.round(90 + 140 * h);
  }
  return true;
}

export class LiveMarks {
  /** @param {LiveSession} session */
  constructor(session) {
    this.session = session;
    /** @type {{vp: Viewport, layer: SVGSVGElement, who: HTMLDivElement, off: () => void}[]} */
    this.views = [];
  }

  /** @param {Viewport} vp */
  attach(vp) {
    const session = this.session;
    const layer = svg("svg", { class: "dt-live-marks" });
    const who = el("div", "dt-live-who");
    vp.root.append(layer, who);
    vp.addCanvas("poll", "dt-live-heat", {
      draw: (layout, s, out) => this.showHeat() && drawHeat(this.heatClicks(), layout, s, out),
    });
    /** @param {PointerEvent} event */
    const move = (event) => {
      const p = vp.pointAt(event);
      if (session.leading) session.pointer(p.inside ? vp.toArray(p) : null);
      const names = p.index ? session.hoverText(p.index) : [];
      who.textContent = names.join(", ");
      if (names.length) {
        const box = vp.root.getBoundingClientRect();
        who.style.left = `${event.clientX - box.left + 12}px`;
        who.style.top = `${event.clientY - box.top + 12}px`;
      }
    };
    const leave = () => {
      if (session.leading) session.pointer(null);
      who.textContent = "";
    };
    /** @param {PointerEvent} event */
    const down = (event) => {
      if (event.button !== 0) return;
      const p = vp.pointAt(event);
      if (p.index && session.pollClick(p.index)) {
        event.stopImmediatePropagation();
        event.preventDefault();
      }
    };
    vp.root.addEventListener("pointermove", move);
    vp.root.addEventListener("pointerleave", leave);
    vp.root.addEventListener("pointerdown", down, { capture: true });
    const before = vp.options.onAnnotations;
    vp.options.onAnnotations = (v) => {
      if (before) before(v);
      this.drawOn(v, layer);
    };
    this.views.push({
      vp, layer, who,
      off: () => {
        vp.root.removeEventListener("pointermove", move);
        vp.root.removeEventListener("pointerleave", leave);
        vp.root.removeEventListener("pointerdown", down, { capture: true });
        layer.remove();
        who.remove();
      },
    });
  }

  /** Whether this person sees the poll's clicks: the presenter always, the class once shown. */
  showHeat() {
    const s = this.session;
    return s.instructor || s.revealed("answer");
  }

  heatClicks() {
    return this.session.pollClicks().map(([, c]) => c);
  }

  draw() {
    for (const { vp, layer } of this.views) {
      vp.draw(["poll"]);
      this.drawOn(vp, layer);
    }
  }

  /**
   * @param {Viewport} vp
   * @param {SVGSVGElement} layer
   */
  drawOn(vp, layer) {
    const s = this.session;
    layer.replaceChildren();
    const scene = vp.scene;
    if (!s.doc || !scene.layout || s.state === "off") return;
    /**
     * @param {number[]} a
     * @param {string} className
     * @param {number} radius
     * @param {string} [fill]
     */
    const mark = (a, className, radius, fill) => {
      const at = vp.fromArray(a);
      if (Math.round(at.slice) !== scene.slice) return;
      const [x, y] = vp.toScreen(at.x, at.y);
      const circle = svg("circle", { class: className, cx: x, cy: y, r: radius });
      if (fill) circle.setAttribute("fill", fill);
      layer.append(circle);
    };
    const view = s.map("view");
    const pointer = view.get("pointer");
    if (!s.leading && Array.isArray(pointer) && pointer.length === 3) mark(pointer.map(Number), "dt-live-pointer", 5);
    const poll = s.poll;
    if (poll.answer && (s.instructor || s.revealed("answer"))) {
      mark([poll.answer.frame, poll.answer.row, poll.answer.column], "dt-live-answer", 9);
    }
    if (!s.instructor) {
      const mine = s.pollClicks().find(([name]) => name === s.me);
      const colour = s.people().find((p) => p.username === s.me)?.colour || "#fff";
      if (mine) mark([mine[1].frame, mine[1].row, mine[1].column], "dt-live-click", 4, colour);
    }
    layer.dataset.pointer = Array.isArray(pointer) ? pointer.join(",") : "";
  }

  destroy() {
    for (const view of this.views) view.off();
    this.views = [];
  }
}
