import { accessSync, chmodSync, closeSync, constants, existsSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type Database from "better-sqlite3";
import { storageFault } from "../../../shared/storage-fault.js";
import { type BetterSQLite3Database, drizzle, migrate } from "./drizzle.cjs";
import * as schema from "./schema.js";
import { connect, databaseFiles, requireDatabase } from "./sqlite-file.js";

export { BUSY_TIMEOUT_MS, connect, databaseFiles, requireDatabase } from "./sqlite-file.js";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface OpenDb {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

export interface OpenOptions {
  /**
   * Whether a missing database may be created: only `init` makes one. Everyone else works on a
   * CA whose keys exist, and a missing or empty database there means data was lost (moved,
   * truncated, a volume not mounted): starting afresh would forget every certificate,
   * revocation and token, so they refuse instead.
   */
  create?: boolean;
}

/** migrations/ at the repository root, from dist/services/ca/store/ or services/ca/store/. */
const MIGRATIONS = fileURLToPath(new URL("../../../../migrations", import.meta.url));
const MIGRATIONS_SRC = fileURLToPath(new URL("../../../migrations", import.meta.url));

/**
 * Opens the database in WAL mode with a busy timeout, so the CLI can work on it while `serve`
 * runs, and applies the drizzle-kit migrations. The database and its WAL hold token hashes,
 * EAB keys and the inventory: they are made 0600 whatever mode they had (SQLite gives the WAL
 * and shm files the database's mode when it creates them).
 */
export function openDb(path: string, o: OpenOptions = {}): OpenDb {
  try {
    return open(path, o);
  } catch (e) {
    throw unwritable(path, e) ?? e;
  }
}

/**
 * A database that cannot be opened for writing, named with why (SQLite says only "unable to
 * open database file"): a read-only mount, a full disk, no permission on the directory.
 */
function unwritable(path: string, err: unknown): Error | null {
  let reason = storageFault(err);
  if (reason === null) return null;
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch (e) {
    reason = storageFault(e) ?? reason;
  }
  return new Error(`cannot open ${path} for writing: ${reason}`, { cause: err });
}

function open(path: string, o: OpenOptions): OpenDb {
  if (o.create && !existsSync(path)) closeSync(openSync(path, "wx", 0o600));
  else requireDatabase(path);
  for (const f of databaseFiles(path)) if (existsSync(f)) chmodSync(f, 0o600);
  const sqlite = connect(path);
  try {
    sqlite.pragma("journal_mode = WAL");
    // FULL: each commit syncs the WAL before it returns, so an issued certificate is in the
    // inventory (and can be revoked) before the client gets it, power loss included. NORMAL
    // syncs only at checkpoints and can lose the last commits. Group commit (store/index.ts)
    // shares one sync among the issuances of one event-loop turn, and makes it on the
    // threadpool (wal-sync.ts) before their certificates are returned. Measured (issue 14, medians of
    // 7 rounds on a loaded 2-core VM whose fdatasync takes ~4.5 ms): one sign at a time 2.1 ->
    // 5.8 ms, 16 in flight 821 -> 701 signs/s.
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("foreign_keys = ON");
    const db = drizzle(sqlite, { schema });
    migrate(db, { migrationsFolder: import.meta.url.includes("/dist/") ? MIGRATIONS : MIGRATIONS_SRC });
    return { db, sqlite, close: () => sqlite.close() };
  } catch (e) {
    sqlite.close();
    throw e;
  }
}
