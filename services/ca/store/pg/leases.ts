import type { PgDb } from "./db.js";

/** Milliseconds since the epoch by the database's clock, so that replicas' clocks need not agree. */
const DB_NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** Leases on PostgreSQL: what store/leases.ts does on SQLite, by the database's clock. */
export function pgLeaseStore(db: PgDb) {
  const q = db.$client;
  return {
    async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
      const r = await q.query(
        `insert into leases (name, holder, expires_at) values ($1, $2, ${DB_NOW} + $3)
         on conflict (name) do update set holder = $2, expires_at = ${DB_NOW} + $3
         where leases.holder = $2 or leases.expires_at <= ${DB_NOW}`,
        [name, holder, ttlMs],
      );
      return r.rowCount === 1;
    },
    async renew(name: string, holder: string, ttlMs: number): Promise<boolean> {
      const r = await q.query(
        `update leases set expires_at = ${DB_NOW} + $3 where name = $1 and holder = $2`,
        [name, holder, ttlMs],
      );
      return r.rowCount === 1;
    },
    async release(name: string, holder: string): Promise<void> {
      await q.query("delete from leases where name = $1 and holder = $2", [name, holder]);
    },
  };
}
