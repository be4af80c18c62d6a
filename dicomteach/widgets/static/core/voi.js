// The pixel rules of dicomteach/imaging/voi.py and dicomteach/imaging/modality.py, for
// the browser (docs/decisions.md, decision 1: windowing happens in the browser, Python
// holds the reference, browser tests compare both pixel for pixel). Pure functions of
// numbers: no DOM, no model. Change one side only together with the other.

/**
 * A lookup table as the kernel sends it (ImageWidget._table): entry i is the output for
 * input `first + i`; `bits` is the table's output depth.
 * @typedef {object} LutTable
 * @property {string} name
 * @property {number} first
 * @property {number} bits
 * @property {number[]} data
 */

/**
 * VOI LUT functions (PS3.3 C.11.2.1.2.1 LINEAR; C.11.2.1.3.2 LINEAR_EXACT;
 * C.11.2.1.3.1 SIGMOID), as imaging/voi.py VOI_LUT_FUNCTIONS names them.
 * @typedef {"LINEAR" | "LINEAR_EXACT" | "SIGMOID"} VoiFunction
 */

/**
 * The 8-bit rule of imaging/voi.py (module docstring), in float64, in the same order:
 * window to 0..255, then round half up and clip with
 * Math.min(255, Math.max(0, Math.floor(y + 0.5))), then MONOCHROME1 inversion
 * v = 255 - v after the rounding.
 * @param {number} x modality value
 * @param {number} center
 * @param {number} width
 * @param {string} fn a {@link VoiFunction}; any other name windows as LINEAR_EXACT
 * @param {boolean} invert
 * @returns {number} 0..255
 */
export function displayValue(x, center, width, fn, invert) {
  let y;
  if (fn === "SIGMOID") {
    y = 255 / (1 + Math.exp(-4 * (x - center) / width)) + 0;
  } else {
    const c1 = fn === "LINEAR" ? center - 0.5 : center;
    const w1 = fn === "LINEAR" ? width - 1 : width;
    if (x <= c1 - w1 / 2) y = 0;
    else if (x > c1 + w1 / 2) y = 255;
    else y = ((x - c1) / w1 + 0.5) * 255 + 0;
  }
  const v = Math.min(255, Math.max(0, Math.floor(y + 0.5)));
  return invert ? 255 - v : v;
}

/**
 * A VOI LUT table (imaging/voi.py voi_lut_to_uint8): entry at floor(x - first), clipped
 * to the table, scaled by 255 / (2**bits - 1), then the same rounding.
 * @param {number} x modality value
 * @param {LutTable} table
 * @param {boolean} invert
 * @returns {number} 0..255
 */
export function tableDisplayValue(x, table, invert) {
  const n = table.data.length;
  let i = Math.floor(x - table.first);
  if (!(i >= 0)) i = 0;
  if (i > n - 1) i = n - 1;
  const y = (table.data[i] * 255) / (2 ** table.bits - 1);
  const v = Math.min(255, Math.max(0, Math.floor(y + 0.5)));
  return invert ? 255 - v : v;
}

/**
 * Modality LUT (imaging/modality.py): rescale, or a table indexed by
 * stored - first_mapped clipped to the table.
 * @param {number} stored
 * @param {number} slope
 * @param {number} intercept
 * @param {LutTable | null | undefined} lut
 * @returns {number}
 */
export function modalityValue(stored, slope, intercept, lut) {
  if (lut) {
    let i = stored - lut.first;
    if (i < 0) i = 0;
    if (i > lut.data.length - 1) i = lut.data.length - 1;
    return lut.data[i];
  }
  return stored * slope + intercept;
}
