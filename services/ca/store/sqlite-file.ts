import { existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";

/*
 * The database file itself, without drizzle: connections for those that do not migrate it, and
 * the check that it is there. Apart from db.ts so that a command that only checks the database
 * (fingerprint, rotate's first step) loads neither drizzle nor the store.
 */

/** How long a statement waits for another connection's lock (a CLI command, another worker). */
export const BUSY_TIMEOUT_MS = 10_000;

/**
 * A connection to an existing database file, for those that do not migrate it (the checks here,
 * backups): every connection waits out another's write lock for BUSY_TIMEOUT_MS instead of
 * failing at once with SQLITE_BUSY.
 */
export function connect(path: string, o: { readonly?: boolean } = {}): Database.Database {
  const sqlite = new Database(path, { fileMustExist: true, readonly: o.readonly ?? false });
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return sqlite;
}

/** The files SQLite keeps for a database in WAL mode. */
export const databaseFiles = (path: string) => [path, `${path}-wal`, `${path}-shm`];

/**
 * For a CA whose keys exist: the database must be there and hold the tables init made (a new
 * SQLite file has none). Commands that never write the database (fingerprint) ask it too.
 */
export function requireDatabase(path: string): void {
  if (!existsSync(path)) throw new Error(missingMessage(path, "is missing"));
  if (statSync(path).size === 0) throw new Error(missingMessage(path, "is empty"));
  const sqlite = connect(path);
  try {
    const migrated = sqlite
      .prepare("select 1 from sqlite_master where type = 'table' and name = '__drizzle_migrations'")
      .get();
    if (migrated === undefined) throw new Error(missingMessage(path, "is empty"));
  } finally {
    sqlite.close();
  }
}

function missingMessage(path: string, what: string): string {
  return (
    `${path} ${what}, but the CA keys beside it exist: restore it from a backup (with serve stopped, ` +
    `copy the backup to ${path}); nothing was changed`
  );
}
