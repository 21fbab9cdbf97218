import { type AuditEntry, authFailedEvent, type FailureTally, mergeTallies } from "../core/audit.js";
import type { Db } from "./db.js";
import { eq, lte } from "./drizzle.cjs";
import { authFailureTallies } from "./schema.js";

/**
 * Failed authentications per client address in the database (audit/failures.ts): every process
 * and replica adds what it counted to the address's one row, and whichever first finds the row
 * a window old turns it into one `auth.failed` event and deletes it, in one transaction. So a
 * flood through any number of processes is one event per address and window, and every attempt
 * is in one of them.
 */
export interface FailureTalliesPort {
  /** Adds `t` to its address's row (a new row when there is none). */
  add(t: FailureTally): Promise<void>;
  /**
   * Writes the `auth.failed` event of every row whose first attempt is at or before `firstBy`,
   * and deletes those rows, in one transaction; returns how many.
   */
  writeDue(firstBy: number): Promise<number>;
}

type Row = typeof authFailureTallies.$inferSelect;

export const tallyValues = (t: FailureTally) => ({
  ...t,
  tokens: JSON.stringify(t.tokens),
  reasons: JSON.stringify(t.reasons),
});

export function tallyOf(r: Row): FailureTally {
  const list = (text: string): string[] => {
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? v.map(String) : [];
    } catch {
      return [];
    }
  };
  return { ...r, tokens: list(r.tokens), reasons: list(r.reasons) };
}

/**
 * The SQLite tallies; `appendIn` writes an event in the caller's write transaction (the audit
 * store's), null when the store writes no audit events (then nothing is counted either).
 */
export function failureTallyStore(db: Db, appendIn: ((e: AuditEntry) => void) | null): FailureTalliesPort {
  const sqlite = db.$client;
  const addTx = sqlite.transaction((t: FailureTally) => {
    const row = db.select().from(authFailureTallies).where(eq(authFailureTallies.address, t.address)).get();
    const merged = row ? mergeTallies(tallyOf(row), t) : t;
    db.insert(authFailureTallies)
      .values(tallyValues(merged))
      .onConflictDoUpdate({ target: authFailureTallies.address, set: tallyValues(merged) })
      .run();
  });
  const dueTx = sqlite.transaction((firstBy: number, write: (e: AuditEntry) => void) => {
    const rows = db
      .delete(authFailureTallies)
      .where(lte(authFailureTallies.firstAt, firstBy))
      .returning()
      .all()
      .sort((a, b) => a.lastAt - b.lastAt);
    for (const r of rows) write(authFailedEvent(tallyOf(r)));
    return rows.length;
  });
  return {
    async add(t) {
      if (appendIn) addTx.immediate(t);
    },
    async writeDue(firstBy) {
      return appendIn ? dueTx.immediate(firstBy, appendIn) : 0;
    },
  };
}
