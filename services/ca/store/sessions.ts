import type { Db } from "./db.js";
import { eq, lt, or } from "./drizzle.cjs";
import { uiSessions } from "./schema.js";

/** A dashboard session as stored: the hash of its secret, never the secret. */
export interface SessionRecord {
  idHash: string;
  adminTokenId: string;
  createdAt: number;
  lastSeen: number;
  expiresAt: number;
}

/** Dashboard sessions (ui_sessions); every function returns a Promise (the async store ports). */
export function sessionStore(db: Db) {
  return {
    async create(s: SessionRecord): Promise<void> {
      db.insert(uiSessions).values(s).run();
    },
    async find(idHash: string): Promise<SessionRecord | null> {
      return db.select().from(uiSessions).where(eq(uiSessions.idHash, idHash)).get() ?? null;
    },
    async touch(idHash: string, at: number): Promise<void> {
      db.update(uiSessions).set({ lastSeen: at }).where(eq(uiSessions.idHash, idHash)).run();
    },
    async remove(idHash: string): Promise<void> {
      db.delete(uiSessions).where(eq(uiSessions.idHash, idHash)).run();
    },
    /** Drops the sessions that ended by `now` (absolute end, or idle since before `idleSince`). */
    async sweep(now: number, idleSince: number): Promise<number> {
      return db
        .delete(uiSessions)
        .where(or(lt(uiSessions.expiresAt, now), lt(uiSessions.lastSeen, idleSince)))
        .run().changes;
    },
  };
}
export type SessionStore = ReturnType<typeof sessionStore>;
