import { DAY_MS, type ExpiryTimeline } from "../dashboard.js";
import { sql } from "../drizzle.cjs";
import type { PgDb } from "./db.js";

/**
 * The overview's figures on PostgreSQL (store/dashboard.ts on SQLite): one pass with FILTER
 * clauses for the states and one grouped query over certificates_expiry for the days. A day
 * runs from just after midnight to midnight inclusive, as SQLite's ranges (> start, <= end) do.
 */
export function pgDashboardStore(db: PgDb) {
  return {
    async expiryTimeline(now: number, days: number): Promise<ExpiryTimeline> {
      const day0 = Math.floor(now / DAY_MS) * DAY_MS;
      const counts = await db.execute<{
        valid: string;
        superseded: string;
        expired: string;
        revoked: string;
      }>(sql`
        select count(*) filter (where revoked_at is null and not_after > ${now} and renewed_by is null) as valid,
               count(*) filter (where revoked_at is null and not_after > ${now} and renewed_by is not null) as superseded,
               count(*) filter (where revoked_at is null and not_after <= ${now}) as expired,
               count(*) filter (where revoked_at is not null) as revoked
          from certificates`);
      const byDay = await db.execute<{ k: string; n: string }>(sql`
        select (not_after - ${day0} - 1) / ${DAY_MS} as k, count(*) as n from certificates
         where not_after > ${now} and revoked_at is null and renewed_by is null group by k`);
      const perDay = new Array<number>(days).fill(0);
      let later = 0;
      for (const { k, n } of byDay.rows) {
        const d = Number(k);
        if (d < days) perDay[d] = Number(n);
        else later += Number(n);
      }
      const c = counts.rows[0];
      return {
        counts: {
          valid: Number(c?.valid ?? 0),
          superseded: Number(c?.superseded ?? 0),
          expired: Number(c?.expired ?? 0),
          revoked: Number(c?.revoked ?? 0),
        },
        perDay,
        later,
      };
    },
  };
}
