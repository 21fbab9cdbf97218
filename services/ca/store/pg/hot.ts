import { getTableColumns, getTableName } from "../drizzle.cjs";
import type { PgColumn, PgTable } from "./drizzle.cjs";

/**
 * Statements that run on every issuance on PostgreSQL (the twin of ../hot.ts): their SQL is
 * built once, from the schema's table and column names and types, and run by node-postgres as
 * named prepared statements, so a call costs neither drizzle's query building nor PostgreSQL's
 * parsing and planning. Many rows go in one statement as one array per column (unnest), so a
 * batch costs a round trip whatever its size.
 */

/** The named columns of `table`, in the order given, with their SQL types. */
function columnsOf<T extends PgTable>(table: T, keys: readonly string[]): { key: string; col: PgColumn }[] {
  const all = getTableColumns(table) as Record<string, PgColumn>;
  return keys.map((key) => {
    const col = all[key];
    if (!col) throw new Error(`${getTableName(table)} has no column ${key}`);
    return { key, col };
  });
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * `insert into <table> (<columns>) select ... from unnest($1::<type>[], ...)`, the rows in the
 * order of the arrays (`with ordinality`, so an identity column numbers them in that order), the
 * parameters numbered from `first`. `where` filters the rows, `tail` follows the select (an
 * `on conflict` clause, a `returning` one).
 */
export function unnestInsert<T extends PgTable>(
  table: T,
  keys: readonly (keyof T["$inferInsert"] & string)[],
  first = 1,
  { where = "", tail = "" } = {},
): string {
  const cols = columnsOf(table, keys);
  const names = cols.map((c) => quoted(c.col.name)).join(", ");
  const arrays = cols.map((c, i) => `$${first + i}::${c.col.getSQLType()}[]`).join(", ");
  const aliases = cols.map((_, i) => `c${i}`);
  return (
    `insert into ${quoted(getTableName(table))} (${names}) ` +
    `select ${aliases.join(", ")} from unnest(${arrays}) with ordinality as v(${aliases.join(", ")}, o)` +
    `${where === "" ? "" : ` where ${where}`} order by o${tail === "" ? "" : ` ${tail}`}`
  );
}

/** The rows as one array per column, in `keys`' order, each value as the column maps it (jsonb as text). */
export function unnestValues<T extends PgTable, K extends keyof T["$inferInsert"] & string>(
  table: T,
  keys: readonly K[],
  rows: readonly { [k in K]?: unknown }[],
): unknown[][] {
  return columnsOf(table, keys).map(({ key, col }) =>
    rows.map((r) => {
      const v = r[key as K];
      return v === null || v === undefined ? null : col.mapToDriverValue(v);
    }),
  );
}

/** The quoted name of a column, for SQL written around the schema. */
export const columnName = (col: PgColumn): string => quoted(col.name);
export const tableName = (table: PgTable): string => quoted(getTableName(table));
