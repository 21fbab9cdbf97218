import { lte, sql } from "../drizzle.cjs";
import type { PgDb } from "./db.js";
import { authFailures } from "./schema.js";

type Window = { windowStart: number; count: number };
interface Asked {
  address: string;
  resolve(w: Window | null): void;
  reject(e: unknown): void;
}

/** store/auth-failures.ts on PostgreSQL: the same functions, the same one-statement count. */
export function pgAuthFailureStore(db: PgDb) {
  // read before every authenticated request: built once, a named prepared statement (pg/hot.ts)
  const windowQuery = {
    name: "certyard_auth_windows",
    text: db
      .select({
        address: authFailures.address,
        windowStart: authFailures.windowStart,
        count: authFailures.count,
      })
      .from(authFailures)
      .where(sql`${authFailures.address} = any(${sql.placeholder("addresses")}::text[])`)
      .toSQL().sql,
    rowMode: "array",
  } as const;
  /**
   * The windows asked for while a read is in flight are read together by the next one, which
   * starts after they were asked: each answer is as fresh as a read of its own, and a burst of
   * requests costs one round trip, not one each.
   */
  const asked: Asked[] = [];
  let reading = false;
  async function readAll(): Promise<void> {
    try {
      while (asked.length > 0) {
        const batch = asked.splice(0);
        try {
          const addresses = [...new Set(batch.map((a) => a.address))];
          const r = await db.$client.query<[string, number, number]>({ ...windowQuery, values: [addresses] });
          const found = new Map(
            r.rows.map(([address, windowStart, count]) => [address, { windowStart, count }]),
          );
          for (const a of batch) a.resolve(found.get(a.address) ?? null);
        } catch (e) {
          for (const a of batch) a.reject(e);
        }
      }
    } finally {
      reading = false;
    }
  }
  return {
    window(address: string): Promise<Window | null> {
      return new Promise((resolve, reject) => {
        asked.push({ address, resolve, reject });
        if (!reading) {
          reading = true;
          setImmediate(readAll);
        }
      });
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
