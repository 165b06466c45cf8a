// Bundles the extension: dist/extension.js (what activation loads: status bar, commands) and
// dist/client.js (vscode-languageclient, loaded when the server starts); with --tests, the unit
// tests (dist/unit/*.test.js).
// Flags: --production (minified, no sourcemap), --watch, --tests.
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

import { libraryFixes } from "./libraryFixes.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const args = new Set(process.argv.slice(2));
const production = args.has("--production");

const common = {
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  logLevel: "warning",
  absWorkingDir: root,
};

const extension = {
  ...common,
  entryPoints: {
    extension: "editor-extension/src/extension.ts",
    client: "editor-extension/src/client.ts",
  },
  outdir: "dist",
  external: ["vscode"],
  minify: production,
  sourcemap: production ? false : "linked",
  sourcesContent: false,
  metafile: true,
  // Bugs of vscode-jsonrpc / vscode-languageclient that raise uncaught errors (see the file).
  plugins: [libraryFixes({ required: true })],
};

if (args.has("--tests")) {
  const dir = path.join(here, "test", "unit");
  const entryPoints = readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => `editor-extension/test/unit/${f}`);
  await esbuild.build({ ...common, entryPoints, outdir: "dist/unit", sourcemap: "inline", plugins: [libraryFixes()] });
} else if (args.has("--watch")) {
  const ctx = await esbuild.context(extension);
  await ctx.watch();
  console.log("watching editor-extension/src …");
} else {
  const result = await esbuild.build(extension);
  const sizes = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith(".js"))
    .map(([file, o]) => `${file} ${(o.bytes / 1024).toFixed(0)} KiB`);
  console.log(`${sizes.join(", ")}${production ? " (minified)" : ""}`);
}
