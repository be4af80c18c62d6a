// The texts of a viewport: window, slice and position under the image, and the value
// under the mouse. Read from the scene; nothing here changes it.

import { format, fixed } from "./format.js";

/** @import { Scene } from "./scene.js" */
/** @import { Layer } from "./layers.js" */
/** @import { PointerPoint } from "./viewport.js" */

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
 * The texts under and on the image.
 * @param {Scene} scene
 * @param {Layer | undefined} layer the viewport's image layer
 * @returns {StatusTexts & {corner: string}} corner: the bottom-right corner's text
 */
export function statusTexts(scene, layer) {
  const model = scene.model;
  const layout = scene.layout;
  const units = model.get("units");
  const n = layout.n_slices;
  const s = scene.slice;
  const windowText = layer && layer.channels === 3
    ? `Brightness ${format(scene.center)} contrast ${format(scene.width)}`
    : scene.voiTable !== null && scene.voiTable !== undefined
      ? ((layer && layer.info.voi_luts) || [])[scene.voiTable]?.name || "VOI LUT"
      : `W ${format(scene.width)} L ${format(scene.center)}${units ? " " + units : ""}`;
  const a = [...scene.position];
  const p = scene.toPatient(a);
  // Slice position along the plane's patient axis, with the letter of its side.
  const axis = /** @type {Record<string, number>} */ ({ axial: 2, coronal: 1, sagittal: 0 })[scene.plane];
  const letters = PLANE_AXIS_LETTERS[scene.plane];
  const where = model.get("geometry_known") && axis !== undefined
    ? ` · ${p[axis] < 0 ? letters[0] : letters[1]} ${fixed(Math.abs(p[axis]), 1)} mm` : "";
  const corner = `${n > 1 ? `${s + 1}/${n}` : ""}${where}` +
    (scene.zoom !== 1 ? ` · ×${format(scene.zoom, 2)}` : "");
  return { windowText, slice: n > 1 ? `slice ${s + 1}/${n}` : "", where, corner };
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
