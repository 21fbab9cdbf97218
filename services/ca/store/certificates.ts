import type { Statement } from "better-sqlite3";
import {
  type INVENTORY_COLUMNS,
  type InventoryPage,
  type InventoryQuery,
  type InventoryRow,
  namesOf,
  RECORD_COLUMNS,
  stateOf,
} from "../core/inventory.js";
import type { CertificateRecord, RevocationState, RevokedEntry } from "../core/types.js";
import type { Db } from "./db.js";
import {
  and,
  asc,
  count,
  desc,
  eq,
  getTableColumns,
  gt,
  isNotNull,
  isNull,
  lte,
  max,
  type SQL,
  type SQLiteColumn,
  sql,
} from "./drizzle.cjs";
import { hotStatement } from "./hot.js";
import { statesCondition } from "./inventory-sql.js";
import type { StateCounts } from "./ports.js";
import { certificateNames, certificates } from "./schema.js";

const COLUMNS = RECORD_COLUMNS;

export function certificateStore(db: Db) {
  /** stateCounts: how many certificates had expired (revoked or not) at `at` */
  let passed: { at: number; n: number } | null = null;
  // Runs for every certificate issued: see hotStatement. Values go through each column's own
  // mapping, so the JSON columns take arrays as usual.
  const columns = getTableColumns(certificates);
  const mapped = COLUMNS.map((key) => [key, columns[key]] as const);
  const insertStmt = hotStatement(
    db,
    // drizzle types values() by the columns' own types; a placeholder stands in for each.
    db
      .insert(certificates)
      .values(
        Object.fromEntries(COLUMNS.map((c) => [c, sql.placeholder(c)])) as unknown as CertificateRecord,
      ),
    COLUMNS,
  );
  const insertNameStmt = hotStatement(
    db,
    db
      .insert(certificateNames)
      .values({
        name: sql.placeholder("name"),
        notAfter: sql.placeholder("notAfter"),
        serial: sql.placeholder("serial"),
      } as unknown as typeof certificateNames.$inferInsert)
      .onConflictDoNothing(),
    ["name", "notAfter", "serial"],
  );
  // A renewal marks the certificate it renews as superseded, in the same transaction.
  const supersedeStmt = hotStatement(
    db,
    db
      .update(certificates)
      .set({ renewedBy: sql.placeholder("renewedBy") as unknown as string })
      .where(eq(certificates.serial, sql.placeholder("serial"))),
    ["renewedBy", "serial"],
  );
  // Renewal, revocation and ACME downloads look a certificate up by serial; a renewal also asks
  // for its successor. Both hot (see hotStatement): drizzle's prepared get maps every column per
  // call, which was about a tenth of a renewal's CPU beside the handshake (issue 16).
  const bySerialStmt = hotStatement(
    db,
    db
      .select(Object.fromEntries(mapped))
      .from(certificates)
      .where(eq(certificates.serial, sql.placeholder("serial"))),
    ["serial"],
  ).raw(true);
  const successorStmt = hotStatement(
    db,
    db
      .select({ serial: certificates.serial })
      .from(certificates)
      .where(eq(certificates.renewedFrom, sql.placeholder("serial")))
      .limit(sql.placeholder("limit")),
    ["serial", "limit"],
  ).pluck(true);
  /** A row of bySerialStmt (COLUMNS in order) as its record, each value through its column's mapping. */
  function recordOf(row: unknown[]): CertificateRecord {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < mapped.length; i++) {
      const [key, column] = mapped[i] as (typeof mapped)[number];
      const value = row[i];
      out[key] = value === null ? null : column.mapFromDriverValue(value);
    }
    return out as unknown as CertificateRecord;
  }
  /**
   * The SQL of one page in the order (notAfter, serial), after `q.after`. Every filter runs on an
   * index: by name through certificate_names (kept in that order per name), by token through
   * certificates_token, otherwise along certificates_not_after.
   */
  function pageQuery(fields: Record<string, SQLiteColumn | SQL>, q: InventoryQuery) {
    // by name, the order and the cursor are the name rows' own copy of (notAfter, serial)
    const order = q.name === undefined ? certificates : certificateNames;
    const conds: (SQL | undefined)[] = [
      q.name === undefined ? undefined : eq(certificateNames.name, q.name),
      q.tokenId === undefined ? undefined : eq(certificates.tokenId, q.tokenId),
      q.serial === undefined ? undefined : eq(certificates.serial, q.serial),
      q.expiringBefore === undefined ? undefined : lte(order.notAfter, q.expiringBefore),
      q.after === undefined
        ? undefined
        : sql`(${order.notAfter}, ${order.serial}) > (${q.after.notAfter}, ${q.after.serial})`,
      statesCondition(certificates, q.states, q.now),
    ];
    const base =
      q.name === undefined
        ? db.select(fields).from(certificates)
        : db
            .select(fields)
            .from(certificateNames)
            .innerJoin(certificates, eq(certificates.serial, certificateNames.serial));
    return base
      .where(and(...conds))
      .orderBy(asc(order.notAfter), asc(order.serial))
      .limit(q.limit + 1)
      .toSQL();
  }

  /**
   * The last page query's SQL, prepared, and its parameters. The pages of one listing differ
   * only in the cursor, so the next page reuses both with the cursor's values put in their places
   * (drizzle's build of the query and SQLite's prepare, every page, were a sixth of `certs list`).
   */
  let compiled: { key: string; stmt: Statement<unknown[]>; params: unknown[]; at: [number, number] } | null =
    null;

  function pageStatement(q: InventoryQuery): { stmt: Statement<unknown[]>; params: unknown[] } {
    const { after, ...rest } = q;
    const key = JSON.stringify(rest) + (after === undefined ? "" : "+after");
    if (compiled?.key !== key) {
      // the cursor's values are found among the parameters: probes that no filter's value equals
      const probe =
        after === undefined ? q : { ...q, after: { notAfter: CURSOR_PROBE, serial: SERIAL_PROBE } };
      const { sql: text, params } = pageQuery(listColumns, probe);
      const at: [number, number] = [params.indexOf(CURSOR_PROBE), params.indexOf(SERIAL_PROBE)];
      if (after !== undefined && (at[0] < 0 || at[1] < 0))
        throw new Error(`the inventory's page query lost its cursor: ${text}`);
      compiled = { key, stmt: db.$client.prepare(text).raw(true), params, at };
    }
    const params = compiled.params.slice();
    if (after !== undefined) {
      params[compiled.at[0]] = after.notAfter;
      params[compiled.at[1]] = after.serial;
    }
    return { stmt: compiled.stmt, params };
  }

  /** One page of the inventory, soonest expiry first (pageQuery). */
  function page(q: InventoryQuery): InventoryPage {
    // drizzle builds the SQL; the rows come raw and are read by position (listRow): drizzle's
    // general row mapping took twice as long over a thousand-row page
    const { stmt, params } = pageStatement(q);
    const found = stmt.all(...params) as ListValues[];
    const rows: InventoryRow[] = [];
    for (let i = 0; i < found.length && i < q.limit; i++) rows.push(listRow(found[i] as ListValues, q.now));
    const last = rows.at(-1);
    return {
      rows,
      next: found.length > q.limit && last ? { notAfter: last.notAfter, serial: last.serial } : null,
    };
  }

  return {
    insert(rec: CertificateRecord): void {
      insertStmt.run(mapped.map(([key, c]) => (rec[key] === null ? null : c.mapToDriverValue(rec[key]))));
      for (const name of namesOf(rec)) insertNameStmt.run(name, rec.notAfter, rec.serial);
      if (rec.renewedFrom !== null) supersedeStmt.run(rec.serial, rec.renewedFrom);
    },

    page,

    bySerial(serial: string): CertificateRecord | null {
      const row = bySerialStmt.get(serial) as unknown[] | undefined;
      return row ? recordOf(row) : null;
    },

    /** The serial of the certificate that renewed this one, or null. */
    successorOf(serial: string): string | null {
      return (successorStmt.get(serial, 1) as string | undefined) ?? null;
    },

    revoke(serial: string, reason: number, at: number): "revoked" | "already" | "missing" {
      const row = db
        .select({ revokedAt: certificates.revokedAt })
        .from(certificates)
        .where(eq(certificates.serial, serial))
        .get();
      if (!row) return "missing";
      if (row.revokedAt !== null) return "already";
      db.update(certificates)
        .set({ revokedAt: at, revocationReason: reason })
        .where(and(eq(certificates.serial, serial), isNull(certificates.revokedAt)))
        .run();
      return "revoked";
    },

    /**
     * The metrics' counts (GET /metrics): how many certificates are in each state, and how many
     * valid ones expire within each window, counted in certificates themselves (the metrics take
     * them from the summary: dashboard.ts stateCounts, which the tests compare with this). Every
     * count reads an index: the whole table on its smallest (SQLite counts its pages without
     * reading the rows), the revoked and the superseded on their partial indexes, the expiring on
     * a range of the inventory's certificates_not_after.
     * The expired are counted once, then only those that expired since the last call: a
     * certificate is issued to expire later than now and its notAfter never changes, so the
     * number whose notAfter has passed only grows with the time.
     */
    async stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts> {
      const c = certificates;
      const n = (where: SQL | undefined) => db.select({ n: count() }).from(c).where(where).get()?.n ?? 0;
      const all = n(undefined);
      passed =
        passed && now >= passed.at
          ? { at: now, n: passed.n + n(and(gt(c.notAfter, passed.at), lte(c.notAfter, now))) }
          : { at: now, n: n(lte(c.notAfter, now)) };
      const revoked = n(isNotNull(c.revokedAt));
      const after = (from: number, to?: number) =>
        to === undefined ? gt(c.notAfter, from) : and(gt(c.notAfter, from), lte(c.notAfter, to));
      // in force and superseded, not revoked: the superseded less those of them revoked (few)
      const superseded = (from: number, to?: number) =>
        n(and(isNotNull(c.renewedBy), after(from, to))) -
        n(and(isNotNull(c.revokedAt), isNotNull(c.renewedBy), after(from, to)));
      const live = all - passed.n - n(and(isNotNull(c.revokedAt), after(now)));
      const liveSuperseded = superseded(now);
      const expiring = windowsMs.map(
        (w) => n(and(after(now, now + w), isNull(c.revokedAt))) - superseded(now, now + w),
      );
      return {
        states: {
          valid: live - liveSuperseded,
          superseded: liveSuperseded,
          expired: passed.n - n(and(isNotNull(c.revokedAt), lte(c.notAfter, now))),
          revoked,
        },
        expiring,
      };
    },

    revocationState(): RevocationState {
      const row = db
        .select({ n: count(), last: max(certificates.revokedAt) })
        .from(certificates)
        .where(isNotNull(certificates.revokedAt))
        .get();
      return { count: row?.n ?? 0, lastRevokedAt: row?.last ?? 0 };
    },

    /** Revoked certificates that have not expired yet: expired ones may leave the CRL (RFC 5280 3.3). */
    revokedUnexpired(now: number): RevokedEntry[] {
      return db
        .select({
          serial: certificates.serial,
          revokedAt: certificates.revokedAt,
          reason: certificates.revocationReason,
        })
        .from(certificates)
        .where(and(isNotNull(certificates.revokedAt), gt(certificates.notAfter, now)))
        .orderBy(desc(certificates.revokedAt))
        .all()
        .filter((r) => r.revokedAt !== null)
        .map((r) => ({ serial: r.serial, revokedAt: r.revokedAt ?? now, reason: r.reason }));
    },
  };
}
export type CertificateStore = ReturnType<typeof certificateStore>;

/** A raw row of listColumns: INVENTORY_COLUMNS in their order, then renewedBy. */
type ListValues = [
  serial: string,
  tokenId: string | null,
  renewedFrom: string | null,
  commonName: string | null,
  dnsNames: string,
  ipAddresses: string,
  notBefore: number,
  notAfter: number,
  keyFingerprint: string,
  revokedAt: number | null,
  renewedBy: string | null,
];

/**
 * A raw row of listColumns as the inventory shows it, the names read from their JSON columns.
 * By position, without drizzle's per-column mapping: `certs list` reads a million rows this way.
 */
function listRow(v: ListValues, now: number): InventoryRow {
  const state = stateOf({ revokedAt: v[9], notAfter: v[7] }, v[10] !== null, now);
  return {
    serial: v[0],
    tokenId: v[1],
    renewedFrom: v[2],
    commonName: v[3],
    dnsNames: names(v[4]),
    ipAddresses: names(v[5]),
    notBefore: v[6],
    notAfter: v[7],
    keyFingerprint: v[8],
    revokedAt: v[9],
    state,
  };
}

/** Stand-ins for a cursor's values while its query is built (pageStatement). */
const CURSOR_PROBE = -1.5;
const SERIAL_PROBE = "cursor probe, not a serial";

/**
 * One name in a JSON array, written as JSON.stringify writes it, with nothing in it to unescape
 * (no quote, backslash or control character: those go through JSON.parse).
 */
const ONE_NAME = /^\["[^"\\\p{Cc}]*"\]$/u;

/** A JSON column of names read: the usual one name, or none, without JSON.parse. */
function names(json: string): string[] {
  if (json === "[]") return [];
  return ONE_NAME.test(json) ? [json.slice(2, -2)] : (JSON.parse(json) as string[]);
}

/**
 * The inventory's columns, and renewedBy for the state: all in certificates_not_after. In the
 * order of ListValues, which listRow reads by position.
 */
const listColumns = {
  serial: certificates.serial,
  tokenId: certificates.tokenId,
  renewedFrom: certificates.renewedFrom,
  commonName: certificates.commonName,
  dnsNames: certificates.dnsNames,
  ipAddresses: certificates.ipAddresses,
  notBefore: certificates.notBefore,
  notAfter: certificates.notAfter,
  keyFingerprint: certificates.keyFingerprint,
  revokedAt: certificates.revokedAt,
  renewedBy: certificates.renewedBy,
} satisfies Record<(typeof INVENTORY_COLUMNS)[number] | "renewedBy", SQLiteColumn>;
