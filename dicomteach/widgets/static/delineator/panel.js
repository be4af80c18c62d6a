// The Delineator's own controls: the structures (pick, show/hide), the reference
// outline, brush radius and range-brush limits, undo/redo/interpolate, and the notice
// line. They call the editor (editor.js) and follow its state (Editor.panelUpdate).

import { el, button } from "../core/dom.js";
import { controlGroup } from "../core/controls.js";
import { PAINT_TOOLS } from "./tools.js";

/** @import { Editor, Structure } from "./editor.js" */

/**
 * @typedef {object} Panel
 * @property {HTMLElement[]} groups for the tool column, after the tools
 * @property {HTMLDivElement} notice under the picture
 * @property {() => void} update show the editor's state
 */

/**
 * The structures, brush and history groups of the tool column and the notice line.
 * @param {Editor} editor
 * @returns {Panel}
 */
export function editorPanel(editor) {
  const model = editor.model;
  const list = el("div", "dt-structures");

  const reference = el("label", "dt-delineator-field dt-delineator-reference");
  const refBox = el("input");
  refBox.type = "checkbox";
  refBox.dataset.control = "reference";
  refBox.title = "Show the reference outline";
  refBox.addEventListener("change", () => editor.set("show_reference", refBox.checked));
  reference.append(refBox, " Reference");
  const structures = controlGroup("Structures", [list, reference], "dt-delineator-panel");

  const brush = el("label", "dt-delineator-field");
  const brushInput = el("input");
  brushInput.type = "number";
  brushInput.min = "0.5";
  brushInput.step = "0.5";
  brushInput.dataset.control = "brush";
  brushInput.title = "Brush radius in mm ([ and ] change it)";
  brush.append("Radius ", brushInput, " mm");
  brushInput.addEventListener("change", () => editor.setBrush(Number(brushInput.value)));

  const range = el("label", "dt-delineator-field");
  const lo = el("input"), hi = el("input");
  for (const [input, name] of /** @type {[HTMLInputElement, string][]} */ ([[lo, "range-low"], [hi, "range-high"]])) {
    input.type = "number";
    input.step = "any";
    input.dataset.control = name;
    input.addEventListener("change", () => editor.setRange(Number(lo.value), Number(hi.value)));
  }
  const units = model.get("units");
  lo.title = `Range brush: lowest value painted${units ? ` (${units})` : ""}`;
  hi.title = `Range brush: highest value painted${units ? ` (${units})` : ""}`;
  range.append("Range ", lo, "–", hi, units ? ` ${units}` : "");
  const brushGroup = controlGroup("Brush", [brush, range], "dt-delineator-panel");

  const undo = button("Undo", "Undo the last change (ctrl-z)", () => editor.undo());
  const redo = button("Redo", "Redo (ctrl-shift-z or ctrl-y)", () => editor.redo());
  const interpolate = button("Interpolate",
    "Fill the slices between the slices drawn in this plane for the active structure (I)",
    () => editor.interpolate());
  undo.dataset.action = "undo";
  redo.dataset.action = "redo";
  interpolate.dataset.action = "interpolate";
  const history = controlGroup("Edit", [undo, redo, interpolate], "dt-delineator-panel");

  const notice = el("div", "dt-delineator-notice");
  notice.setAttribute("aria-live", "polite");

  /**
   * @param {Structure} s
   * @param {number} active
   */
  const structureRow = (s, active) => {
    const row = el("span", "dt-structure");
    row.classList.toggle("dt-hidden", s.visible === false);
    const pick = button("", `Draw ${s.name}${s.value <= 9 ? ` (shift+${s.value})` : ""}`,
      () => editor.select(s.value));
    pick.dataset.structure = s.name;
    pick.setAttribute("aria-pressed", String(s.value === active));
    const swatch = el("span", "dt-swatch");
    swatch.style.background = `rgb(${s.color.join(",")})`;
    pick.append(swatch, el("span", "", s.name));
    const show = el("input");
    show.type = "checkbox";
    show.checked = s.visible !== false;
    show.title = `Show ${s.name}`;
    show.setAttribute("aria-label", `Show ${s.name}`);
    show.dataset.visible = s.name;
    show.addEventListener("change", () => editor.setVisible(s.value, show.checked));
    row.append(pick, show);
    return row;
  };

  let shown = "";
  const update = () => {
    const state = editor.state;
    // Rebuilt only when it changed: a click must not lose its button half-way.
    const key = JSON.stringify([state.structures, state.active]);
    if (key !== shown) {
      shown = key;
      list.replaceChildren(...state.structures.map((s) => structureRow(s, state.active)));
    }
    if (document.activeElement !== brushInput) brushInput.value = String(state.brush_mm);
    const [a, b] = state.hu_range;
    if (document.activeElement !== lo) lo.value = String(a);
    if (document.activeElement !== hi) hi.value = String(b);
    const tools = model.get("tools");
    brush.hidden = !tools.some((t) => PAINT_TOOLS.has(t));
    range.hidden = !tools.includes("range");
    brushGroup.hidden = brush.hidden && range.hidden;
    undo.disabled = model.get("can_undo") === 0;
    redo.disabled = model.get("can_redo") === 0;
    reference.hidden = !editor.scene.layers.get("reference");
    refBox.checked = state.show_reference;
    const text = editor.localNotice || model.get("notice");
    notice.textContent = text;
    notice.dataset.kind = /moved aside|Could not|could not|Not saved|cannot/.test(text) ? "warning" : "info";
  };
  editor.panelUpdate = update;
  return { groups: [structures, brushGroup, history], notice, update };
}
