// Where a displayed pixel lives in the volume: the plane layouts of
// dicomteach/imaging/planes.py (PlaneLayout.as_dict), array indices, patient mm.
// Pure functions: no DOM, no model.

/**
 * How one plane of the volume is displayed (imaging/planes.py PlaneLayout): the slice
 * s is the array at s along `slice_axis`, its rows along `row_axis` and columns along
 * `col_axis`, flipped when `flip_rows` / `flip_cols`.
 * @typedef {object} Layout
 * @property {string} plane "axial", "coronal" or "sagittal"
 * @property {boolean} native the acquisition plane (slice axis 0)
 * @property {number} slice_axis
 * @property {number} row_axis
 * @property {number} col_axis
 * @property {boolean} flip_rows
 * @property {boolean} flip_cols
 * @property {number} n_slices
 * @property {number} rows displayed height in pixels
 * @property {number} cols displayed width in pixels
 * @property {number} row_spacing mm between displayed rows
 * @property {number} col_spacing mm between displayed columns
 * @property {number} slice_spacing mm between slices
 * @property {Partial<Record<"top" | "bottom" | "left" | "right", string>>} letters
 *   patient-direction letters at the edges (none when the geometry is unknown)
 */

/** An index into the volume in array order: [frame, row, col] (continuous or whole). @typedef {number[]} ArrayIndex */

/**
 * Flat-index strides of slice s of a layout: displayed pixel (r, c) is element
 * base + r * dR + c * dC of the array (times the channels).
 * @param {Layout} layout
 * @param {number[]} shape the array's [frames, rows, cols]
 * @param {number} s
 * @returns {{base: number, dR: number, dC: number}}
 */
export function walker(layout, shape, s) {
  const stride = [shape[1] * shape[2], shape[2], 1];
  const sR = stride[layout.row_axis], sC = stride[layout.col_axis];
  let base = s * stride[layout.slice_axis];
  if (layout.flip_rows) base += (layout.rows - 1) * sR;
  if (layout.flip_cols) base += (layout.cols - 1) * sC;
  return {
    base,
    dR: layout.flip_rows ? -sR : sR,
    dC: layout.flip_cols ? -sC : sC,
  };
}

/**
 * Displayed (row, col) of slice s → array (frame, row, col).
 * @param {Layout} layout
 * @param {number} s
 * @param {number} r
 * @param {number} c
 * @returns {ArrayIndex}
 */
export function toArrayIndex(layout, s, r, c) {
  const a = [0, 0, 0];
  a[layout.slice_axis] = s;
  a[layout.row_axis] = layout.flip_rows ? layout.rows - 1 - r : r;
  a[layout.col_axis] = layout.flip_cols ? layout.cols - 1 - c : c;
  return a;
}

/**
 * Array (frame, row, col) → displayed [slice, row, col] of a layout.
 * @param {Layout} layout
 * @param {ArrayIndex} a
 * @returns {[number, number, number]}
 */
export function fromArrayIndex(layout, a) {
  const r = a[layout.row_axis], c = a[layout.col_axis];
  return [
    a[layout.slice_axis],
    layout.flip_rows ? layout.rows - 1 - r : r,
    layout.flip_cols ? layout.cols - 1 - c : c,
  ];
}

/**
 * Array (frame, row, col), continuous → patient LPS mm, from the volume's spacing,
 * origin and direction (row-major 3×3, one row per array axis), as Volume holds them.
 * @param {ArrayIndex} a
 * @param {number[]} spacing
 * @param {number[]} origin
 * @param {number[]} direction
 * @returns {number[]}
 */
export function arrayToPatient(a, spacing, origin, direction) {
  const p = [origin[0], origin[1], origin[2]];
  for (let axis = 0; axis < 3; axis++)
    for (let k = 0; k < 3; k++) p[k] += a[axis] * spacing[axis] * direction[3 * axis + k];
  return p;
}
