import { connect } from "./db.js";

/**
 * A consistent copy of the live database, taken while serve writes to it. VACUUM INTO reads
 * the whole database inside one read transaction, so the copy is the database as of one
 * commit; in WAL mode that transaction blocks no writer. (The online backup API, the other
 * way, starts over each time another connection writes, so under a steady load of signs it
 * may never finish.) The database is not migrated or otherwise written through this connection.
 */
export function snapshotDatabase(path: string, dest: string): void {
  const db = connect(path);
  try {
    db.prepare("VACUUM INTO ?").run(dest);
  } finally {
    db.close();
  }
}

/** SQLite's own check of a database file: "ok", or what it found wrong (the first lines). */
export function integrityCheck(path: string): string {
  const db = connect(path, { readonly: true });
  try {
    const rows = db.pragma("integrity_check") as { integrity_check: string }[];
    return rows
      .slice(0, 5)
      .map((r) => r.integrity_check)
      .join("; ");
  } finally {
    db.close();
  }
}

/** The highest CRL number stored in a database file (0 when it holds none). */
export function storedCrlNumber(path: string): number {
  const db = connect(path, { readonly: true });
  try {
    const row = db.prepare("select max(number) as n from crls").get() as { n: number | null } | undefined;
    return row?.n ?? 0;
  } finally {
    db.close();
  }
}
