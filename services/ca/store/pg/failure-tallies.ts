import { authFailedEvent, mergeTallies } from "../../core/audit.js";
import { eq, lte } from "../drizzle.cjs";
import { type FailureTalliesPort, tallyOf, tallyValues } from "../failure-tallies.js";
import { appendAudit } from "./audit.js";
import type { PgDb } from "./db.js";
import { authFailureTallies } from "./schema.js";

/**
 * store/failure-tallies.ts on PostgreSQL. `add` locks the address's row (FOR UPDATE) before it
 * merges, and `writeDue`'s DELETE waits for that lock and then sees the merged row: a count
 * added while a row becomes an event is either in that event or in a new row, never lost.
 */
export function pgFailureTallyStore(db: PgDb, auditing: boolean): FailureTalliesPort {
  return {
    async add(t) {
      if (!auditing) return;
      await db.transaction(async (tx) => {
        // the address's row, new or merged into; the loop is for a row that was turned into an
        // event between the INSERT and the SELECT (then this count starts a new row)
        for (;;) {
          const made = await tx
            .insert(authFailureTallies)
            .values(tallyValues(t))
            .onConflictDoNothing()
            .returning({ address: authFailureTallies.address });
          if (made.length > 0) return;
          const [row] = await tx
            .select()
            .from(authFailureTallies)
            .where(eq(authFailureTallies.address, t.address))
            .for("update");
          if (!row) continue;
          await tx
            .update(authFailureTallies)
            .set(tallyValues(mergeTallies(tallyOf(row), t)))
            .where(eq(authFailureTallies.address, t.address));
          return;
        }
      });
    },
    async writeDue(firstBy) {
      if (!auditing) return 0;
      return db.transaction(async (tx) => {
        const rows = await tx
          .delete(authFailureTallies)
          .where(lte(authFailureTallies.firstAt, firstBy))
          .returning();
        rows.sort((a, b) => a.lastAt - b.lastAt);
        for (const r of rows) await appendAudit(tx, authFailedEvent(tallyOf(r)));
        return rows.length;
      });
    },
  };
}
