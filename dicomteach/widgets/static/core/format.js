// Numbers as the widgets write them in their texts (readouts, labels, titles).

/**
 * At most `digits` decimals, integers as they are, no trailing zeros: 12, 0.33, NaN.
 * @param {number} n
 * @param {number} [digits]
 * @returns {string}
 */
export function format(n, digits = 2) {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  const f = 10 ** digits;
  return String(Math.round(n * f) / f);
}

/**
 * Exactly `digits` decimals (rounded half up as Math.round does): 12.0, 0.3.
 * @param {number} n
 * @param {number} digits
 * @returns {string}
 */
export function fixed(n, digits) {
  return (Math.round(n * 10 ** digits) / 10 ** digits).toFixed(digits);
}

/**
 * A window as a console writes it: "W 619 L 150", decimals only where the width is
 * small enough to need them (SUV, a radiograph's normalised values).
 * @param {number} center
 * @param {number} width
 * @returns {string}
 */
export function formatWindow(center, width) {
  const w = Math.abs(width);
  const digits = w >= 100 ? 0 : w >= 10 ? 1 : 2;
  return `W ${format(width, digits)} L ${format(center, digits)}`;
}
