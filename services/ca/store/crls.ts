import type { CrlRecord } from "../core/types.js";
import type { Db } from "./db.js";
import { desc, lt } from "./drizzle.cjs";
import { crls } from "./schema.js";

export function crlStore(db: Db) {
  return {
    latest(): CrlRecord | null {
      const row = db.select().from(crls).orderBy(desc(crls.number)).limit(1).get();
      return row ? { ...row, der: Buffer.from(row.der, "base64") } : null;
    },
    /**
     * Stores a new CRL unless another process stored that number first; returns whether it did.
     * Only the current CRL is kept: the ones before it go in the same transaction (each was a
     * whole CRL, and the table grew by one with every revocation).
     */
    insert(rec: CrlRecord): boolean {
      return db.transaction((tx) => {
        const res = tx
          .insert(crls)
          .values({ ...rec, der: rec.der.toString("base64") })
          .onConflictDoNothing()
          .run();
        if (res.changes === 0) return false;
        tx.delete(crls).where(lt(crls.number, rec.number)).run();
        return true;
      });
    },
  };
}
export type CrlStore = ReturnType<typeof crlStore>;
