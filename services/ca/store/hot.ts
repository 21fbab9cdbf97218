import type { Statement } from "better-sqlite3";
import type { Db } from "./db.js";
import { Param, Placeholder } from "./drizzle.cjs";

/**
 * A statement that runs on every issuance, built by drizzle from the schema and run straight on
 * better-sqlite3. drizzle's own prepared statements fill and map every placeholder per call,
 * which cost a tenth of a /v1/sign request; the SQL still comes from the schema.
 * Values bind by position: `placeholders` names them in that order, and is checked against the
 * SQL drizzle built, once, when the statement is prepared.
 */
export function hotStatement(db: Db, query: Query, placeholders: readonly string[]): Statement<unknown[]> {
  const { sql, params } = query.toSQL();
  const names = params.map((p) => {
    // an insert's values are Params, each wrapping its placeholder with the column's mapping
    const inner = p instanceof Param ? p.value : p;
    return inner instanceof Placeholder ? inner.name : "(a value)";
  });
  if (names.join() !== placeholders.join()) {
    throw new Error(`hot statement binds ${names.join(", ")}, not ${placeholders.join(", ")}: ${sql}`);
  }
  return db.$client.prepare(sql);
}

interface Query {
  toSQL(): { sql: string; params: unknown[] };
}

/** A hot select's single row as an object with the keys of its `fields`, in their order. */
export function hotRow<K extends string, T extends Record<K, unknown>>(
  db: Db,
  query: Query,
  fields: readonly K[],
  placeholders: readonly string[],
): (...params: unknown[]) => T | undefined {
  const stmt = hotStatement(db, query, placeholders).raw(true);
  return (...params) => {
    const row = stmt.get(...params) as unknown[] | undefined;
    if (!row) return undefined;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) out[fields[i] as string] = row[i];
    return out as T;
  };
}
