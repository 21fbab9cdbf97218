import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PG_SCHEMA, pgSchemaSource } from "../../../../../scripts/pg-schema.js";
import { LISTING_WIDTH_LIMIT } from "../../../../../services/ca/store/pg/listing-width.js";
import * as pg from "../../../../../services/ca/store/pg/schema.js";
import { pgConditions, pgIndexes } from "../../../../../services/ca/store/pg/schema-dialect.js";
import * as sqlite from "../../../../../services/ca/store/schema.js";

const ROOT = fileURLToPath(new URL("../../../../../../", import.meta.url));

// drizzle through require(), as the product loads it (store/drizzle.cts says why)
const require = createRequire(import.meta.url);
const sqliteCore: typeof import("drizzle-orm/sqlite-core") = require("drizzle-orm/sqlite-core");
const pgCore: typeof import("drizzle-orm/pg-core") = require("drizzle-orm/pg-core");
const { PgDialect } = pgCore;
const { SQLiteSyncDialect } = sqliteCore;

interface Shape {
  columns: string[];
  primaryKey: string[];
  unique: string[];
  indexes: { name: string; columns: string[]; unique: boolean; where: string | null }[];
}

/**
 * What the two dialects must agree on, in words both write the same way. SQLite's integer
 * primary key counts as having a default (the rowid); the store always gives it (crls.number).
 */
function columnShape(
  col: { name: string; notNull: boolean; hasDefault: boolean; primary: boolean },
  kind: string,
) {
  const defaulted = col.hasDefault && !col.primary;
  return `${col.name} ${kind}${col.notNull ? " not null" : ""}${defaulted ? " default" : ""}`;
}

/** A partial index's condition with the dialect's quoting taken off. */
const condition = (text: string | undefined) => (text === undefined ? null : text.replace(/["`]/g, ""));

function sqliteShape(t: import("drizzle-orm/sqlite-core").SQLiteTable): Shape {
  const c = sqliteCore.getTableConfig(t);
  const dialect = new SQLiteSyncDialect();
  const kind = (col: (typeof c.columns)[number]) =>
    col.columnType === "SQLiteTextJson" ? "json" : col.columnType === "SQLiteInteger" ? "number" : "text";
  return {
    columns: c.columns.map((col) => columnShape(col, kind(col))),
    primaryKey: [
      ...c.columns.filter((col) => col.primary).map((col) => col.name),
      ...c.primaryKeys.flatMap((pk) => pk.columns.map((col) => col.name)),
    ],
    unique: c.columns.filter((col) => col.isUnique).map((col) => col.name),
    indexes: c.indexes.map((i) => ({
      name: i.config.name,
      columns: i.config.columns.map((col) => ("name" in col ? col.name : "(an expression)")),
      unique: i.config.unique,
      where: condition(i.config.where && dialect.sqlToQuery(i.config.where).sql),
    })),
  };
}

function pgShape(t: import("drizzle-orm/pg-core").PgTable): Shape {
  const c = pgCore.getTableConfig(t);
  const dialect = new PgDialect();
  const kind = (col: (typeof c.columns)[number]) =>
    col.columnType === "PgJsonb" ? "json" : col.columnType === "PgBigInt53" ? "number" : "text";
  return {
    columns: c.columns.map((col) => columnShape(col, kind(col))),
    primaryKey: [
      ...c.columns.filter((col) => col.primary).map((col) => col.name),
      ...c.primaryKeys.flatMap((pk) => pk.columns.map((col) => col.name)),
    ],
    unique: c.columns.filter((col) => col.isUnique).map((col) => col.name),
    indexes: c.indexes.map((i) => ({
      name: i.config.name ?? "(unnamed)",
      columns: i.config.columns.map((col) => ("name" in col ? String(col.name) : "(an expression)")),
      unique: i.config.unique,
      where: condition(i.config.where && dialect.sqlToQuery(i.config.where).sql),
    })),
  };
}

const tablesOf = <T>(mod: Record<string, unknown>, is: (v: unknown) => v is T) =>
  new Map(Object.entries(mod).filter((e): e is [string, T] => is(e[1])));

test("store/pg/schema.ts is what scripts/pg-schema.ts writes from store/schema.ts now", () => {
  const committed = readFileSync(join(ROOT, PG_SCHEMA), "utf8");
  const generated = pgSchemaSource(ROOT, { ...sqlite }, { pgIndexes, pgConditions });
  // equal strings, not a diff of 300 lines: the message says what to do
  assert.ok(
    committed === generated,
    `${PG_SCHEMA} is not what the generator writes from store/schema.ts: run npm run db:generate (or npm run db:schema), do not edit it by hand`,
  );
});

/** The indexes of PostgreSQL's own (pg/schema-dialect.ts pgIndexes), by table. */
const OWN_INDEXES = new Map(Object.entries(pgIndexes).map(([key, own]) => [key, new Set(Object.keys(own))]));
/** SQLite's indexes that are partial on PostgreSQL (pgConditions), by table. */
const CONDITIONED = new Map(Object.entries(pgConditions).map(([key, on]) => [key, new Set(Object.keys(on))]));

test("the PostgreSQL schema has every SQLite table, column, key and index, under the same names", () => {
  const lite = tablesOf(sqlite, (v): v is import("drizzle-orm/sqlite-core").SQLiteTable =>
    require("drizzle-orm").is(v, sqliteCore.SQLiteTable),
  );
  const post = tablesOf(pg, (v): v is import("drizzle-orm/pg-core").PgTable =>
    require("drizzle-orm").is(v, pgCore.PgTable),
  );
  assert.ok(lite.size >= 9, "found the SQLite tables");
  assert.deepEqual(
    [...post.keys()].sort(),
    [...lite.keys()].sort(),
    "store/pg/schema.ts has the tables of store/schema.ts (npm run db:generate writes it)",
  );
  for (const [key, table] of lite) {
    const pgTable = post.get(key);
    assert.ok(pgTable, key);
    const a = sqliteShape(table);
    const b = pgShape(pgTable);
    assert.equal(pgCore.getTableConfig(pgTable).name, sqliteCore.getTableConfig(table).name, key);
    assert.deepEqual(b.columns, a.columns, `${key}: columns`);
    assert.deepEqual(b.primaryKey, a.primaryKey, `${key}: primary key`);
    assert.deepEqual(b.unique, a.unique, `${key}: unique columns`);
    // the indexes of pg/schema-dialect.ts (each with its reason there) are PostgreSQL's own, and
    // must be on the table under the names they are listed by; nowhere else may the dialects differ
    const own = OWN_INDEXES.get(key) ?? new Set();
    for (const name of own)
      assert.ok(
        b.indexes.some((i) => i.name === name),
        `${key}.${name}: on PostgreSQL`,
      );
    // SQLite's indexes that PostgreSQL makes partial: the same columns, a condition of its own
    const conditioned = CONDITIONED.get(key) ?? new Set();
    const unconditioned = (i: Shape["indexes"][number]) =>
      conditioned.has(i.name) ? { ...i, where: null } : i;
    const shared = (i: Shape["indexes"][number]) => !own.has(i.name);
    assert.deepEqual(
      b.indexes.filter(shared).map(unconditioned),
      a.indexes.filter(shared).map(unconditioned),
      `${key}: indexes`,
    );
  }
  assert.deepEqual(
    [...Object.keys(pgIndexes), ...Object.keys(pgConditions)].filter((key) => !lite.has(key)),
    [],
    "pgIndexes and pgConditions name tables of store/schema.ts",
  );
  // the inventory's two indexes: each row in exactly one, by the same width against one limit
  const certs = post.get("certificates");
  const liteCerts = lite.get("certificates");
  assert.ok(certs && liteCerts);
  const indexes = pgShape(certs).indexes;
  const listing = indexes.find((i) => i.name === "certificates_not_after");
  // SQLite's covering index, only partial: the same columns, so that a page reads it alone
  assert.deepEqual(
    listing?.columns,
    sqliteShape(liteCerts).indexes.find((i) => i.name === "certificates_not_after")?.columns,
  );
  const fits = listing?.where ?? "";
  const wide = indexes.find((i) => i.name === "certificates_not_after_wide");
  assert.deepEqual(wide?.columns, ["not_after", "serial"]);
  assert.ok(fits.endsWith(` <= ${LISTING_WIDTH_LIMIT}`), fits);
  assert.equal(
    wide?.where,
    `${fits.slice(0, -` <= ${LISTING_WIDTH_LIMIT}`.length)} > ${LISTING_WIDTH_LIMIT}`,
  );
  assert.match(
    fits,
    /^octet_length\(certificates\.serial\) \+ .*octet_length\(certificates\.dns_names::text\)/,
  );
});
