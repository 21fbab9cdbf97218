import type { Db } from "./db.js";
import { and, gt, lt, lte, sql } from "./drizzle.cjs";
import { rateWindows } from "./schema.js";

/** One limit on one subject: `limit` names the limit, `subject` what it counts (a client address). */
export interface RateTake {
  limit: string;
  subject: string;
  now: number;
  /** events allowed per window */
  max: number;
  windowMs: number;
}

/** Seconds until the window is over when `count` is past `max` (at least 1), else 0. */
export function waitOf(row: { windowStart: number; count: number }, t: RateTake): number {
  if (row.count <= t.max) return 0;
  return Math.max(1, Math.ceil((row.windowStart + t.windowMs - t.now) / 1000));
}

/** The keys of one limit: a range of the primary key (";" follows ":"). */
function thisLimit(limit: string) {
  return and(gt(rateWindows.key, `${limit}:`), lt(rateWindows.key, `${limit};`));
}

/**
 * Rate limits in fixed windows, in the database, so that every process and replica on it counts
 * together (acme/accounts.ts: new accounts per client address). Every function returns a Promise
 * (the async store ports).
 */
export function rateWindowStore(db: Db) {
  return {
    /**
     * Counts one event and says whether it was within the limit: 0, else the seconds to wait.
     * One statement (an upsert that increments and returns the row), so that two at once from
     * two processes both count and at most `max` a window are let through. A window `windowMs`
     * old starts again at `now`; this limit's windows that are over are dropped.
     */
    async take(t: RateTake): Promise<number> {
      const key = `${t.limit}:${t.subject}`;
      const over = sql`${t.now} - ${rateWindows.windowStart} >= ${t.windowMs}`;
      const row = db
        .insert(rateWindows)
        .values({ key, windowStart: t.now, count: 1 })
        .onConflictDoUpdate({
          target: rateWindows.key,
          set: {
            count: sql`case when ${over} then 1 else ${rateWindows.count} + 1 end`,
            windowStart: sql`case when ${over} then ${t.now} else ${rateWindows.windowStart} end`,
          },
        })
        .returning({ windowStart: rateWindows.windowStart, count: rateWindows.count })
        .get();
      db.delete(rateWindows)
        .where(and(thisLimit(t.limit), lte(rateWindows.windowStart, t.now - t.windowMs)))
        .run();
      return waitOf(row, t);
    },
  };
}
export type RateWindowStore = ReturnType<typeof rateWindowStore>;
