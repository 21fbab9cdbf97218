import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { InputError } from "../../../shared/errors.js";
import type { LooseDb, Row, Side } from "./copy-side.js";
import { type OpenDb, openDb } from "./db.js";
import type { DbLocation } from "./db-url.js";
import {
  type AnyColumn,
  asc,
  count,
  getTableColumns,
  getTableConfig,
  getTableName,
  inArray,
  is,
  type SQL,
  SQLiteTable,
  sql,
} from "./drizzle.cjs";
import * as sqliteSchema from "./schema.js";

/** Rows read and written per statement (PostgreSQL takes at most 65,535 parameters). */
const BATCH = 500;

export interface CopyReport {
  /** rows copied per table (by its name in the database), in the schema's order */
  tables: { name: string; rows: number }[];
  /** certificates whose PEM's SHA-256 was compared on both sides */
  certificatesChecked: number;
}

/**
 * Tables the target's own triggers fill as the certificates go in (migrations 0016, pg 0010):
 * copied as well, they would be counted twice.
 */
const DERIVED = new Set(["certificateDays"]);

/**
 * Copies every table of the CA's database from one location to another (SQLite or PostgreSQL
 * either way): `db copy`. The source is read in one snapshot (a read transaction), the target is
 * written in one transaction, which commits only once every table's row count and every
 * certificate's SHA-256 are equal on both sides: on any failure the target is left as it was.
 * A target that holds any row is refused before anything is written.
 */
export async function copyDatabase(from: DbLocation, to: DbLocation): Promise<CopyReport> {
  if (sameLocation(from, to)) throw new InputError("--from and --to name the same database");
  if (from.dialect === "sqlite" && !existsSync(from.path))
    throw new InputError(`--from ${from.path} does not exist`);
  const source = await openSide(from, "source");
  try {
    const target = await openSide(to, "target");
    try {
      const filled: string[] = [];
      for (const [name, table] of target.tables) {
        if (DERIVED.has(name)) continue;
        const n = await target.count(table);
        if (n > 0) filled.push(`${getTableName(table as SQLiteTable)}: ${n}`);
      }
      if (filled.length > 0) {
        throw new InputError(
          `--to ${target.label} is not empty (${filled.join(", ")}): db copy writes only into an empty database; nothing was copied`,
        );
      }
      const report: CopyReport = { tables: [], certificatesChecked: 0 };
      for (const [name, table] of source.tables) {
        if (DERIVED.has(name)) continue;
        const twin = target.tables.get(name);
        if (!twin) throw new Error(`the target has no table ${name}`);
        const key = primaryKey(table);
        const names = keyNames(table, key);
        let after: unknown[] | null = null;
        let rows = 0;
        for (;;) {
          const page = await source.page(table, key, after, BATCH);
          if (page.length === 0) break;
          await target.insert(twin, page);
          rows += page.length;
          const last = page[page.length - 1] as Row;
          after = names.map((k) => last[k]);
          if (page.length < BATCH) break;
        }
        const [inSource, inTarget] = [await source.count(table), await target.count(twin)];
        if (inSource !== rows || inTarget !== rows) {
          throw new Error(`${name}: ${inSource} rows in the source, ${rows} read, ${inTarget} in the target`);
        }
        report.tables.push({ name: getTableName(table as SQLiteTable), rows });
      }
      report.certificatesChecked = await checkCertificates(source, target);
      await target.commit();
      return report;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Every certificate of the target against the source, one page at a time: the same PEM, by SHA-256. */
async function checkCertificates(source: Side, target: Side): Promise<number> {
  const table = target.tables.get("certificates");
  if (!table) throw new Error("no certificates table");
  const key = primaryKey(table);
  let after: unknown[] | null = null;
  let checked = 0;
  const digest = (pem: string) => createHash("sha256").update(pem).digest("hex");
  for (;;) {
    const page = await target.page(table, key, after, BATCH);
    if (page.length === 0) break;
    const serials = page.map((r) => String(r.serial));
    const original = await source.pems(serials);
    for (const r of page) {
      const pem = original.get(String(r.serial));
      if (pem === undefined || digest(pem) !== digest(String(r.pem))) {
        throw new Error(`certificate ${String(r.serial)} differs between the source and the target`);
      }
      checked++;
    }
    after = [serials[serials.length - 1]];
    if (page.length < BATCH) break;
  }
  const total = await source.count(source.tables.get("certificates") as object);
  if (checked !== total) throw new Error(`${checked} certificates checked, ${total} in the source`);
  return checked;
}

function sameLocation(a: DbLocation, b: DbLocation): boolean {
  if (a.dialect === "sqlite" && b.dialect === "sqlite") return a.path === b.path;
  if (a.dialect === "postgres" && b.dialect === "postgres") {
    return a.host === b.host && a.port === b.port && a.database === b.database;
  }
  return false;
}

/** The table's primary-key columns: its one primary column or its composite key. */
function primaryKey(table: object): AnyColumn[] {
  const columns = Object.values(getTableColumns(table as SQLiteTable)) as AnyColumn[];
  const single = columns.filter((c) => (c as { primary?: boolean }).primary);
  if (single.length > 0) return single;
  const config = (is(table, SQLiteTable) ? getTableConfig(table) : pgConfig(table)) as {
    primaryKeys: { columns: AnyColumn[] }[];
  };
  const composite = config.primaryKeys[0]?.columns;
  if (!composite) throw new Error("a table without a primary key");
  // the table's own columns, not the copies the key holds (see keyNames)
  const own = new Map(columns.map((c) => [c.name, c]));
  return composite.map((c) => own.get(c.name) ?? c);
}

let pgConfig: (table: object) => unknown = () => {
  throw new Error("PostgreSQL's schema is not loaded");
};

/**
 * The schema keys (row property names) of the key columns, found by the columns' names: a
 * composite key's columns are copies drizzle makes for the table's extra config.
 */
function keyNames(table: object, key: AnyColumn[]): string[] {
  const byName = new Map(Object.entries(getTableColumns(table as SQLiteTable)).map(([k, c]) => [c.name, k]));
  return key.map((c) => {
    const k = byName.get(c.name);
    if (k === undefined) throw new Error(`key column ${c.name} is not in its table`);
    return k;
  });
}

const keyOrder = (key: AnyColumn[], after: unknown[] | null): SQL | undefined =>
  after === null
    ? undefined
    : sql`(${sql.join(key, sql`, `)}) > (${sql.join(
        after.map((v) => sql`${v}`),
        sql`, `,
      )})`;

async function openSide(loc: DbLocation, role: "source" | "target"): Promise<Side> {
  if (loc.dialect === "sqlite")
    return sqliteSide(openDb(loc.path, { create: role === "target" }), loc.path, role);
  const pg = await import("./pg/copy-side.js");
  pgConfig = pg.tableConfig;
  return pg.pgSide(loc, role, { keyOrder });
}

function sqliteSide(open: OpenDb, label: string, role: "source" | "target"): Side {
  // a read transaction is one snapshot in WAL mode; the target's is taken at once, for writing
  open.sqlite.exec(role === "source" ? "begin" : "begin immediate");
  const db = open.db as unknown as LooseDb;
  const certificates = sqliteSchema.certificates;
  let done = false;
  return {
    label,
    tables: new Map(Object.entries(sqliteSchema).filter(([, v]) => is(v, SQLiteTable))),
    async count(table) {
      const [row] = db.select({ n: count() }).from(table).all();
      return Number(row?.n ?? 0);
    },
    async page(table, key, after, limit) {
      return db
        .select()
        .from(table)
        .where(keyOrder(key, after))
        .orderBy(...key.map((c) => asc(c)))
        .limit(limit)
        .all();
    },
    async insert(table, rows) {
      db.insert(table).values(rows).run();
    },
    async pems(serials) {
      const rows = db
        .select({ serial: certificates.serial, pem: certificates.pem })
        .from(certificates)
        .where(inArray(certificates.serial, serials))
        .all();
      return new Map(rows.map((r) => [String(r.serial), String(r.pem)]));
    },
    async commit() {
      open.sqlite.exec("commit");
      done = true;
    },
    async close() {
      if (!done && open.sqlite.inTransaction) open.sqlite.exec("rollback");
      open.close();
    },
  };
}
