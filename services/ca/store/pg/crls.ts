import type { CrlRecord } from "../../core/types.js";
import { desc, lt } from "../drizzle.cjs";
import type { PgDb } from "./db.js";
import { crls } from "./schema.js";

/** The CRLs on PostgreSQL: what store/crls.ts does on SQLite, each call a promise. */
export function pgCrlStore(db: PgDb) {
  return {
    async latest(): Promise<CrlRecord | null> {
      const [row] = await db.select().from(crls).orderBy(desc(crls.number)).limit(1);
      return row ? { ...row, der: Buffer.from(row.der, "base64") } : null;
    },
    /**
     * Stores a new CRL unless another replica stored that number first; returns whether it did.
     * Only the current CRL is kept: the ones before it go in the same transaction.
     */
    async insert(rec: CrlRecord): Promise<boolean> {
      return db.transaction(async (tx) => {
        const made = await tx
          .insert(crls)
          .values({ ...rec, der: rec.der.toString("base64") })
          .onConflictDoNothing()
          .returning({ number: crls.number });
        if (made.length === 0) return false;
        await tx.delete(crls).where(lt(crls.number, rec.number));
        return true;
      });
    },
  };
}
