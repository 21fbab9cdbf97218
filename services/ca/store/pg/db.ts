import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { DbLocation } from "../db-url.js";
import { drizzle, migrate, type NodePgDatabase } from "./drizzle.cjs";
import { DatabaseUnavailable, unavailability } from "./faults.js";
import * as schema from "./schema.js";

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };
/** The database or a transaction on it: what a step of a larger transaction runs on. */
export type Queryable = PgDb | Parameters<Parameters<PgDb["transaction"]>[0]>[0];
export type PgLocation = Extract<DbLocation, { dialect: "postgres" }>;

/** migrations/pg at the repository root, from dist/services/ca/store/pg/ or services/ca/store/pg/. */
const MIGRATIONS = fileURLToPath(new URL("../../../../../migrations/pg", import.meta.url));
const MIGRATIONS_SRC = fileURLToPath(new URL("../../../../migrations/pg", import.meta.url));
export const migrationsFolder = () => (import.meta.url.includes("/dist/") ? MIGRATIONS : MIGRATIONS_SRC);

/**
 * The advisory lock the replicas take to migrate, one at a time: the key is "certyard" in ASCII,
 * the same in every replica and version. Session-level, so a replica that dies holding it frees it.
 */
export const MIGRATION_LOCK = 0x6365727479617264n;

/** How many connections one process keeps at most (each cluster worker has its own pool). */
const POOL_SIZE = 8;

/**
 * How many connections serve opens at its start (OpenPgOptions.serve): as many as the dashboard's
 * overview reads with at once (its figures, the CRL, the hosts). Each connection is a backend
 * PostgreSQL forks, authenticates and fills its catalog caches for; opened on the overview's
 * first load, the slowest of them set its time (at 1,000,000 certificates, load average 11, the
 * CRL's read waited ~300 ms for its connection while the others took a few).
 */
export const SERVE_CONNECTIONS = 3;

/**
 * The driver's settings from a --db URL already checked by db-url.ts. Built from its parts, not
 * handed to pg as a string: pg's URL parser reads `?host=/dir` but not `?port=`, which db-url.ts
 * accepts as libpq does.
 */
export function poolConfig(loc: PgLocation): pg.PoolConfig {
  const query = new URLSearchParams(loc.url.split("?")[1]?.split("#")[0] ?? "");
  const password = /^[a-z]+:\/\/[^:@/?#]*:([^@/?#]*)@/i.exec(loc.url)?.[1];
  const sslmode = query.get("sslmode");
  const timeout = query.get("connect_timeout");
  return {
    host: loc.host,
    port: loc.port,
    database: loc.database,
    // empty: libpq's default, the operating system user, which pg takes from USER
    ...(loc.user === "" ? {} : { user: loc.user }),
    ...(password === undefined ? {} : { password: decodeURIComponent(password) }),
    // libpq's prefer and allow try TLS and fall back; pg does not: they connect without it here
    ...(sslmode === "require"
      ? { ssl: { rejectUnauthorized: false } }
      : sslmode === "verify-ca" || sslmode === "verify-full"
        ? { ssl: { rejectUnauthorized: true } }
        : {}),
    application_name: query.get("application_name") ?? "certyard",
    connectionTimeoutMillis: timeout === null || timeout === "0" ? 10_000 : Number(timeout) * 1000,
    max: POOL_SIZE,
    // a dead server is seen within a minute on an idle connection
    keepAlive: true,
  };
}

/** bigint (int8) read as a JavaScript number: the store's times and counts stay below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface OpenPgOptions {
  /** only `init` (and `db copy` into an empty database) may find no tables there */
  create?: boolean;
  /**
   * serve's pool: SERVE_CONNECTIONS opened at start, and no connection closed for being idle
   * (pg closes them after 10 s by default, so a dashboard used every minute opened new backends
   * at every load). The CLI's short commands keep pg's default.
   */
  serve?: boolean;
}

/**
 * A pool on the database, migrated: the migrations in migrations/pg run at start under
 * MIGRATION_LOCK, so replicas starting together migrate once, each of the others waiting and
 * then finding nothing left to do. A database without certyard's tables is refused unless
 * `create` says this is the start of a CA.
 */
export async function openPg(
  loc: PgLocation,
  o: OpenPgOptions = {},
): Promise<{ db: PgDb; close(): Promise<void> }> {
  const pool = new pg.Pool({ ...poolConfig(loc), types, ...(o.serve ? { idleTimeoutMillis: 0 } : {}) });
  // an idle connection the server dropped (a restart, a failover) is an error event on the pool:
  // without a listener it would end the process; the next query takes a new connection
  pool.on("error", () => {});
  // and a checked-out connection (a transaction between two statements, a query whose result
  // just came) that the server drops is an error event on its client, which the pool does not
  // listen to: it ended serve when PostgreSQL stopped under load. The statement in flight fails
  // by itself (503), and the pool drops the dead client when it is released.
  pool.on("connect", (client) => client.on("error", () => {}));
  try {
    const present = await migrated(pool);
    if (!o.create && !present) throw new Error(noTables(loc));
    if (!present || !(await upToDate(pool))) await migrateLocked(pool);
    if (o.serve) await openConnections(pool, SERVE_CONNECTIONS);
    const db = drizzle(pool, { schema });
    return { db, close: () => pool.end() };
  } catch (e) {
    await pool.end();
    // unreachable, refused, read-only: one line naming the database (never its password)
    const reason = unavailability(e);
    throw reason === null ? e : new DatabaseUnavailable(`${loc.redacted}: ${reason}`, { cause: e });
  }
}

/** Opens `n` of the pool's connections at once (the pool keeps them idle for the next queries). */
async function openConnections(pool: pg.Pool, n: number): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: n }, () => pool.connect()));
  for (const c of opened) if (c.status === "fulfilled") c.value.release();
  const failed = opened.find((c) => c.status === "rejected");
  if (failed) throw failed.reason;
}

/** Refuses, in one line, a database without certyard's tables (store/open.ts requireStore). */
export async function requirePg(loc: PgLocation): Promise<void> {
  const pool = new pg.Pool({ ...poolConfig(loc), max: 1 });
  pool.on("error", () => {});
  try {
    if (!(await migrated(pool))) throw new Error(noTables(loc));
  } finally {
    await pool.end();
  }
}

const noTables = (loc: PgLocation) =>
  `${loc.redacted} holds no certyard tables: run certyard-ca init with this --db, or db copy an existing database into it; nothing was changed`;

async function migrated(pool: pg.Pool): Promise<boolean> {
  const r = await pool.query("select to_regclass('drizzle.__drizzle_migrations') is not null as present");
  return r.rows[0]?.present === true;
}

/**
 * Whether the last migration applied is migrations/pg's last (drizzle's migrator applies those
 * after the last applied, by their journal's times): then a command neither reads and hashes
 * every migration's file nor takes MIGRATION_LOCK, some 15-20 ms of a `certs list`'s start.
 */
async function upToDate(pool: pg.Pool): Promise<boolean> {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as {
    entries: { when: number }[];
  };
  const newest = Math.max(...journal.entries.map((e) => e.when));
  const r = await pool.query<{ at: string | null }>(
    "select max(created_at)::text as at from drizzle.__drizzle_migrations",
  );
  const at = r.rows[0]?.at;
  return typeof at === "string" && Number(at) >= newest;
}

/** drizzle's migrator, on one connection that holds MIGRATION_LOCK throughout. */
export async function migrateLocked(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      await migrate(drizzle(client), { migrationsFolder: migrationsFolder() });
    } finally {
      await client.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`);
    }
  } finally {
    client.release();
  }
}
