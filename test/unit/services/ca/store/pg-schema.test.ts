import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { LISTING_WIDTH_LIMIT } from "../../../../../services/ca/store/pg/listing-width.js";
import * as pg from "../../../../../services/ca/store/pg/schema.js";
import * as sqlite from "../../../../../services/ca/store/schema.js";

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

/**
 * certificates_not_after_wide: see below. certificates_expiry: SQLite dropped it (migration 0018,
 * read by whole-table counts only); PostgreSQL's state counts and dashboard still plan on it.
 */
const PG_ONLY_INDEXES = new Set(["certificates_not_after_wide", "certificates_expiry"]);

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
    "every table of store/schema.ts needs its twin in store/pg/schema.ts (then npm run db:generate)",
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
    // PostgreSQL's btree entries are limited to 2,704 bytes: its inventory index holds the rows
    // whose entry fits, and keys the others in one more index (pg/listing-width.ts); and it keeps
    // the expiry index SQLite dropped; nowhere else may the two dialects differ
    const pgIndexes = b.indexes.filter((i) => !PG_ONLY_INDEXES.has(i.name));
    assert.deepEqual(
      pgIndexes.map((i) => i.name),
      a.indexes.map((i) => i.name),
      `${key}: indexes`,
    );
    for (const [i, pi] of pgIndexes.entries()) {
      const si = a.indexes[i];
      assert.ok(si);
      assert.deepEqual(pi.columns, si.columns, `${key}.${pi.name}: columns`);
      assert.equal(pi.unique, si.unique, `${key}.${pi.name}: unique`);
      if (pi.name === "certificates_not_after") continue; // its condition: below
      assert.equal(pi.where, si.where, `${key}.${pi.name}: condition`);
    }
  }
  // the inventory's two indexes: each row in exactly one, by the same width against one limit
  const certs = post.get("certificates");
  assert.ok(certs);
  const indexes = pgShape(certs).indexes;
  const fits = indexes.find((i) => i.name === "certificates_not_after")?.where ?? "";
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
