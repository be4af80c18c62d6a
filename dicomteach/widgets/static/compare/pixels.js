// Compare's own pixel rules, mirrored from dicomteach/widgets/compare.py
// (difference_display, checkerboard_mask), which the browser tests compare them with.
// Pure: layers in, RGBA pixels out.

import { displayValue } from "../core/voi.js";
import { walker } from "../core/geometry.js";

/** @import { Layer } from "../core/layers.js" */
/** @import { Layout } from "../core/geometry.js" */

/**
 * How the difference is drawn: its own window, signed (coloured by `colormap`) or |Δ|
 * (grey); `invert` for MONOCHROME1.
 * @typedef {{center: number, width: number, absolute: boolean, colormap: number[] | null, invert?: boolean}} DifferenceView
 */

/**
 * after − before of every displayed pixel, windowed (LINEAR_EXACT: a difference equal
 * to the center is 127.5, drawn 128) and coloured with the diverging table, or |Δ| in
 * grey. view.invert (MONOCHROME1) flips the signed map's 8-bit value so red stays
 * "brighter".
 * @param {Layer} before
 * @param {Layer} after
 * @param {Layout} layout
 * @param {number} s
 * @param {DifferenceView} view
 * @param {Uint8ClampedArray} out rows × cols × 4
 */
export function drawDifference(before, after, layout, s, view, out) {
  const rows = layout.rows, cols = layout.cols;
  const { base, dR, dC } = walker(layout, before.shape, s);
  const cmap = view.colormap;
  let j = 0;
  for (let r = 0; r < rows; r++) {
    let p = base + r * dR;
    for (let c = 0; c < cols; c++, p += dC, j += 4) {
      let d = after.value(p) - before.value(p);
      if (view.absolute) d = Math.abs(d);
      const v = displayValue(d, view.center, view.width, "LINEAR_EXACT",
        !!view.invert && !view.absolute);
      if (view.absolute || !cmap) {
        out[j] = v;
        out[j + 1] = v;
        out[j + 2] = v;
      } else {
        out[j] = cmap[3 * v];
        out[j + 1] = cmap[3 * v + 1];
        out[j + 2] = cmap[3 * v + 2];
      }
      out[j + 3] = 255;
    }
  }
}

/**
 * Does displayed pixel (r, c) show the follow-up? Squares of sizeMm from the top-left
 * corner, by the pixel's centre; the top-left square shows the baseline.
 * @param {Layout} layout
 * @param {number} r
 * @param {number} c
 * @param {number} sizeMm
 */
export function checkerAfter(layout, r, c, sizeMm) {
  const sr = Math.floor(((r + 0.5) * layout.row_spacing) / sizeMm);
  const sc = Math.floor(((c + 0.5) * layout.col_spacing) / sizeMm);
  return (sr + sc) % 2 === 1;
}

/**
 * Copy the follow-up's pixels into the baseline's picture on the odd squares.
 * @param {Uint8ClampedArray} out the baseline's RGBA, changed in place
 * @param {Uint8ClampedArray} afterRGBA the follow-up's
 * @param {Layout} layout
 * @param {number} sizeMm
 */
export function composeCheckerboard(out, afterRGBA, layout, sizeMm) {
  const rows = layout.rows, cols = layout.cols;
  for (let r = 0; r < rows; r++) {
    const sr = Math.floor(((r + 0.5) * layout.row_spacing) / sizeMm);
    for (let c = 0; c < cols; c++) {
      const sc = Math.floor(((c + 0.5) * layout.col_spacing) / sizeMm);
      if ((sr + sc) % 2 !== 1) continue;
      const j = 4 * (r * cols + c);
      out[j] = afterRGBA[j];
      out[j + 1] = afterRGBA[j + 1];
      out[j + 2] = afterRGBA[j + 2];
      out[j + 3] = afterRGBA[j + 3];
    }
  }
}
