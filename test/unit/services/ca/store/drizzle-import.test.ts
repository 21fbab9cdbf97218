import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../../../../", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.[cm]?ts$/.test(e.name) && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

test("product code loads drizzle only through store/drizzle.cts and store/pg/drizzle.cts (an ES import costs seconds on node 24)", () => {
  const files = [...sources(join(ROOT, "services")), ...sources(join(ROOT, "shared"))];
  assert.ok(files.length > 50, `found the sources under ${ROOT}`);
  const offenders = files
    .filter(
      (f) => !f.endsWith(join("store", "drizzle.cts")) && !f.endsWith(join("store", "pg", "drizzle.cts")),
    )
    .filter((f) => /\bfrom\s+["']drizzle-orm|import\(\s*["']drizzle-orm/.test(readFileSync(f, "utf8")))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(offenders, []);
});
