import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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

test("the built store takes drizzle from one bundle (scripts/bundle-drizzle.ts): no drizzle-orm file loaded, pg only with the PostgreSQL half", () => {
  const store = join(ROOT, "dist", "services", "ca", "store");
  // a fresh node: what each half loads, in the order a SQLite process and then a PostgreSQL one would
  const script = `
    const loaded = () => Object.keys(require.cache).filter((f) => f.includes("node_modules"));
    const sqlite = require(${JSON.stringify(join(store, "drizzle.cjs"))});
    const afterSqlite = loaded();
    const pg = require(${JSON.stringify(join(store, "pg", "drizzle.cjs"))});
    const table = pg.pgTable("t", { a: pg.text("a") });
    console.log(JSON.stringify({ afterSqlite, afterPg: loaded(), name: sqlite.getTableName(table) }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as {
    afterSqlite: string[];
    afterPg: string[];
    name: string;
  };
  const packageOf = (f: string) => /node_modules[\\/]((@[^\\/]+[\\/])?[^\\/]+)/.exec(f)?.[1];
  assert.deepEqual([...new Set(out.afterSqlite.map(packageOf))], ["better-sqlite3"]);
  assert.ok(!out.afterPg.some((f) => packageOf(f) === "drizzle-orm"), out.afterPg.join("\n"));
  assert.ok(
    out.afterPg.some((f) => packageOf(f) === "pg"),
    "the PostgreSQL half loads pg",
  );
  assert.equal(out.name, "t");
});
