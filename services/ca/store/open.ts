import type { DbLocation } from "./db-url.js";
import type { StorePorts } from "./ports.js";
import { requireDatabase } from "./sqlite-file.js";

/**
 * The store where --db says: SQLite (store/index.ts) or PostgreSQL (store/pg/index.ts, loaded
 * only then: a SQLite process never loads pg). Either is loaded when a store is opened, so that
 * requireStore (fingerprint, rotate) loads neither drizzle nor the store's modules. `create`:
 * only init may find no tables there; `serve`: serve's pool on PostgreSQL (pg/db.ts OpenPgOptions).
 */
export async function openStoreAt(
  db: DbLocation,
  o: { create?: boolean; audit?: boolean; serve?: boolean } = {},
): Promise<StorePorts> {
  if (db.dialect === "sqlite") {
    const { openStore } = await import("./index.js");
    return openStore(db.path, o);
  }
  const { openPgStore } = await import("./pg/index.js");
  return openPgStore(db, o);
}

/**
 * For init on PostgreSQL: the database answers, takes the migrations, and holds no token yet
 * (another CA's data there would be mixed with this one's).
 */
export async function requireFreshStore(db: DbLocation): Promise<void> {
  const store = await openStoreAt(db, { create: true });
  try {
    if ((await store.tokens.list()).length > 0) {
      throw new Error(
        `${db.dialect === "sqlite" ? db.path : db.redacted} holds another CA's data already: give init an empty database; nothing was changed`,
      );
    }
  } finally {
    await store.close();
  }
}

/**
 * For a CA whose keys exist: its database must be there and hold the tables init made
 * (store/db.ts requireDatabase; on PostgreSQL, the migrations' table). Nothing is written.
 */
export async function requireStore(db: DbLocation): Promise<void> {
  if (db.dialect === "sqlite") return requireDatabase(db.path);
  const { requirePg } = await import("./pg/db.js");
  await requirePg(db);
}
