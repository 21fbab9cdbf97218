import type { Db } from "./db.js";
import { eq, lte, sql } from "./drizzle.cjs";
import { hotRow } from "./hot.js";
import { authFailures } from "./schema.js";

/**
 * Failed authentications per client address in fixed windows, in the database, so that every
 * process and replica on it counts a client's failures together (tokens/failures.ts). Every
 * function returns a Promise (the async store ports).
 */
export function authFailureStore(db: Db) {
  // Read on every token-authenticated request (POST /v1/sign among them): built by drizzle once.
  const windowOf = hotRow<"windowStart" | "count", { windowStart: number; count: number }>(
    db,
    db
      .select({ windowStart: authFailures.windowStart, count: authFailures.count })
      .from(authFailures)
      .where(eq(authFailures.address, sql.placeholder("address"))),
    ["windowStart", "count"],
    ["address"],
  );
  return {
    /** The address's window: its start and count, null when it has none. */
    async window(address: string): Promise<{ windowStart: number; count: number } | null> {
      return windowOf(address) ?? null;
    },
    /**
     * Counts one failure: one statement, so that two at once from two processes both count; a
     * window `windowMs` old starts again at `now`. Windows over by `now` are dropped (failures
     * are rare, and the index on window_start makes that cheap).
     */
    async hit(address: string, now: number, windowMs: number): Promise<void> {
      const over = sql`${now} - ${authFailures.windowStart} >= ${windowMs}`;
      db.insert(authFailures)
        .values({ address, windowStart: now, count: 1 })
        .onConflictDoUpdate({
          target: authFailures.address,
          set: {
            count: sql`case when ${over} then 1 else ${authFailures.count} + 1 end`,
            windowStart: sql`case when ${over} then ${now} else ${authFailures.windowStart} end`,
          },
        })
        .run();
      db.delete(authFailures)
        .where(lte(authFailures.windowStart, now - windowMs))
        .run();
    },
  };
}
export type AuthFailureStore = ReturnType<typeof authFailureStore>;
