// LabelDrop's chips: the labels to place, dragged onto the image or clicked and then
// placed by a click or Enter; a chip shows whether its label is placed, and how often.

import { el, button } from "../core/dom.js";
import { rgb } from "./panel.js";

/** @import { Answering } from "./answering.js" */

/** A chip moved less than this (screen px) was clicked, not dragged. */
const DRAG_PX = 4;

/**
 * The chips of a LabelDrop in the side panel (a.side): one per label, with a button
 * to take its marker back.
 * @param {Answering} a
 */
export function buildChips(a) {
  const heading = el("div", "dt-q-side-title", "Labels");
  heading.id = `dt-q-${Math.random().toString(36).slice(2)}`;
  const group = el("div", "dt-q-chips");
  group.setAttribute("role", "group");
  group.setAttribute("aria-labelledby", heading.id);
  for (const choice of a.model.get("choices")) {
    const name = choice.name;
    const row = el("div", "dt-q-chip-row");
    row.dataset.label = name;
    const chip = el("button", "dt-q-chip");
    chip.type = "button";
    chip.dataset.label = name;
    const swatch = el("span", "dt-q-swatch");
    swatch.style.background = rgb(choice.color);
    chip.append(swatch, el("span", "dt-q-chip-name", name), el("span", "dt-q-chip-count"));
    const remove = button("×", `Take back “${name}”`, () => {
      let last = -1;
      a.marks.forEach((m, i) => { if (m.label === name) last = i; });
      a.remove(last);
      a.root.focus({ preventScroll: true }); // the button hides: keep the keys in the widget
    });
    remove.classList.add("dt-q-remove");
    remove.dataset.action = "remove";
    row.append(chip, remove);
    group.append(row);
    a.chipButtons.set(name, { chip, remove, row });
    listenChip(a, chip, name);
  }
  a.side.append(heading, group);
}

/**
 * A click arms the chip (the next click on the image places it), or selects the
 * marker of a label already placed.
 * @param {Answering} a
 * @param {string} name
 */
function chipClicked(a, name) {
  if (performance.now() - a.dragEndedAt < 400) return; // the click that ends a drag
  if (!a.canPlace(name)) {
    const index = a.marks.findIndex((m) => m.label === name);
    if (index >= 0) a.select(index);
  } else {
    a.selected = -1;
    a.arm(a.armed === name ? null : name);
  }
  a.root.focus({ preventScroll: true }); // Enter now places it, arrows move it
}

/**
 * Drag a chip onto the image: its marker previewed where it would land, placed on release.
 * @param {Answering} a
 * @param {HTMLButtonElement} chip
 * @param {string} name
 */
function listenChip(a, chip, name) {
  chip.addEventListener("click", () => chipClicked(a, name));
  chip.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !a.canPlace(name)) return;
    event.preventDefault();
    event.stopPropagation(); // not a cell selection in the notebook
    chip.setPointerCapture(event.pointerId);
    a.chipDrag = { name, chip, x0: event.clientX, y0: event.clientY, dragging: false };
  });
  chip.addEventListener("pointermove", (event) => {
    const d = a.chipDrag;
    const vp = a.viewport;
    if (!d || d.chip !== chip || !vp) return;
    const dx = event.clientX - d.x0, dy = event.clientY - d.y0;
    if (!d.dragging && Math.hypot(dx, dy) < DRAG_PX) return;
    d.dragging = true;
    chip.classList.add("dt-q-dragging");
    chip.style.transform = `translate(${dx}px, ${dy}px)`;
    const over = !a.outside(vp, event);
    vp.root.classList.toggle("dt-q-drop", over);
    // Over the image the chip gives way to the marker it would become, so the spot shows.
    chip.classList.toggle("dt-q-over-image", over);
    const p = vp.pointAt(event);
    a.preview = over ? { x: p.x, y: p.y, label: name } : null;
    a.refreshMarkers();
  });
  /**
   * @param {PointerEvent} event
   * @param {boolean} cancelled
   */
  const end = (event, cancelled) => {
    const d = a.chipDrag;
    const vp = a.viewport;
    if (!d || d.chip !== chip) return;
    a.chipDrag = null;
    a.preview = null;
    chip.style.transform = "";
    chip.classList.remove("dt-q-dragging", "dt-q-over-image");
    if (chip.hasPointerCapture(event.pointerId)) chip.releasePointerCapture(event.pointerId);
    if (vp) vp.root.classList.remove("dt-q-drop");
    if (!d.dragging) return; // a click: "click" arms the chip
    a.dragEndedAt = performance.now();
    if (!cancelled && vp && !a.outside(vp, event)) {
      const p = vp.pointAt(event);
      const index = a.place(p.x, p.y, name);
      if (index >= 0) {
        a.armed = null;
        a.hint = "";
        a.select(index, false);
        a.root.focus({ preventScroll: true });
      }
    }
    a.commit();
  };
  chip.addEventListener("pointerup", (event) => end(event, false));
  chip.addEventListener("pointercancel", (event) => end(event, true));
}

/**
 * Each chip's state: placed, full, armed, how many.
 * @param {Answering} a
 */
export function showChips(a) {
  for (const [name, { chip, remove, row }] of a.chipButtons) {
    const n = a.count(name);
    const full = !a.canPlace(name);
    row.classList.toggle("dt-q-placed", n > 0);
    chip.classList.toggle("dt-q-full", full);
    chip.setAttribute("aria-pressed", String(a.armed === name));
    chip.title = full
      ? `“${name}” is placed: click to select its marker`
      : `Drag “${name}” onto the image (or click it, then click the image)`;
    // Named by the label it shows, first (WCAG 2.5.3); what to do with it follows.
    chip.setAttribute(
      "aria-label",
      full ? `${name}, placed: click to select its marker`
        : `${name}: drag onto the image, or click it, then click the image`,
    );
    remove.hidden = n === 0;
    /** @type {HTMLElement} */ (chip.querySelector(".dt-q-chip-count")).textContent =
      n > 0 && a.model.get("max_per_label") !== 1 ? `×${n}` : "";
    row.dataset.count = String(n);
  }
}
