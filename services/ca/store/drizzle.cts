/**
 * Every part of drizzle the store uses, loaded through CommonJS (this file compiles to
 * drizzle.cjs, whose require()s take drizzle's "require" build). Imported as ES modules, node 24's
 * resolver hands each of drizzle-orm's ~110 module files its 178 KB package.json again: that took
 * 4-5 s and about 150 MB of short-lived heap per process (workers and every CLI command), against
 * 0.2-0.3 s and 10 MB this way (node 20 took 0.17 s either way). Import drizzle only from here
 * (a unit test checks), so its classes and their types come from one copy. `npm run build` then
 * bundles this file and pg/drizzle.cts into one (scripts/bundle-drizzle.ts): 0.13-0.2 -> 0.04-0.07 s.
 */
export {
  type AnyColumn,
  and,
  asc,
  count,
  desc,
  eq,
  getTableColumns,
  getTableName,
  gt,
  gte,
  inArray,
  is,
  isNotNull,
  isNull,
  lt,
  lte,
  max,
  or,
  Param,
  Placeholder,
  type SQL,
  sql,
} from "drizzle-orm";
export { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
export { migrate } from "drizzle-orm/better-sqlite3/migrator";
export {
  getTableConfig,
  index,
  integer,
  primaryKey,
  type SQLiteColumn,
  SQLiteTable,
  sqliteTable,
  text,
} from "drizzle-orm/sqlite-core";
