import { eq, lte, sql } from "../drizzle.cjs";
import type { PgDb } from "./db.js";
import { authFailures } from "./schema.js";

/** store/auth-failures.ts on PostgreSQL: the same functions, the same one-statement count. */
export function pgAuthFailureStore(db: PgDb) {
  // read before every authenticated request: built once, a named prepared statement (pg/hot.ts)
  const windowQuery = {
    name: "certyard_auth_window",
    text: db
      .select({ windowStart: authFailures.windowStart, count: authFailures.count })
      .from(authFailures)
      .where(eq(authFailures.address, sql.placeholder("address")))
      .toSQL().sql,
    rowMode: "array",
  } as const;
  return {
    async window(address: string): Promise<{ windowStart: number; count: number } | null> {
      const r = await db.$client.query<[number, number]>({ ...windowQuery, values: [address] });
      const row = r.rows[0];
      return row ? { windowStart: row[0], count: row[1] } : null;
    },
    async hit(address: string, now: number, windowMs: number): Promise<void> {
      const over = sql`${now} - ${authFailures.windowStart} >= ${windowMs}`;
      await db
        .insert(authFailures)
        .values({ address, windowStart: now, count: 1 })
        .onConflictDoUpdate({
          target: authFailures.address,
          set: {
            count: sql`case when ${over} then 1 else ${authFailures.count} + 1 end`,
            windowStart: sql`case when ${over} then ${now} else ${authFailures.windowStart} end`,
          },
        });
      await db.delete(authFailures).where(lte(authFailures.windowStart, now - windowMs));
    },
  };
}
