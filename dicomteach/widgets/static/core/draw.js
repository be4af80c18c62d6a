// One slice of a layer into RGBA pixels (a canvas ImageData's data): an image windowed
// by the rules of voi.js, or labels filled and outlined; then those pixels onto their
// canvas. The drawing functions are pure: arrays in, pixels out.

import { displayValue, tableDisplayValue, modalityValue } from "./voi.js";
import { walker } from "./geometry.js";

/** @import { LutTable } from "./voi.js" */
/** @import { Layout } from "./geometry.js" */
/** @import { Layer, LayerInfo, DisplayLutCache } from "./layers.js" */

/**
 * How to turn an image layer's values into colours.
 * @typedef {object} ImageView
 * @property {number} center window center (brightness for RGB)
 * @property {number} width window width (contrast for RGB)
 * @property {string} fn VOI LUT function (voi.js VoiFunction)
 * @property {LutTable | null} table a VOI LUT table instead of the window
 * @property {number | null} [tableIndex] which of the layer's tables (the cache key)
 * @property {boolean} invert MONOCHROME1
 * @property {number[] | null} colormap 256 × [r, g, b] flat, or null for grey
 * @property {boolean} alphaZero transparent where the 8-bit value is 0 (fused overlays)
 */

/**
 * A label value's colour and visibility (ImageWidget.label_info, Delineator structures).
 * @typedef {{value: number, color: number[], visible?: boolean, name?: string}} LabelStyle
 */

/**
 * Stored value → RGBA pixel (one 32-bit word, as a Uint32Array over ImageData writes it
 * on the little-endian machines browsers run on) for every stored value the layer can
 * hold, when the modality LUT is the same for all frames (one rescale or one table) or
 * all the pixels come from one frame (`frame`: an acquired slice); cached on the layer
 * per view and frame. Only the layer's stored range is computed (the range holds every
 * value in the array; a CT's 4096 values instead of 65536), so a window change costs a
 * few thousand evaluations of the rule, not one per pixel.
 * @param {Layer} layer
 * @param {ImageView} view
 * @param {number | null} frame the one frame the pixels come from, or null (a reformat)
 * @returns {DisplayLutCache | null} null when the pixels come from frames that rescale
 *   differently
 */
export function displayLut(layer, view, frame) {
  const info = layer.info;
  const uniform = !!info.modality_lut || (
    (info.rescale_slope || [1]).length === 1 &&
    (info.rescale_intercept || [0]).length === 1);
  if (!uniform && frame === null) return null;
  const f = uniform ? 0 : /** @type {number} */ (frame);
  const key = JSON.stringify([view.center, view.width, view.fn, view.tableIndex, view.invert,
    !!view.colormap, view.alphaZero, layer.range, uniform ? -1 : f]);
  if (layer.lutCache && layer.lutCache.key === key) return layer.lutCache;
  const dtype = info.dtype;
  const lo = dtype === "int16" ? -32768 : dtype === "int8" ? -128 : 0;
  const n = dtype === "uint8" || dtype === "int8" ? 256 : 65536;
  const first = layer.range ? Math.max(0, layer.range[0] - lo) : 0;
  const last = layer.range ? Math.min(n - 1, layer.range[1] - lo) : n - 1;
  const rgba = layer.lutCache && layer.lutCache.rgba.length === n
    ? layer.lutCache.rgba : new Uint32Array(n);
  const slope = layer.slope(f), intercept = layer.intercept(f), mlut = info.modality_lut;
  const cmap = view.colormap;
  for (let i = first; i <= last; i++) {
    const x = modalityValue(i + lo, slope, intercept, mlut);
    const v = view.table
      ? tableDisplayValue(x, view.table, view.invert)
      : displayValue(x, view.center, view.width, view.fn, view.invert);
    const a = view.alphaZero && v === 0 ? 0 : 255;
    rgba[i] = cmap
      ? (cmap[3 * v] | (cmap[3 * v + 1] << 8) | (cmap[3 * v + 2] << 16) | (a << 24)) >>> 0
      : (v | (v << 8) | (v << 16) | (a << 24)) >>> 0;
  }
  // No stored value lies outside the range: these entries are never read.
  if (first > 0) rgba.fill(rgba[first], 0, first);
  if (last < n - 1) rgba.fill(rgba[last], last + 1);
  layer.lutCache = { key, rgba, lo };
  return layer.lutCache;
}

/**
 * How a fused layer (PET on CT…) is drawn: its own window and colour map, transparent
 * where it maps to 0.
 * @param {LayerInfo} info
 * @returns {ImageView}
 */
export function fusedView(info) {
  return {
    center: /** @type {number} */ (info.window_center),
    width: /** @type {number} */ (info.window_width),
    fn: info.voi_function || "LINEAR",
    table: null, invert: false, colormap: info.colormap_table || null, alphaZero: true,
  };
}

/**
 * The colours of the visible label values.
 * @param {LabelStyle[]} styles
 * @returns {Map<number, number[]>}
 */
export function labelColors(styles) {
  const colors = new Map();
  for (const item of styles) {
    if (item.visible !== false) colors.set(item.value, item.color);
  }
  return colors;
}

/**
 * Draw slice s of an image layer into RGBA `out`.
 * @param {Layer} layer
 * @param {Layout} layout
 * @param {number} s
 * @param {ImageView} view
 * @param {Uint8ClampedArray} out rows × cols × 4
 */
export function drawImage(layer, layout, s, view, out) {
  const rows = layout.rows, cols = layout.cols;
  const data = layer.data;
  const cmap = view.colormap;
  const alphaZero = view.alphaZero;
  if (layer.channels === 3) {
    const { base, dR, dC } = walker(layout, layer.shape.slice(0, 3), s);
    const lut = new Uint8Array(256);
    for (let i = 0; i < 256; i++) lut[i] = displayValue(i, view.center, view.width, view.fn, false);
    let j = 0;
    for (let r = 0; r < rows; r++) {
      let p = base + r * dR;
      for (let c = 0; c < cols; c++, p += dC, j += 4) {
        out[j] = lut[data[3 * p]];
        out[j + 1] = lut[data[3 * p + 1]];
        out[j + 2] = lut[data[3 * p + 2]];
        out[j + 3] = 255;
      }
    }
    return;
  }
  const { base, dR, dC } = walker(layout, layer.shape, s);
  const lutInfo = displayLut(layer, view, layout.slice_axis === 0 ? s : null);
  if (lutInfo) {
    // One table read and one 32-bit write per pixel.
    const rgba = lutInfo.rgba, lo = lutInfo.lo;
    const words = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
    let j = 0;
    for (let r = 0; r < rows; r++) {
      let p = base + r * dR;
      for (let c = 0; c < cols; c++, p += dC) words[j++] = rgba[data[p] - lo];
    }
    return;
  }
  // A reformat of frames that rescale differently: the rule for each pixel.
  const frameSize = layer.frameSize;
  let j = 0;
  for (let r = 0; r < rows; r++) {
    let p = base + r * dR;
    for (let c = 0; c < cols; c++, p += dC, j += 4) {
      const f = Math.floor(p / frameSize);
      const x = data[p] * layer.slope(f) + layer.intercept(f);
      const v = view.table
        ? tableDisplayValue(x, view.table, view.invert)
        : displayValue(x, view.center, view.width, view.fn, view.invert);
      if (cmap) {
        out[j] = cmap[3 * v];
        out[j + 1] = cmap[3 * v + 1];
        out[j + 2] = cmap[3 * v + 2];
      } else {
        out[j] = v;
        out[j + 1] = v;
        out[j + 2] = v;
      }
      out[j + 3] = alphaZero && v === 0 ? 0 : 255;
    }
  }
}

/**
 * Draw slice s of a label layer: each value filled at `opacity` with a full-colour
 * edge, or the edge only; values without a colour are transparent.
 * @param {Layer} layer
 * @param {Layout} layout
 * @param {number} s
 * @param {Map<number, number[]>} colors value → [r, g, b]
 * @param {number} opacity 0..1
 * @param {string} mode "fill" or "outline"
 * @param {Uint8ClampedArray} out rows × cols × 4
 */
export function drawLabels(layer, layout, s, colors, opacity, mode, out) {
  const rows = layout.rows, cols = layout.cols;
  const { base, dR, dC } = walker(layout, layer.shape, s);
  const data = layer.data;
  const fillAlpha = mode === "outline" ? 0 : Math.round(255 * opacity);
  let j = 0;
  for (let r = 0; r < rows; r++) {
    let p = base + r * dR;
    for (let c = 0; c < cols; c++, p += dC, j += 4) {
      const v = data[p];
      const color = v ? colors.get(v) : null;
      if (!color) {
        out[j + 3] = 0;
        continue;
      }
      const edge =
        r === 0 || c === 0 || r === rows - 1 || c === cols - 1 ||
        data[p - dR] !== v || data[p + dR] !== v || data[p - dC] !== v || data[p + dC] !== v;
      out[j] = color[0];
      out[j + 1] = color[1];
      out[j + 2] = color[2];
      out[j + 3] = edge ? 255 : fillAlpha;
    }
  }
}

// ---- onto a canvas

/** A canvas with its ImageData kept between draws. @typedef {HTMLCanvasElement & {_image?: ImageData, _key?: string}} LayerCanvas */

/**
 * The canvas's ImageData for a slice of this layout (the canvas resized to it; the
 * ImageData kept while the size stays).
 * @param {LayerCanvas} canvas
 * @param {Layout} layout
 * @returns {ImageData}
 */
export function imageData(canvas, layout) {
  if (canvas.width !== layout.cols || canvas.height !== layout.rows) {
    canvas.width = layout.cols;
    canvas.height = layout.rows;
  }
  const key = `${layout.cols}x${layout.rows}`;
  if (!canvas._image || canvas._key !== key) {
    canvas._image = context(canvas).createImageData(layout.cols, layout.rows);
    canvas._key = key;
  }
  return canvas._image;
}

/**
 * Put the canvas's ImageData on screen.
 * @param {LayerCanvas} canvas
 */
export function paint(canvas) {
  if (canvas._image) context(canvas).putImageData(canvas._image, 0, 0);
}

/**
 * The 2D context of a canvas (a canvas of ours always has one).
 * @param {HTMLCanvasElement} canvas
 */
function context(canvas) {
  return /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
}
