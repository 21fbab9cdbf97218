import {
  assembleTimeline,
  countsOf,
  type ExpiryTimeline,
  groupsSql,
  type StateCounts,
  today,
  windowParts,
} from "../dashboard.js";
import { sql } from "../drizzle.cjs";
import type { PgDb, Queryable } from "./db.js";

/**
 * The certificates not revoked with notAfter in (lo, hi], all of them (on certificates_expiry
 * alone, index only) and the superseded among them (on the superseded's partial index): a range
 * of at most a day's certificates. One query counting both read every row of the range from the
 * table, for renewed_by: ~11,000 rows a day at 1,000,000 certificates.
 */
async function inRange(tx: Queryable, lo: number, hi: number): Promise<{ all: number; superseded: number }> {
  const all = await tx.execute<{ n: string }>(sql`
    select count(*) as n from certificates where not_after > ${lo} and not_after <= ${hi} and revoked_at is null`);
  const superseded = await tx.execute<{ n: string }>(sql`
    select count(*) as n from certificates
     where renewed_by is not null and not_after > ${lo} and not_after <= ${hi} and revoked_at is null`);
  return { all: Number(all.rows[0]?.n ?? 0), superseded: Number(superseded.rows[0]?.n ?? 0) };
}

async function timeline(tx: Queryable, now: number, days: number): Promise<ExpiryTimeline> {
  const { d0, day0 } = today(now);
  // d0 and days are integers of ours, not input: written into the SQL as numbers
  const groups = await tx.execute<{ k: string; renewed: string; n: string }>(
    sql.raw(groupsSql(String(Math.trunc(d0)), String(Math.trunc(days)))),
  );
  return assembleTimeline(
    groups.rows.map((r) => [Number(r.k), Number(r.renewed), Number(r.n)] as const),
    await inRange(tx, day0, now),
    days,
  );
}

/**
 * The overview's figures on PostgreSQL, as store/dashboard.ts on SQLite: certificate_days (kept
 * by a trigger, migrations/pg 0010) summed over its slots, and today's expired counted on
 * certificates_expiry, in one REPEATABLE READ transaction so that both come from one snapshot.
 */
export function pgDashboardStore(db: PgDb) {
  const snapshot = { isolationLevel: "repeatable read", accessMode: "read only" } as const;
  return {
    async expiryTimeline(now: number, days: number): Promise<ExpiryTimeline> {
      return db.transaction((tx) => timeline(tx, now, days), snapshot);
    },
    /** certificates.stateCounts' figures (the metrics' gauges) from the summary, as on SQLite. */
    async stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts> {
      return db.transaction(async (tx) => {
        const { parts, days } = windowParts(now, windowsMs);
        const valid: number[] = [];
        for (const p of parts) {
          const r = await inRange(tx, p.lo, p.hi);
          valid.push(r.all - r.superseded);
        }
        return countsOf(await timeline(tx, now, days), parts, valid);
      }, snapshot);
    },
  };
}
