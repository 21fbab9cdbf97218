import { eq, lt, or } from "../drizzle.cjs";
import type { SessionRecord } from "../sessions.js";
import type { PgDb } from "./db.js";
import { uiSessions } from "./schema.js";

/** Dashboard sessions on PostgreSQL: what store/sessions.ts does on SQLite. */
export function pgSessionStore(db: PgDb) {
  return {
    async create(s: SessionRecord): Promise<void> {
      await db.insert(uiSessions).values(s);
    },
    async find(idHash: string): Promise<SessionRecord | null> {
      const [row] = await db.select().from(uiSessions).where(eq(uiSessions.idHash, idHash));
      return row ?? null;
    },
    async touch(idHash: string, at: number): Promise<void> {
      await db.update(uiSessions).set({ lastSeen: at }).where(eq(uiSessions.idHash, idHash));
    },
    async remove(idHash: string): Promise<void> {
      await db.delete(uiSessions).where(eq(uiSessions.idHash, idHash));
    },
    async sweep(now: number, idleSince: number): Promise<number> {
      const gone = await db
        .delete(uiSessions)
        .where(or(lt(uiSessions.expiresAt, now), lt(uiSessions.lastSeen, idleSince)))
        .returning({ idHash: uiSessions.idHash });
      return gone.length;
    },
  };
}
