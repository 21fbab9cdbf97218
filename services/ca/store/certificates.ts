import {
  type InventoryPage,
  type InventoryQuery,
  type InventoryState,
  namesOf,
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
  or,
  type SQL,
  sql,
} from "./drizzle.cjs";
import { hotStatement } from "./hot.js";
import { certificateNames, certificates } from "./schema.js";

const COLUMNS = [
  "serial",
  "tokenId",
  "renewedFrom",
  "commonName",
  "dnsNames",
  "ipAddresses",
  "notBefore",
  "notAfter",
  "keyFingerprint",
  "pem",
  "createdAt",
  "revokedAt",
  "revocationReason",
] as const satisfies readonly (keyof CertificateRecord)[];

export function certificateStore(db: Db) {
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
  // Renewal, revocation and ACME downloads look a certificate up by serial.
  const bySerialStmt = db
    .select()
    .from(certificates)
    .where(eq(certificates.serial, sql.placeholder("serial")))
    .prepare();
  const successorStmt = db
    .select({ serial: certificates.serial })
    .from(certificates)
    .where(eq(certificates.renewedFrom, sql.placeholder("serial")))
    .limit(1)
    .prepare();
  return {
    insert(rec: CertificateRecord): void {
      insertStmt.run(mapped.map(([key, c]) => (rec[key] === null ? null : c.mapToDriverValue(rec[key]))));
      for (const name of namesOf(rec)) insertNameStmt.run(name, rec.notAfter, rec.serial);
    },

    /**
     * One page of the inventory in the order (notAfter, serial), after `q.after`. Every filter
     * runs on an index: by name through certificate_names (kept in that order per name), by
     * token through certificates_token, otherwise along certificates_not_after.
     */
    page(q: InventoryQuery): InventoryPage {
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
        statesCondition(q.states, q.now),
      ];
      const fields = { ...listColumns, renewed: sql<number>`${renewedSql}` };
      const base =
        q.name === undefined
          ? db.select(fields).from(certificates)
          : db
              .select(fields)
              .from(certificateNames)
              .innerJoin(certificates, eq(certificates.serial, certificateNames.serial));
      const found = base
        .where(and(...conds))
        .orderBy(asc(order.notAfter), asc(order.serial))
        .limit(q.limit + 1)
        .all();
      const rows = found.slice(0, q.limit).map(({ renewed, ...rec }) => ({
        ...rec,
        state: stateOf(rec, renewed === 1, q.now),
      }));
      const last = rows.at(-1);
      return {
        rows,
        next: found.length > q.limit && last ? { notAfter: last.notAfter, serial: last.serial } : null,
      };
    },

    bySerial(serial: string): CertificateRecord | null {
      return bySerialStmt.get({ serial }) ?? null;
    },

    /** The serial of the certificate that renewed this one, or null. */
    successorOf(serial: string): string | null {
      return successorStmt.get({ serial })?.serial ?? null;
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

const { pem: _pem, ...listColumns } = getTableColumns(certificates);

/** 1 when a certificate has been renewed (certificates_renewed_from answers it). */
const renewedSql = sql`exists (select 1 from ${certificates} as successor where successor.renewed_from = ${certificates.serial})`;

/** The SQL of stateOf, for the states asked for: what stateOf would say of each row it keeps. */
function statesCondition(states: readonly InventoryState[], now: number): SQL | undefined {
  const live = and(isNull(certificates.revokedAt), gt(certificates.notAfter, now));
  const each: Record<InventoryState, SQL | undefined> = {
    revoked: isNotNull(certificates.revokedAt),
    expired: and(isNull(certificates.revokedAt), lte(certificates.notAfter, now)),
    superseded: and(live, renewedSql),
    valid: and(live, sql`not ${renewedSql}`),
  };
  if (states.length === 4) return undefined;
  // valid and superseded together: in force, renewed or not
  const parts =
    states.includes("valid") && states.includes("superseded")
      ? [live, ...states.filter((s) => s !== "valid" && s !== "superseded").map((s) => each[s])]
      : states.map((s) => each[s]);
  return or(...parts);
}
