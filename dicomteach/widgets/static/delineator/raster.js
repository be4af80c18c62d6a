// Which pixels of the slice on screen a brush stroke, an outline or a fill covers.
// Display coordinates: pixel (r, c) of the slice on screen, its centre at (r, c)
// (dicomteach.roi.polygons' convention). Python references, the same operations in the
// same order: brush_footprint in widgets/delineator.py and polygons_to_mask in
// roi/polygons.py. Pure: each calls visit(r, c) once per covered pixel.

/** @callback Visit @param {number} r @param {number} c @returns {void} */

/**
 * Pixels whose centre lies within `radius` mm of the segment between the pixel
 * centres a and b (a capsule; a disc when a = b), on rowMm × colMm pixels.
 * @param {number[]} a [row, col]
 * @param {number[]} b [row, col]
 * @param {number} radius mm
 * @param {number} rowMm
 * @param {number} colMm
 * @param {number} rows
 * @param {number} cols
 * @param {Visit} visit
 */
export function capsulePixels(a, b, radius, rowMm, colMm, rows, cols, visit) {
  const limit = radius * radius + 1e-6;
  const dr = Math.ceil(radius / rowMm), dc = Math.ceil(radius / colMm);
  const r0 = Math.max(0, Math.min(a[0], b[0]) - dr), r1 = Math.min(rows - 1, Math.max(a[0], b[0]) + dr);
  const c0 = Math.max(0, Math.min(a[1], b[1]) - dc), c1 = Math.min(cols - 1, Math.max(a[1], b[1]) + dc);
  const ey = (b[0] - a[0]) * rowMm, ex = (b[1] - a[1]) * colMm;
  const ee = ey * ey + ex * ex;
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) {
      const py = (r - a[0]) * rowMm, px = (c - a[1]) * colMm;
      let t = ee > 0 ? (py * ey + px * ex) / ee : 0;
      t = Math.min(1, Math.max(0, t));
      const qy = py - t * ey, qx = px - t * ex;
      if (qy * qy + qx * qx <= limit) visit(r, c);
    }
  }
}

/**
 * Pixels whose centre is inside the closed outline: even-odd, half-open (top-left)
 * ties, scanline by scanline as roi.polygons_to_mask does.
 * @param {number[][]} points [row, col] vertices
 * @param {number} rows
 * @param {number} cols
 * @param {Visit} visit
 */
export function polygonPixels(points, rows, cols, visit) {
  const n = points.length;
  if (n < 3) return;
  /** @type {[number[], number[], number, number][]} */
  const edges = [];
  let lowest = Infinity, highest = -Infinity;
  for (let i = 0; i < n; i++) {
    const p0 = points[i], p1 = points[(i + 1) % n];
    const low = Math.min(p0[0], p1[0]), high = Math.max(p0[0], p1[0]);
    edges.push([p0, p1, low, high]);
    lowest = Math.min(lowest, low);
    highest = Math.max(highest, high);
  }
  const first = Math.max(Math.ceil(lowest), 0);
  const last = Math.min(Math.ceil(highest) - 1, rows - 1);
  const toggles = new Int32Array(cols + 1);
  for (let i = first; i <= last; i++) {
    toggles.fill(0);
    let crossed = false;
    for (const [p0, p1, low, high] of edges) {
      if (!(low <= i && i < high)) continue;
      const t = (i - p0[0]) / (p1[0] - p0[0]);
      const x = p0[1] + t * (p1[1] - p0[1]);
      toggles[Math.min(Math.max(Math.ceil(x), 0), cols)] += 1;
      crossed = true;
    }
    if (!crossed) continue;
    let parity = 0;
    for (let j = 0; j < cols; j++) {
      parity += toggles[j];
      if (parity & 1) visit(i, j);
    }
  }
}

/**
 * The 4-connected region of pixels equal to the one at (r, c).
 * @param {(r: number, c: number) => number} valueAt
 * @param {number} r
 * @param {number} c
 * @param {number} rows
 * @param {number} cols
 * @param {Visit} visit
 */
export function floodPixels(valueAt, r, c, rows, cols, visit) {
  const target = valueAt(r, c);
  const seen = new Uint8Array(rows * cols);
  const stack = [r * cols + c];
  seen[r * cols + c] = 1;
  while (stack.length) {
    const k = /** @type {number} */ (stack.pop());
    const y = Math.floor(k / cols), x = k - y * cols;
    visit(y, x);
    const next = [];
    if (y > 0) next.push(k - cols);
    if (y < rows - 1) next.push(k + cols);
    if (x > 0) next.push(k - 1);
    if (x < cols - 1) next.push(k + 1);
    for (const q of next) {
      if (seen[q]) continue;
      seen[q] = 1;
      if (valueAt(Math.floor(q / cols), q % cols) === target) stack.push(q);
    }
  }
}
