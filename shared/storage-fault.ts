/**
 * Whether an error means the data directory cannot be written right now (a full disk, a
 * read-only mount, an I/O error), and in which words: SQLite's result codes (better-sqlite3's
 * SqliteError.code, extended codes included) and node's errno codes. These are the operator's
 * to fix, not a bug: the client is told to come back (503 with Retry-After), and the log says why.
 */
export function storageFault(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== "string") continue;
    if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT")
      return `the disk of the data directory is full (${code})`;
    if (code.startsWith("SQLITE_READONLY") || code === "EROFS")
      return `the data directory is read-only (${code})`;
    if (code === "EPERM" || code === "EACCES") return `the data directory is not writable (${code})`;
    if (code.startsWith("SQLITE_IOERR") || code === "EIO")
      return `an I/O error in the data directory (${code})`;
    // another connection held its write lock past the busy timeout (store/db.ts)
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
      return `the database is locked by another process (${code})`;
    if (code.startsWith("SQLITE_CANTOPEN")) return `the database cannot be opened (${code})`;
    // the PostgreSQL store's DatabaseUnavailable (services/ca/store/pg/faults.ts): its message says why
    if (code === "EDBUNAVAILABLE") return e.message;
  }
  return null;
}
