import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle, migrate } from "./drizzle.cjs";
import * as schema from "./schema.js";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface OpenDb {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

/** migrations/ at the repository root, from dist/services/ca/store/ or services/ca/store/. */
const MIGRATIONS = fileURLToPath(new URL("../../../../migrations", import.meta.url));
const MIGRATIONS_SRC = fileURLToPath(new URL("../../../migrations", import.meta.url));

/**
 * Opens the database in WAL mode with a busy timeout, so the CLI can work on it while `serve`
 * runs, and applies the drizzle-kit migrations.
 */
export function openDb(path: string): OpenDb {
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 10000");
  // WAL with synchronous=NORMAL is durable across application crashes, and across power loss
  // up to the last checkpoint-free commits; it keeps each issuance off the fsync path.
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: import.meta.url.includes("/dist/") ? MIGRATIONS : MIGRATIONS_SRC });
  return { db, sqlite, close: () => sqlite.close() };
}
