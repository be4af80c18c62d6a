// Builds dicomteach/widgets/static/vendor/yjs.js: Yjs, y-protocols' sync messages and
// the lib0 encoders they use, as ONE ES module the widgets load in the browser for a
// live session (dicomteach/widgets/live.py sends it; static/live/provider.js imports it
// from a blob URL). The versions are package.json's, pinned in package-lock.json; the
// licences of the three packages head the file. Nothing is fetched at run time.
//
//   npm ci && node scripts/vendor_yjs.mjs            # rewrite the committed file
//   node scripts/vendor_yjs.mjs /tmp/yjs.js          # build elsewhere (tests/test_vendor.py)
//
// The exports below are the ones static/vendor/yjs.d.ts types; keep the two lists equal.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = process.argv[2] || join(root, "dicomteach/widgets/static/vendor/yjs.js");

const ENTRY = `
export { Doc, Map, Array, applyUpdate, encodeStateAsUpdate, encodeStateVector } from "yjs";
export * as sync from "y-protocols/sync";
export * as encoding from "lib0/encoding";
export * as decoding from "lib0/decoding";
`;

const licences = ["yjs", "y-protocols", "lib0"].map((name) => {
  const folder = join(root, "node_modules", name);
  const { version } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const text = readFileSync(join(folder, "LICENSE"), "utf8").trim();
  return `${name} ${version}\n\n${text}`;
});
const banner = [
  "/*!",
  " * Yjs, y-protocols' sync protocol and lib0's encoders, bundled for dicomteach's live",
  " * sessions by scripts/vendor_yjs.mjs with esbuild (do not edit: rebuild).",
  " *",
  ...licences.join("\n\n----\n\n").split("\n").map((line) => ` * ${line}`.trimEnd()),
  " */",
].join("\n");

const result = await build({
  stdin: { contents: ENTRY, resolveDir: root, sourcefile: "vendor-yjs-entry.js" },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "none",
  banner: { js: banner },
  write: false,
  logLevel: "warning",
});
writeFileSync(out, result.outputFiles[0].text);
console.log(`wrote ${out} (${result.outputFiles[0].contents.length} bytes)`);
