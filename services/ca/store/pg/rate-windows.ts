import { and, gt, lt, lte, sql } from "../drizzle.cjs";
import { type RateTake, waitOf } from "../rate-windows.js";
import type { PgDb } from "./db.js";
import { rateWindows } from "./schema.js";

function thisLimit(limit: string) {
  return and(gt(rateWindows.key, `${limit}:`), lt(rateWindows.key, `${limit};`));
}

/** store/rate-windows.ts on PostgreSQL: the same function, the same one-statement count. */
export function pgRateWindowStore(db: PgDb) {
  return {
    async take(t: RateTake): Promise<number> {
      const key = `${t.limit}:${t.subject}`;
      const over = sql`${t.now}::bigint - ${rateWindows.windowStart} >= ${t.windowMs}::bigint`;
      const [row] = await db
        .insert(rateWindows)
        .values({ key, windowStart: t.now, count: 1 })
        .onConflictDoUpdate({
          target: rateWindows.key,
          set: {
            count: sql`case when ${over} then 1 else ${rateWindows.count} + 1 end`,
            windowStart: sql`case when ${over} then ${t.now}::bigint else ${rateWindows.windowStart} end`,
          },
        })
        .returning({ windowStart: rateWindows.windowStart, count: rateWindows.count });
      await db
        .delete(rateWindows)
        .where(and(thisLimit(t.limit), lte(rateWindows.windowStart, t.now - t.windowMs)));
      if (!row) throw new Error("rate_windows: the upsert returned no row");
      return waitOf(row, t);
    },
  };
}
