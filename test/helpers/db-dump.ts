import Database from "better-sqlite3";

/**
 * Every row of every certyard table in a SQLite file, each table's rows sorted, as plain text:
 * two databases with the same dump hold the same data (for db copy's round trips).
 */
export function dumpSqlite(path: string): Record<string, string[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%' order by name",
      )
      .pluck()
      .all() as string[];
    return Object.fromEntries(
      tables.map((t) => [
        t,
        (db.prepare(`select * from "${t}"`).all() as Record<string, unknown>[])
          .map((r) => JSON.stringify(r))
          .sort(),
      ]),
    );
  } finally {
    db.close();
  }
}
