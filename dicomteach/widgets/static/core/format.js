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
