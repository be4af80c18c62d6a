// The types of static/vendor/yjs.js (the bundle scripts/vendor_yjs.mjs builds): the
// same exports, typed by the packages themselves (package.json pins them; tsc reads
// them from node_modules). Types only: nothing here ships as code.
export { Doc, Map, Array, applyUpdate, encodeStateAsUpdate, encodeStateVector } from "yjs";
export * as sync from "y-protocols/sync";
export * as encoding from "lib0/encoding";
export * as decoding from "lib0/decoding";
