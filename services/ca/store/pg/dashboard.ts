import { assembleTimeline, type ExpiryTimeline, groupsSql, today } from "../dashboard.js";
import { sql } from "../drizzle.cjs";
import type { PgDb } from "./db.js";

/**
 * The overview's figures on PostgreSQL, as store/dashboard.ts on SQLite: certificate_days (kept
 * by a trigger, migrations/pg 0010) summed over its slots, and today's expired counted on
 * certificates_expiry, in one REPEATABLE READ transaction so that both come from one snapshot.
 */
export function pgDashboardStore(db: PgDb) {
  return {
    async expiryTimeline(now: number, days: number): Promise<ExpiryTimeline> {
      const { d0, day0 } = today(now);
      return db.transaction(
        async (tx) => {
          // d0 and days are integers of ours, not input: written into the SQL as numbers
          const groups = await tx.execute<{ k: string; renewed: string; n: string }>(
            sql.raw(groupsSql(String(Math.trunc(d0)), String(Math.trunc(days)))),
          );
          const expired = await tx.execute<{ all: string; superseded: string }>(sql`
            select count(*) as all, count(*) filter (where renewed_by is not null) as superseded
              from certificates where not_after > ${day0} and not_after <= ${now} and revoked_at is null`);
          const e = expired.rows[0];
          return assembleTimeline(
            groups.rows.map((r) => [Number(r.k), Number(r.renewed), Number(r.n)] as const),
            { all: Number(e?.all ?? 0), superseded: Number(e?.superseded ?? 0) },
            days,
          );
        },
        { isolationLevel: "repeatable read", accessMode: "read only" },
      );
    },
  };
}
