import type { CrlRecord } from "../core/types.js";
import type { Db } from "./db.js";
import { desc } from "./drizzle.cjs";
import { crls } from "./schema.js";

export function crlStore(db: Db) {
  return {
    latest(): CrlRecord | null {
      const row = db.select().from(crls).orderBy(desc(crls.number)).limit(1).get();
      return row ? { ...row, der: Buffer.from(row.der, "base64") } : null;
    },
    /** Stores a new CRL unless another process stored that number first; returns whether it did. */
    insert(rec: CrlRecord): boolean {
      const res = db
        .insert(crls)
        .values({ ...rec, der: rec.der.toString("base64") })
        .onConflictDoNothing()
        .run();
      return res.changes > 0;
    },
  };
}
export type CrlStore = ReturnType<typeof crlStore>;
