// The answer of one view of a Hotspot or LabelDrop: the learner's markers (`marks`,
// {image: [frame, row, col], label}, array indices with pixel centres whole numbers),
// which one is selected, and the drags under way. The kernel checks every change, adds
// patient mm and writes the answer file (docs/decisions.md, decision 3). tools.js and
// chips.js change the answer; panel.js shows it.

import { el } from "../core/dom.js";
import { showStatus, showList, showStart, SAVE_WAIT_MS } from "./panel.js";
import { buildChips, showChips } from "./chips.js";

/** @import { AnyModel } from "../anywidget" */
/** @import { ImageState } from "../core/traits" */
/** @import { Scene } from "../core/scene.js" */
/** @import { Viewport } from "../core/viewport.js" */

/**
 * One marker: where (array index, pixel centres whole) and its label ("" for Hotspot).
 * @typedef {{image: number[], label: string}} Mark
 */

/**
 * The question widgets' own synced traits (widgets/questions.py: Hotspot, LabelDrop).
 * @typedef {ImageState & {
 *   question: string,
 *   prompt: string,
 *   marks: Mark[],
 *   answer_name: string,
 *   save_state: {n?: number, error?: string, message?: string},
 *   notice: string,
 *   side_title: string,
 *   radius_mm: number,
 *   max_points: number,
 *   ai_marks: {image: number[], box?: number[][], radius_mm?: number, text?: string}[],
 *   choices: {name: string, color: number[]}[],
 *   max_per_label: number,
 * }} QuestionState
 */

/**
 * A marker being dragged: its index, where it started (null: placed by this press),
 * the grab offset and the display point now.
 * @typedef {{index: number, start: number[] | null, dx: number, dy: number, x: number, y: number, outside: boolean}} MarkerDrag
 */

/** A chip being dragged from the side panel. @typedef {{name: string, chip: HTMLButtonElement, x0: number, y0: number, dragging: boolean}} ChipDrag */

/** A press this close (screen px) to a marker grabs it. */
const GRAB_PX = 12;
const HOTSPOT_COLOR = [255, 213, 79];

/** @param {number} v */
function round3(v) {
  return Math.round(v * 1000) / 1000 + 0; // + 0: no -0 in the JSON
}

/**
 * @template T
 * @param {T} value
 * @returns {T}
 */
function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

/**
 * @param {DOMRect} rect
 * @param {number} x
 * @param {number} y
 */
function inside(rect, x, y) {
  return x >= rect.left && x < rect.right && y >= rect.top && y < rect.bottom;
}

export class Answering {
  /**
   * @param {AnyModel<QuestionState>} model
   * @param {Scene} scene
   * @param {HTMLElement} root the widget's element
   */
  constructor(model, scene, root) {
    this.model = model;
    this.scene = scene;
    this.root = root;
    this.kind = model.get("question") === "labels" ? "labels" : "hotspot";
    this.toolName = this.kind === "labels" ? "label" : "hotspot";
    /** @type {Mark[]} */
    this.marks = clone(model.get("marks"));
    this.selected = -1;
    /** @type {string | null} */
    this.armed = null; // LabelDrop: a chip chosen by click or keyboard, placed by the next click
    /** @type {MarkerDrag | null} */
    this.drag = null; // a marker being dragged on the image
    /** @type {ChipDrag | null} */
    this.chipDrag = null; // a chip being dragged from the side panel
    /** @type {{x: number, y: number, label: string} | null} */
    this.preview = null; // where a dragged chip would land {x, y, label}, display coordinates
    this.hint = "";
    this.pendingSince = 0;
    this.dragEndedAt = 0;
    /** The viewport answers are given on (set by render). @type {Viewport | null} */
    this.viewport = null;
    // The marks go to the kernel with the scene's state; during a drag they stay here.
    scene.track("marks", () => (this.drag || this.chipDrag ? undefined : this.marks),
      (marks) => this.fromModel(marks));
    scene.watch(["save_state"], () => this.savedFromModel());
    scene.watch(["notice"], () => this.showNotice());
    scene.watch(["prompt"], () => this.showPrompt());

    this.promptEl = el("div", "dt-q-prompt");
    this.noticeEl = el("div", "dt-q-notice");
    this.noticeEl.setAttribute("role", "alert");
    this.statusEl = el("div", "dt-q-status");
    this.statusEl.setAttribute("aria-live", "polite");
    this.countEl = el("span", "dt-q-count");
    this.hintEl = el("span", "dt-q-hint");
    this.savedEl = el("span", "dt-q-saved");
    this.statusEl.append(this.countEl, this.hintEl, this.savedEl);
    // Over the image: what a click will do ("Click to start" until the widget has the keys).
    this.startEl = el("div", "dt-q-start");
    this.startEl.hidden = true;
    this.side = el("div", "dt-q-side");
    this.listEl = el("ol", "dt-q-list");
    this.listEl.setAttribute("aria-label", "Your markers");
    /** LabelDrop's chips by label. @type {Map<string, {chip: HTMLButtonElement, remove: HTMLButtonElement, row: HTMLDivElement}>} */
    this.chipButtons = new Map();
    if (this.kind === "labels") buildChips(this);
    this.showPrompt();
    this.showNotice();
  }

  // ---- coordinates

  layout() {
    return this.scene.layout;
  }

  /** The viewport, once render has made it. */
  view() {
    return /** @type {Viewport} */ (this.viewport);
  }

  /**
   * Array (frame, row, col) → the current plane's slice and display x, y (pixel edges whole).
   * @param {number[]} image
   */
  toDisplay(image) {
    return this.view().fromArray(image);
  }

  /**
   * Display x, y on the slice on screen → array (frame, row, col), kept on the image
   * (pixel centres: from 0.5 to cols − 0.5 across, rows − 0.5 down).
   * @param {number} x
   * @param {number} y
   */
  toImage(x, y) {
    const layout = this.layout();
    const p = {
      x: Math.min(layout.cols - 0.5, Math.max(0.5, x)),
      y: Math.min(layout.rows - 0.5, Math.max(0.5, y)),
    };
    return this.view().toArray(p).map(round3);
  }

  /** @param {number[]} image */
  onSlice(image) {
    return Math.round(this.toDisplay(image).slice) === this.scene.slice;
  }

  /**
   * Outside the picture: off the image, or off the part of it the viewport shows.
   * @param {Viewport} vp
   * @param {MouseEvent} event
   */
  outside(vp, event) {
    const x = event.clientX, y = event.clientY;
    return !(inside(vp.canvas.getBoundingClientRect(), x, y) &&
      inside(vp.root.getBoundingClientRect(), x, y));
  }

  /**
   * The marker under the pointer (nearest within GRAB_PX), or -1.
   * @param {Viewport} vp
   * @param {MouseEvent} event
   */
  hit(vp, event) {
    const box = vp.root.getBoundingClientRect();
    const px = event.clientX - box.left, py = event.clientY - box.top;
    let best = -1, bestDistance = GRAB_PX;
    this.marks.forEach((m, i) => {
      if (!this.onSlice(m.image)) return;
      const d = this.toDisplay(m.image);
      const [sx, sy] = vp.toScreen(d.x, d.y);
      const distance = Math.hypot(sx - px, sy - py);
      if (distance <= bestDistance) {
        best = i;
        bestDistance = distance;
      }
    });
    return best;
  }

  // ---- rules

  /**
   * The widget has the keys (it or one of its controls is focused). Until then a click
   * on the image only gives them to it: the learner clicking into the widget, or back
   * into it, has not answered yet (docs/decisions.md, decision 20).
   */
  active() {
    return this.root.contains(document.activeElement);
  }

  maxPoints() {
    return this.model.get("max_points") || 1;
  }

  /** @param {string} label */
  count(label) {
    return this.marks.filter((m) => m.label === label).length;
  }

  /** @param {string} label */
  canPlace(label) {
    const max = this.model.get("max_per_label");
    return !max || this.count(label) < max;
  }

  /**
   * @param {string} label
   * @returns {number[]}
   */
  colorOf(label) {
    if (this.kind === "hotspot") return HOTSPOT_COLOR;
    const choice = this.model.get("choices").find((c) => c.name === label);
    return choice ? choice.color : [255, 255, 255];
  }

  // ---- changes

  // Send the marks to the kernel, which checks and saves them.
  commit() {
    if (JSON.stringify(this.marks) !== JSON.stringify(this.model.get("marks"))) {
      this.scene.scheduleSend();
      this.pendingSince = performance.now();
      setTimeout(() => showStatus(this), SAVE_WAIT_MS + 50);
    }
    this.refresh();
  }

  /**
   * Marks from the kernel (checked, rounded) or another view.
   * @param {Mark[]} marks
   */
  fromModel(marks) {
    if (this.drag || this.chipDrag) return; // the gesture's end commits its own state
    if (JSON.stringify(marks) === JSON.stringify(this.marks)) return;
    this.marks = clone(marks);
    if (this.selected >= this.marks.length) this.selected = -1;
    this.refresh();
  }

  /** @param {string} hint */
  say(hint) {
    this.hint = hint;
    showStatus(this);
  }

  /**
   * Select a marker (-1: none), showing its slice unless `show` is false.
   * @param {number} index
   * @param {boolean} [show]
   */
  select(index, show = true) {
    this.selected = index;
    if (index >= 0 && show && !this.onSlice(this.marks[index].image)) {
      this.scene.setSlice(Math.round(this.toDisplay(this.marks[index].image).slice));
    }
    if (index >= 0) {
      this.hint = "Selected: drag it or press the arrow keys to move it, Delete to remove it.";
    }
    this.refresh();
  }

  /** @param {string | null} label */
  arm(label) {
    this.armed = label;
    if (label) this.hint = `Now click on the image (or press Enter) to place “${label}”.`;
    this.refresh();
  }

  /** @param {number} index */
  remove(index) {
    if (index < 0 || index >= this.marks.length) return;
    this.marks.splice(index, 1);
    if (this.selected === index) this.selected = -1;
    else if (this.selected > index) this.selected -= 1;
    this.hint = "";
    this.commit();
  }

  /**
   * A new marker at display (x, y) of the slice on screen.
   * @param {number} x
   * @param {number} y
   * @param {string} [label]
   * @returns {number} its index, or -1
   */
  place(x, y, label = "") {
    const image = this.toImage(x, y);
    if (this.kind === "hotspot") {
      const max = this.maxPoints();
      if (this.marks.length >= max) {
        if (max > 1) {
          this.say(`All ${max} markers are placed: drag one to move it, or remove one first.`);
          return -1;
        }
        this.marks[0] = { image, label: "" };
        return 0;
      }
      this.marks.push({ image, label: "" });
      return this.marks.length - 1;
    }
    if (!label) {
      this.say("Drag a label from the list onto the image, or choose one and then click here.");
      return -1;
    }
    if (!this.canPlace(label)) {
      this.say(`“${label}” is already placed: drag its marker to move it.`);
      return -1;
    }
    this.marks.push({ image, label });
    return this.marks.length - 1;
  }

  // ---- showing

  refresh() {
    this.refreshMarkers();
    if (this.kind === "labels") showChips(this);
    else showList(this);
    showStatus(this);
    showStart(this);
  }

  refreshMarkers() {
    for (const vp of this.scene.viewports) vp.drawAnnotations();
  }

  savedFromModel() {
    this.pendingSince = 0;
    showStatus(this);
  }

  showPrompt() {
    this.promptEl.textContent = this.model.get("prompt");
    this.promptEl.hidden = !this.model.get("prompt");
  }

  showNotice() {
    this.noticeEl.textContent = this.model.get("notice");
    this.noticeEl.hidden = !this.model.get("notice");
  }
}
