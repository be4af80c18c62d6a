// The texts of a viewport: window, slice and position on and under the image, the
// message over it, and the value under the mouse. Read from the scene; nothing here
// changes it.

import { setText } from "./dom.js";
import { format, fixed, formatWindow } from "./format.js";

/** @import { Scene } from "./scene.js" */
/** @import { PointerPoint, Viewport } from "./viewport.js" */

// LPS: negative / positive side of each plane's axis.
/** @type {Record<string, string[]>} */
const PLANE_AXIS_LETTERS = { axial: ["I", "S"], coronal: ["A", "P"], sagittal: ["R", "L"] };

/**
 * What a viewport writes about the picture (Viewport.text; standardControls shows it).
 * @typedef {object} StatusTexts
 * @property {string} windowText "W 400 L 40 HU", a VOI LUT's name, or brightness/contrast
 * @property {string} slice "slice 3/10" ("" for one slice)
 * @property {string} where " · S 12.5 mm": the slice's position ("" without geometry)
 */

/**
 * Write a viewport's texts: window (bottom left), slice, position and zoom (bottom
 * right), description (top left), the cursor line while the mouse is over it, and the
 * message over the picture (error, no image, loading); vp.text for the controls.
 * @param {Viewport} vp
 */
export function writeStatus(vp) {
  const scene = vp.scene;
  const model = scene.model;
  const layer = scene.layers.get(vp.imageLayer);
  const layout = scene.layout;
  const units = model.get("units");
  const n = layout.n_slices;
  const s = scene.slice;
  const windowText = layer && layer.channels === 3
    ? `Brightness ${format(scene.center)} contrast ${format(scene.width)}`
    : scene.voiTable !== null && scene.voiTable !== undefined
      ? ((layer && layer.info.voi_luts) || [])[scene.voiTable]?.name || "VOI LUT"
      : `${formatWindow(scene.center, scene.width)}${units ? " " + units : ""}`;
  const a = [...scene.position];
  const p = scene.toPatient(a);
  // Slice position along the plane's patient axis, with the letter of its side.
  const axis = /** @type {Record<string, number>} */ ({ axial: 2, coronal: 1, sagittal: 0 })[scene.plane];
  const letters = PLANE_AXIS_LETTERS[scene.plane];
  const position = model.get("geometry_known") && axis !== undefined
    ? `${p[axis] < 0 ? letters[0] : letters[1]} ${fixed(Math.abs(p[axis]), 1)} mm` : "";
  const where = position ? ` · ${position}` : "";
  setText(vp.corners.bl, windowText);
  // a single image has no slice number: its corner starts with what there is
  setText(vp.corners.br, [
    n > 1 ? `${s + 1}/${n}` : "", position, scene.zoom !== 1 ? `×${format(scene.zoom, 2)}` : "",
  ].filter(Boolean).join(" · "));
  setText(vp.corners.tl, model.get("description"));
  // Several viewports may share one cursor line: only the one under the mouse writes it.
  if (vp.options.cursorLine && vp.hovered) setText(vp.options.cursorLine, vp.cursorText());
  let message = "";
  if (model.get("error")) message = model.get("error");
  else if (!layer) message = "No image";
  else if (!scene.loadedFor(vp.imageLayer)) {
    message = `Loading… ${layer.nLoaded}/${layer.shape[0]}`;
  }
  setText(vp.message, message);
  if (vp.message.hidden !== !message) vp.message.hidden = !message;
  vp.root.classList.toggle("dt-error", !!model.get("error"));
  vp.root.closest(".dt-viewer")?.classList.toggle("dt-empty", !layer);
  vp.text = { windowText, slice: n > 1 ? `slice ${s + 1}/${n}` : "", where };
}

/**
 * The value under the mouse (with the fused layer's when shown) and its patient mm.
 * @param {Scene} scene
 * @param {PointerPoint} c the point under the mouse, on the image
 * @param {string} imageLayer
 * @param {boolean} showFused
 * @returns {string}
 */
export function cursorText(scene, c, imageLayer, showFused) {
  const index = /** @type {number[]} */ (c.index);
  const value = scene.valueAt(imageLayer, index);
  const units = scene.model.get("units");
  let text = "";
  if (value === null) text = "";
  else if (Array.isArray(value)) text = `RGB ${value.join(" ")}`;
  else text = `${format(value, 1)}${units ? " " + units : ""}`;
  const fused = scene.layers.get("fused");
  if (fused && showFused) {
    const v = scene.valueAt("fused", index);
    if (v !== null) text += ` · ${format(/** @type {number} */ (v), 2)} ${fused.info.units || ""}`.trimEnd();
  }
  if (scene.model.get("geometry_known")) {
    const p = scene.toPatient(index);
    text += ` · (${p.map((x) => fixed(x, 1)).join(", ")}) mm`;
  }
  return text;
}
