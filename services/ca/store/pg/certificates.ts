import { forbidden } from "../../../../shared/problem.js";
import {
  type INVENTORY_COLUMNS,
  type InventoryPage,
  type InventoryQuery,
  type InventoryRow,
  namesOf,
  stateOf,
} from "../../core/inventory.js";
import type { CertificateRecord, RevocationState, RevokedEntry } from "../../core/types.js";
import { type RowPieceFields, rowPiecesBytes } from "../../core/views.js";
import { and, asc, count, desc, eq, gt, isNotNull, isNull, lte, max, type SQL, sql } from "../drizzle.cjs";
import { statesCondition } from "../inventory-sql.js";
import type { StateCounts } from "../ports.js";
import type { PgDb, Queryable } from "./db.js";
import { unionAll } from "./drizzle.cjs";
import { listingFits } from "./listing-width.js";
import { certificateNames, certificates } from "./schema.js";

/** The inventory's columns, and renewedBy for the state, in the order of ListValues. */
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
} satisfies Record<(typeof INVENTORY_COLUMNS)[number] | "renewedBy", unknown>;

/** A row of listColumns as an array. */
type ListValues = [
  serial: string,
  tokenId: string | null,
  renewedFrom: string | null,
  commonName: string | null,
  dnsNames: string[],
  ipAddresses: string[],
  notBefore: number,
  notAfter: number,
  keyFingerprint: string,
  revokedAt: number | null,
  renewedBy: string | null,
];

function listRow(v: ListValues, now: number): InventoryRow {
  return {
    serial: v[0],
    tokenId: v[1],
    renewedFrom: v[2],
    commonName: v[3],
    dnsNames: v[4],
    ipAddresses: v[5],
    notBefore: v[6],
    notAfter: v[7],
    keyFingerprint: v[8],
    revokedAt: v[9],
    state: stateOf({ revokedAt: v[9], notAfter: v[7] }, v[10] !== null, now),
  };
}

/** A jsonb array of strings as core/views.ts's `list` writes it ("[]", or one string a line). */
const jsonList = (c: string) =>
  `case when jsonb_array_length(${c}) = 0 then '[]' else left(replace(jsonb_pretty(${c}), E'\\n', E'\\n  '), -1) || '  ]' end`;

/**
 * A page's row as core/views.ts RowPieces, and its serial (for the next page's cursor), over the
 * columns of listColumns. PostgreSQL's to_json of a text and its jsonb_pretty escape a string as
 * JSON.stringify does (a quote, a backslash, and control characters: \b \f \n \r \t, the others
 * as \u00xx in lower case; nothing else); jsonb_pretty indents by four spaces, so each line of an
 * array gets two more. The e2e pg-inventory test holds the bytes to certificateViewsBytes's.
 */
const ROW_PIECES = [
  `E'  {\\n    "serial": ' || to_json(serial)::text || E',\\n    "commonName": ' || coalesce(to_json(common_name)::text, 'null') || E',\\n    "dns": ' || ${jsonList("dns_names")} || E',\\n    "ips": ' || ${jsonList("ip_addresses")}`,
  "not_before",
  "not_after",
  `to_json(key_fingerprint)::text || E',\\n    "tokenId": ' || coalesce(to_json(token_id)::text, 'null') || E',\\n    "renewedFrom": ' || coalesce(to_json(renewed_from)::text, 'null')`,
  "revoked_at",
  "renewed_by is not null",
  "serial",
].join(", ");

/** A row of ROW_PIECES. */
type PieceRow = [...RowPieceFields, serial: string];

/**
 * Records an issued certificate inside the issuing transaction: its row, its names, and for a
 * renewal the mark on the certificate it renews. The mark is a compare-and-set on that row
 * (renewed_by still null), so of two renewals of one certificate at once, through any replicas,
 * the second waits for the first's row lock and then finds it renewed. The serial is the
 * primary key: a duplicate fails the transaction, whichever replica signed it.
 */
export async function insertCertificate(tx: Queryable, rec: CertificateRecord): Promise<void> {
  if (rec.renewedFrom !== null) {
    const marked = await tx
      .update(certificates)
      .set({ renewedBy: rec.serial })
      .where(and(eq(certificates.serial, rec.renewedFrom), isNull(certificates.renewedBy)))
      .returning({ serial: certificates.serial });
    if (marked.length === 0) {
      throw forbidden(`certificate ${rec.renewedFrom} has been renewed already: renew its successor`);
    }
  }
  await tx.insert(certificates).values(rec);
  const names = namesOf(rec);
  if (names.length > 0) {
    await tx
      .insert(certificateNames)
      .values(names.map((name) => ({ name, notAfter: rec.notAfter, serial: rec.serial })))
      .onConflictDoNothing();
  }
}

/** The certificates on PostgreSQL: what store/certificates.ts does on SQLite, each call a promise. */
export function pgCertificateStore(db: PgDb) {
  /** One page in the order (notAfter, serial) after `q.after`, each filter on an index (as on SQLite). */
  function pageQuery(q: InventoryQuery) {
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
    if (q.name !== undefined) {
      return db
        .select(listColumns)
        .from(certificateNames)
        .innerJoin(certificates, eq(certificates.serial, certificateNames.serial))
        .where(and(...conds))
        .orderBy(asc(order.notAfter), asc(order.serial))
        .limit(q.limit + 1);
    }
    // the rows whose entry fits certificates_not_after, read from that index alone, merged with
    // the others (certificates_not_after_wide); each half ordered and limited on its own, so
    // that PostgreSQL reads each index in order and stops, rather than sorting a whole range
    const half = (fits: boolean) =>
      db
        .select(listColumns)
        .from(certificates)
        .where(and(...conds, listingFits(certificates, fits)))
        .orderBy(asc(certificates.notAfter), asc(certificates.serial))
        .limit(q.limit + 1);
    return unionAll(half(true), half(false))
      .orderBy(asc(certificates.notAfter), asc(certificates.serial))
      .limit(q.limit + 1);
  }

  async function page(q: InventoryQuery): Promise<InventoryPage> {
    // drizzle builds the SQL; the rows come as arrays, typed by the pool's parsers (jsonb parsed,
    // int8 a number), and are read by position: drizzle's row mapping was a fifth of the CPU of
    // `certs list --json` over 77,000 rows
    const { sql: text, params } = pageQuery(q).toSQL();
    const found = (await db.$client.query<ListValues>({ text, values: params, rowMode: "array" })).rows;
    const rows: InventoryRow[] = [];
    for (let i = 0; i < found.length && i < q.limit; i++) rows.push(listRow(found[i] as ListValues, q.now));
    const last = rows.at(-1);
    return {
      rows,
      next: found.length > q.limit && last ? { notAfter: last.notAfter, serial: last.serial } : null,
    };
  }

  /**
   * Every page of `q` (from its first, whatever its cursor) as certs list --json prints it (core/views.ts
   * certificateViewsBytes). PostgreSQL writes each row's JSON text but for its times and state
   * (ROW_PIECES), which core/views.ts rowPiecesBytes puts in, so that no row is parsed into an
   * object and formatted again here: at 1,000,000 certificates node's CPU 0.12-0.25 s less,
   * PostgreSQL's 0.15-0.20 s more (bench/README.md, "certs list --json on PostgreSQL: the database
   * writes the rows' text"). On one connection: page k+1's query goes out as soon as page k's rows
   * have come (its cursor is their last row), before page k is printed and written, so PostgreSQL
   * reads k+1 while node prints k; one page ahead at most. Through the pool a query went out only
   * on the tick after it was asked for, once node had printed the page (bench/README.md, "certs
   * list on PostgreSQL: the next page's query while node prints").
   */
  async function* jsonPages(q: InventoryQuery): AsyncGenerator<Buffer> {
    const client = await db.$client.connect();
    const read = (after: InventoryQuery["after"]) => {
      const p = client.query<PieceRow>(jsonQuery({ ...q, after }));
      // awaited on the next step; a caller that stops first leaves no unhandled rejection
      p.catch(() => {});
      return p;
    };
    let pending: ReturnType<typeof read> | null = read(undefined);
    let failed: Error | undefined;
    try {
      while (pending) {
        const { rows, next } = cut((await pending).rows, q);
        pending = next ? read(next) : null;
        const bytes = rowPiecesBytes(rows, q.now);
        // emptied before the yield: this frame keeps `rows` while the caller writes, which made
        // them old enough to be promoted, and node's CPU rose by 0.3 s (GC, page faults twice)
        rows.length = 0;
        yield bytes;
      }
    } catch (e) {
      failed = e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      // a query still in flight (the caller stopped) ends before its connection goes back
      if (pending) await pending.catch(() => {});
      // one that failed is not given to the next user
      client.release(failed);
    }
  }

  /** A page's query for ROW_PIECES (the page's own inside), its rows as arrays. */
  function jsonQuery(q: InventoryQuery) {
    const { sql: text, params } = pageQuery(q).toSQL();
    return {
      text: `select ${ROW_PIECES} from (${text}) p order by not_after, serial`,
      values: params,
      rowMode: "array" as const,
    };
  }

  /** The page in `found` (a query's up to limit + 1 rows) and the cursor of the next, if any. */
  function cut(found: PieceRow[], q: InventoryQuery): { rows: PieceRow[]; next: InventoryPage["next"] } {
    const more = found.length > q.limit;
    if (more) found.length = q.limit;
    const last = found.at(-1);
    return { rows: found, next: more && last ? { notAfter: last[2], serial: last[6] } : null };
  }

  return {
    page,
    jsonPages,

    async bySerial(serial: string): Promise<CertificateRecord | null> {
      const [row] = await db.select().from(certificates).where(eq(certificates.serial, serial));
      if (!row) return null;
      const { renewedBy: _, ...rec } = row;
      return rec;
    },

    /** The serial of the certificate that renewed this one, or null. */
    async successorOf(serial: string): Promise<string | null> {
      const [row] = await db
        .select({ serial: certificates.serial })
        .from(certificates)
        .where(eq(certificates.renewedFrom, serial))
        .limit(1);
      return row?.serial ?? null;
    },

    /** `q`: the transaction it is part of (its audit event's), else the pool */
    async revoke(
      serial: string,
      reason: number,
      at: number,
      q: Queryable = db,
    ): Promise<"revoked" | "already" | "missing"> {
      const done = await q
        .update(certificates)
        .set({ revokedAt: at, revocationReason: reason })
        .where(and(eq(certificates.serial, serial), isNull(certificates.revokedAt)))
        .returning({ serial: certificates.serial });
      if (done.length > 0) return "revoked";
      const [row] = await q
        .select({ serial: certificates.serial })
        .from(certificates)
        .where(eq(certificates.serial, serial));
      return row ? "already" : "missing";
    },

    /** The metrics' counts (store/certificates.ts stateCounts), in one pass with FILTER clauses. */
    async stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts> {
      const c = certificates;
      const n = (where: SQL | undefined) => sql<number>`count(*) filter (where ${where})`.mapWith(Number);
      const live = and(gt(c.notAfter, now), isNull(c.revokedAt));
      const [row] = await db
        .select({
          all: count(),
          revoked: n(isNotNull(c.revokedAt)),
          live: n(live),
          superseded: n(and(live, isNotNull(c.renewedBy))),
          ...Object.fromEntries(
            windowsMs.map((w, i) => [`w${i}`, n(and(live, isNull(c.renewedBy), lte(c.notAfter, now + w)))]),
          ),
        })
        .from(c);
      const get = (k: string) => Number((row as Record<string, unknown> | undefined)?.[k] ?? 0);
      const superseded = get("superseded");
      return {
        states: {
          valid: get("live") - superseded,
          superseded,
          expired: get("all") - get("revoked") - get("live"),
          revoked: get("revoked"),
        },
        expiring: windowsMs.map((_, i) => get(`w${i}`)),
      };
    },

    async revocationState(): Promise<RevocationState> {
      const [row] = await db
        .select({ n: count(), last: max(certificates.revokedAt) })
        .from(certificates)
        .where(isNotNull(certificates.revokedAt));
      return {
        count: row?.n ?? 0,
        lastRevokedAt: row?.last === null || row?.last === undefined ? 0 : Number(row.last),
      };
    },

    /** Revoked certificates that have not expired yet: expired ones may leave the CRL (RFC 5280 3.3). */
    async revokedUnexpired(now: number): Promise<RevokedEntry[]> {
      const rows = await db
        .select({
          serial: certificates.serial,
          revokedAt: certificates.revokedAt,
          reason: certificates.revocationReason,
        })
        .from(certificates)
        .where(and(isNotNull(certificates.revokedAt), gt(certificates.notAfter, now)))
        .orderBy(desc(certificates.revokedAt));
      return rows.map((r) => ({ serial: r.serial, revokedAt: r.revokedAt ?? now, reason: r.reason }));
    },
  };
}
export type PgCertificateStore = ReturnType<typeof pgCertificateStore>;
