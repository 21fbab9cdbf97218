import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { type InitOpts, init } from "../../services/ca/cli/init.js";
import type { DataOpts } from "../../services/ca/cli/options.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { openStoreAt } from "../../services/ca/store/open.js";
import type { StorePorts } from "../../services/ca/store/ports.js";

/**
 * Which database the integration suite's CAs use. Unset (npm test): SQLite in each data
 * directory, as before. `CERTYARD_TEST_DB=postgres` with `CERTYARD_TEST_PG_URL` (a superuser's
 * URL on a throwaway server, which test/e2e/integration-pg.test.ts starts): every data directory a
 * test initialises gets a database of its own on that server, named from the directory's path, so
 * a restart on the same directory finds its data again, and every command the tests run on the
 * directory is given it (--db in process, CERTYARD_DB to child processes).
 */
export const TEST_DB = process.env.CERTYARD_TEST_DB === "postgres" ? "postgres" : "sqlite";
export const onPostgres = TEST_DB === "postgres";

const PSQL = "/usr/lib/postgresql/15/bin/psql";

function serverUrl(): string {
  const url = process.env.CERTYARD_TEST_PG_URL;
  if (!url)
    throw new Error("CERTYARD_TEST_DB=postgres needs CERTYARD_TEST_PG_URL (postgres://USER@HOST:PORT/DB)");
  return url;
}

/** The database name for a data directory: its path hashed (paths are unique, names are short). */
function databaseOf(dataDir: string): string {
  return `cy_${createHash("sha256").update(resolve(dataDir)).digest("hex").slice(0, 24)}`;
}

/** The server's URL with another database in its path. */
function urlOf(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/** The --db URL for a data directory on PostgreSQL; undefined on SQLite (the default, in the directory). */
export function dbUrlFor(dataDir: string): string | undefined {
  return onPostgres ? urlOf(databaseOf(dataDir)) : undefined;
}

/** `{ data, db }` for the CLI's functions run in process (init, tokenRevoke, eabCreate, ...). */
export function dataOpts(dataDir: string): DataOpts {
  const db = dbUrlFor(dataDir);
  return db === undefined ? { data: dataDir } : { data: dataDir, db };
}

/** The environment that gives a child process's command the directory's database (CERTYARD_DB). */
export function dbEnv(dataDir: string): Record<string, string> {
  const db = dbUrlFor(dataDir);
  return db === undefined ? {} : { CERTYARD_DB: db };
}

/**
 * For a command line of certyard-ca: the environment naming the database of its `--data`
 * directory, unless the command names one itself (--db, or CERTYARD_DB in `env`).
 */
export function cliDbEnv(args: string[], env: Record<string, string> = {}): Record<string, string> {
  if (!onPostgres || args.some((a) => a === "--db" || a.startsWith("--db=")) || "CERTYARD_DB" in env)
    return {};
  const data = dataDirOf(args, env);
  return data === undefined ? {} : dbEnv(data);
}

/** The data directory a certyard-ca command line works on: --data, else CERTYARD_DATA in `env`. */
export function dataDirOf(args: string[], env: Record<string, string> = {}): string | undefined {
  const i = args.indexOf("--data");
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith("--data="))?.slice("--data=".length) ?? env.CERTYARD_DATA;
}

const psqlArgs = (sql: string) => [serverUrl(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql];
const createSql = (dataDir: string) => `create database "${databaseOf(dataDir)}"`;
const dropSql = (database: string) => `drop database if exists "${database}" with (force)`;

/** Before init on PostgreSQL: an empty database for the directory (nothing on SQLite). */
export async function freshDb(dataDir: string): Promise<void> {
  if (!onPostgres) return;
  dropWhenProcessEnds(databaseOf(dataDir));
  await psql(dropSql(databaseOf(dataDir)));
  await psql(createSql(dataDir));
}

/** freshDb, blocking: for the command lines that run `certyard-ca init` synchronously. */
export function freshDbSync(dataDir: string): void {
  if (!onPostgres) return;
  dropWhenProcessEnds(databaseOf(dataDir));
  execFileSync(PSQL, psqlArgs(dropSql(databaseOf(dataDir))), { stdio: ["ignore", "ignore", "pipe"] });
  execFileSync(PSQL, psqlArgs(createSql(dataDir)), { stdio: ["ignore", "ignore", "pipe"] });
}

/** Drops the directory's database (with the CA's data directory, at the end of a test). */
export async function dropDb(dataDir: string): Promise<void> {
  if (!onPostgres) return;
  created.delete(databaseOf(dataDir));
  await psql(dropSql(databaseOf(dataDir)));
}

/** The databases made here and not dropped yet: dropped when the test file's process ends. */
const created = new Set<string>();
let dropping = false;
function dropWhenProcessEnds(database: string) {
  if (!dropping) {
    dropping = true;
    // at exit, where only synchronous work runs (beforeExit may come between two tests)
    process.once("exit", () => {
      for (const database of created) execFileSync(PSQL, psqlArgs(dropSql(database)), { stdio: "ignore" });
    });
  }
  created.add(database);
}

function psql(sql: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(PSQL, psqlArgs(sql), { timeout: 60_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`psql ${sql}: ${err.message}\n${stderr}`));
      else resolvePromise();
    });
  });
}

/** The store of a data directory, on whichever database the suite runs (for tests that read it). */
export function openTestStore(dataDir: string): Promise<StorePorts> {
  return openStoreAt(dbLocationFor(dataDir));
}

/** The directory's database as serve and the store take it (caPaths(dir, dbLocationFor(dir))). */
export const dbLocationFor = (dataDir: string) => parseDbUrl(dbUrlFor(dataDir), dataDir);

/**
 * SQL on a data directory's database, SQLite or PostgreSQL, for the tests that look at or
 * change rows behind the CA's back: `?` placeholders (numbered for PostgreSQL here), SQL both
 * dialects read alike, rows with int8 read as numbers.
 */
export async function sqlRows(dataDir: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  const url = dbUrlFor(dataDir);
  if (url === undefined) {
    const db = new Database(join(dataDir, "certyard.db"), { fileMustExist: true });
    try {
      const st = db.prepare(sql);
      if (st.reader) return st.all(...params) as Row[];
      st.run(...params);
      return [];
    } finally {
      db.close();
    }
  }
  let n = 0;
  const client = new pg.Client({ connectionString: url, types: { getTypeParser: intsAsNumbers } });
  await client.connect();
  try {
    return (
      await client.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      )
    ).rows as Row[];
  } finally {
    await client.end();
  }
}
export type Row = Record<string, unknown>;

const intsAsNumbers = ((oid: number, format?: "text" | "binary") =>
  oid === pg.types.builtins.INT8
    ? (v: string) => Number(v)
    : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

/** How many rows each of certyard's tables holds (not the migrations' journal). */
export async function tableCounts(dataDir: string): Promise<Record<string, number>> {
  const tables = (
    await sqlRows(
      dataDir,
      onPostgres
        ? "select table_name as name from information_schema.tables where table_schema = 'public'"
        : "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name != '__drizzle_migrations'",
    )
  ).map((r) => String(r.name));
  const counts: Record<string, number> = {};
  for (const t of tables)
    counts[t] = Number((await sqlRows(dataDir, `select count(*) as n from "${t}"`))[0]?.n);
  return counts;
}

/** `certyard-ca init` in process on the suite's database: a fresh one for `o.data` on PostgreSQL. */
export async function initData(o: InitOpts): Promise<string> {
  await freshDb(o.data);
  return init({ ...o, ...dataOpts(o.data) });
}

/**
 * Everything the directory's database holds, as text to search: on SQLite the file's bytes (and
 * its write-ahead log's), on PostgreSQL every row of every table.
 */
export async function storedText(dataDir: string): Promise<string> {
  if (!onPostgres) {
    const file = join(dataDir, "certyard.db");
    return [file, `${file}-wal`]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString("latin1"))
      .join("\n");
  }
  const rows: string[] = [];
  for (const t of Object.keys(await tableCounts(dataDir))) {
    for (const r of await sqlRows(dataDir, `select * from "${t}"`)) rows.push(JSON.stringify(r));
  }
  return rows.join("\n");
}

/**
 * A copy of the directory's database for a test to damage, as a --db URL: a file beside it on
 * SQLite, a database made from it as a template on PostgreSQL (nothing may be connected to it).
 */
export async function copyOfDb(dataDir: string, name: string): Promise<string> {
  if (!onPostgres) {
    const copy = join(dataDir, "..", `${name}.db`);
    copyFileSync(join(dataDir, "certyard.db"), copy);
    return `sqlite:${copy}`;
  }
  const database = `${databaseOf(dataDir)}_${name.replace(/[^a-z0-9_]/gi, "_")}`.toLowerCase();
  dropWhenProcessEnds(database);
  await psql(dropSql(database));
  await psql(`create database "${database}" template "${databaseOf(dataDir)}"`);
  return urlOf(database);
}

/** Statements (no parameters, several allowed) on a --db URL, SQLite or PostgreSQL. */
export async function execOn(dbUrl: string, statements: string): Promise<void> {
  if (dbUrl.startsWith("sqlite:")) {
    const db = new Database(dbUrl.slice("sqlite:".length), { fileMustExist: true });
    try {
      db.exec(statements);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    await client.query(statements);
  } finally {
    await client.end();
  }
}
