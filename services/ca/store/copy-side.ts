import type { AnyColumn, SQL } from "./drizzle.cjs";

/** db copy's view of one database (store/copy.ts), SQLite or PostgreSQL (pg/copy-side.ts). */

export type Row = Record<string, unknown>;

/**
 * What the copy needs of a table, in either dialect. drizzle types its query builders per
 * dialect and per table; the copy handles every table alike, so it holds them through this
 * minimal shape (the tables are those of store/schema.ts and store/pg/schema.ts, generated from it).
 */
export interface Side {
  label: string;
  /** the tables by their export name in the schema module */
  tables: Map<string, object>;
  count(table: object): Promise<number>;
  /** up to `limit` rows in primary-key order after `after` (the last row's key), each with the schema's keys */
  page(table: object, key: AnyColumn[], after: unknown[] | null, limit: number): Promise<Row[]>;
  insert(table: object, rows: Row[]): Promise<void>;
  /** the PEM of each of these certificates that the database holds */
  pems(serials: string[]): Promise<Map<string, string>>;
  commit(): Promise<void>;
  /** ends the session, rolling back whatever was not committed */
  close(): Promise<void>;
}

/**
 * The builder calls both dialects share, over any table: drizzle's own types are per table, so
 * the generic copy reaches them through this shape (each call is one drizzle makes for a known table).
 */
interface LooseQuery extends PromiseLike<Row[]> {
  where(w: SQL | undefined): LooseQuery;
  orderBy(...c: SQL[]): LooseQuery;
  limit(n: number): LooseQuery;
  all(): Row[];
}
export interface LooseDb {
  select(fields?: Record<string, unknown>): { from(t: object): LooseQuery };
  insert(t: object): { values(rows: Row[]): PromiseLike<unknown> & { run(): unknown } };
}
