import type { LooseDb, Row, Side } from "../copy-side.js";
import { type AnyColumn, asc, count, inArray, is, type SQL } from "../drizzle.cjs";
import { openPg, type PgLocation } from "./db.js";
import { drizzle, getTableConfig, PgTable } from "./drizzle.cjs";
import * as schema from "./schema.js";

export const tableConfig = (table: object) => getTableConfig(table as PgTable);

/**
 * db copy's PostgreSQL side (store/copy.ts says what it does): one connection, in a
 * REPEATABLE READ READ ONLY transaction as the source (one snapshot), in a transaction as the
 * target, migrated first (the target may be a database with no tables yet).
 */
export async function pgSide(
  loc: PgLocation,
  role: "source" | "target",
  h: { keyOrder(key: AnyColumn[], after: unknown[] | null): SQL | undefined },
): Promise<Side> {
  const { db: pool, close } = await openPg(loc, { create: role === "target" });
  const client = await pool.$client.connect();
  let done = false;
  try {
    await client.query(role === "source" ? "begin isolation level repeatable read read only" : "begin");
  } catch (e) {
    client.release();
    await close();
    throw e;
  }
  // the generic copy passes its tables through this shape (copy.ts, LooseDb)
  const db = drizzle(client, { schema }) as unknown as LooseDb;
  const certificates = schema.certificates;
  return {
    label: loc.redacted,
    tables: new Map(Object.entries(schema).filter(([, v]) => is(v, PgTable))),
    async count(table) {
      const [row] = await db.select({ n: count() }).from(table);
      return Number(row?.n ?? 0);
    },
    async page(table, key, after, limit) {
      return db
        .select()
        .from(table)
        .where(h.keyOrder(key, after))
        .orderBy(...key.map((c) => asc(c)))
        .limit(limit);
    },
    async insert(table, rows: Row[]) {
      await db.insert(table).values(rows);
    },
    async pems(serials) {
      const rows = await db
        .select({ serial: certificates.serial, pem: certificates.pem })
        .from(certificates)
        .where(inArray(certificates.serial, serials));
      return new Map(rows.map((r) => [String(r.serial), String(r.pem)]));
    },
    async commit() {
      // the audit events came with their ids: the identity continues after them, so the next
      // event appended here does not collide with a copied one
      if (role === "target")
        await client.query(
          "select setval('audit_events_id_seq', coalesce((select max(id) from audit_events), 0) + 1, false)",
        );
      await client.query("commit");
      done = true;
    },
    async close() {
      try {
        if (!done) await client.query("rollback");
      } finally {
        client.release();
        await close();
      }
    },
  };
}
