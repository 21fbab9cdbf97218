/**
 * drizzle in one file: `node scripts/bundle-drizzle.ts`, after tsc (npm run build, the Dockerfile).
 *
 * tsc compiles services/ca/store/drizzle.cts and store/pg/drizzle.cts to CommonJS files that
 * require drizzle-orm's own ~130 module files (pg-core among them: drizzle's relations and sql
 * modules import it), each resolved, read and compiled on its own at every start: 0.13-0.2 s of
 * CPU per process, the largest part of `certs list`'s start. esbuild bundles both halves into
 * dist/services/ca/store/drizzle-bundle.cjs, one copy of drizzle's classes for both (the
 * PostgreSQL half is only run when asked for, so a SQLite process still never loads pg), and
 * the two compiled files are replaced by a line that takes their half from it. Their export
 * names are written out for node's ES import of CommonJS, which reads them without running the
 * file. Without this step the compiled files work as they are, only slower.
 */
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = join(ROOT, "services", "ca", "store");
const OUT = join(ROOT, "dist", "services", "ca", "store");
const BUNDLE = "drizzle-bundle.cjs";

await build({
  stdin: {
    // require(), not import: esbuild then runs each half only when it is first asked for
    contents:
      'exports.sqlite = () => require("./drizzle.cts");\nexports.pg = () => require("./pg/drizzle.cts");\n',
    resolveDir: SOURCES,
    sourcefile: "drizzle-entry.cjs",
    loader: "js",
  },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node24",
  // native or driver packages, loaded from node_modules as before
  external: ["better-sqlite3", "pg"],
  outfile: join(OUT, BUNDLE),
  logLevel: "warning",
});

const bundle = createRequire(join(OUT, BUNDLE))(`./${BUNDLE}`) as Record<"sqlite" | "pg", () => object>;

/** A compiled drizzle.cts replaced: its half of the bundle, and its names for ES imports. */
function half(file: string, fromFile: string, name: "sqlite" | "pg"): void {
  const names = Object.keys(bundle[name]()).sort();
  writeFileSync(
    join(OUT, file),
    `"use strict";\n// made by scripts/bundle-drizzle.ts from ${file.replace(/\.cjs$/, ".cts")}\n` +
      `module.exports = require("${fromFile}").${name}();\n` +
      `0 && (module.exports = { ${names.join(", ")} });\n`,
  );
}

half("drizzle.cjs", `./${BUNDLE}`, "sqlite");
half(join("pg", "drizzle.cjs"), `../${BUNDLE}`, "pg");
