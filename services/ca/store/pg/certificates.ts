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
import { type RowPieces, rowPiecesText, tableLine } from "../../core/views.js";
import { and, asc, count, desc, eq, gt, isNotNull, isNull, lte, max, type SQL, sql } from "../drizzle.cjs";
import { statesCondition } from "../inventory-sql.js";
import type { StateCounts } from "../ports.js";
import type { PgDb, Queryable } from "./db.js";
import { unionAll } from "./drizzle.cjs";
import { listingFits } from "./listing-width.js";
import { listingText, type TextListing, type TextRow } from "./row-stream.js";
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
 * A row of certs list --json as core/views.ts RowPieces, then its serial (for the next window's
 * cursor), over the columns of listColumns. PostgreSQL's to_json of a text and its jsonb_pretty
 * escape a string as JSON.stringify does (a quote, a backslash, and control characters: \b \f \n
 * \r \t, the others as \u00xx in lower case; nothing else); jsonb_pretty indents by four spaces,
 * so each line of an array gets two more. The e2e pg-inventory test holds the bytes to
 * certificateViewsBytes's.
 */
const JSON_PIECES = [
  `E'  {\\n    "serial": ' || to_json(serial)::text || E',\\n    "commonName": ' || coalesce(to_json(common_name)::text, 'null') || E',\\n    "dns": ' || ${jsonList("dns_names")} || E',\\n    "ips": ' || ${jsonList("ip_addresses")}`,
  "not_before",
  "not_after",
  `to_json(key_fingerprint)::text || E',\\n    "tokenId": ' || coalesce(to_json(token_id)::text, 'null') || E',\\n    "renewedFrom": ' || coalesce(to_json(renewed_from)::text, 'null')`,
  "revoked_at",
  "renewed_by is not null",
  "serial",
].join(", ");

/** A row of certs list's table: its serial, expiry, names (DNS, then IP, joined by commas) and what makes its state. */
const TABLE_PIECES = [
  "serial",
  "not_after",
  "array_to_string(array(select jsonb_array_elements_text(dns_names)) || array(select jsonb_array_elements_text(ip_addresses)), ',')",
  "revoked_at",
  "renewed_by is not null",
].join(", ");

/** A bigint's text as a number; a row's times are exact in a double until the year 287,396. */
const num = (text: string | null) => Number(text);

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
  /**
   * At most `rows` rows in the order (notAfter, serial) after `q.after`, each filter on an index
   * (as on SQLite); a page asks for one more than its limit, to know whether another follows.
   */
  function pageQuery(q: InventoryQuery, rows = q.limit + 1) {
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
        .limit(rows);
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
        .limit(rows);
    return unionAll(half(true), half(false))
      .orderBy(asc(certificates.notAfter), asc(certificates.serial))
      .limit(rows);
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
   * Every row of `q` from its cursor on, as `certs list` prints it: with `json`, the inside of
   * certs list --json's array (core/views.ts certificateViewsBytes's text, its rows separated);
   * else the table's lines. PostgreSQL writes each row's text but for its times and state
   * (JSON_PIECES, TABLE_PIECES), which core/views.ts puts in, so that no row is parsed into an
   * object and formatted again here: at 1,000,000 certificates node's CPU 0.12-0.25 s less,
   * PostgreSQL's 0.15-0.20 s more (bench/README.md, "certs list --json on PostgreSQL: the database
   * writes the rows' text"). The rows come in windows of `q.limit`, each one query printed as it
   * arrives (row-stream.ts listingText), on a connection of the listing's own.
   */
  async function* listText(q: InventoryQuery, json: boolean): AsyncGenerator<Buffer> {
    const client = await db.$client.connect();
    yield* listingText(client, json ? jsonListing(q) : tableListing(q), q.limit, q.after);
  }

  /** `q`'s windows for a listing printing `pieces`, its rows in the order of the inventory. */
  function windowQuery(q: InventoryQuery, pieces: string): TextListing<InventoryQuery["after"]>["query"] {
    return (after, rows) => {
      const { sql: text, params } = pageQuery({ ...q, after }, rows).toSQL();
      return { text: `select ${pieces} from (${text}) p order by not_after, serial`, values: params };
    };
  }

  function jsonListing(q: InventoryQuery): TextListing<InventoryQuery["after"]> {
    const element = rowPiecesText(q.now);
    return {
      query: windowQuery(q, JSON_PIECES),
      text: (r, first) => {
        const pieces: RowPieces = [
          r[0] as string,
          num(r[1] as string),
          num(r[2] as string),
          r[3] as string,
          r[4] === null ? null : num(r[4] as string),
          r[5] === "t",
        ];
        return first ? element(pieces) : `,\n${element(pieces)}`;
      },
      cursor: (r) => ({ notAfter: num(r[2] as string), serial: r[6] as string }),
    };
  }

  function tableListing(q: InventoryQuery): TextListing<InventoryQuery["after"]> {
    const line = tableLine();
    const state = (r: TextRow, notAfter: number) =>
      stateOf({ revokedAt: r[3] === null ? null : num(r[3] as string), notAfter }, r[4] === "t", q.now);
    return {
      query: windowQuery(q, TABLE_PIECES),
      text: (r) => {
        const notAfter = num(r[1] as string);
        return line(r[0] as string, notAfter, state(r, notAfter), r[2] as string);
      },
      cursor: (r) => ({ notAfter: num(r[1] as string), serial: r[0] as string }),
    };
  }

  return {
    page,
    listText,

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
