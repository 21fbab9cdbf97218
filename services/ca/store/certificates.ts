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
  sql,
} from "./drizzle.cjs";
import { hotStatement } from "./hot.js";
import { certificates } from "./schema.js";

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
    },

    bySerial(serial: string): CertificateRecord | null {
      return bySerialStmt.get({ serial }) ?? null;
    },

    /** The serial of the certificate that renewed this one, or null. */
    successorOf(serial: string): string | null {
      return successorStmt.get({ serial })?.serial ?? null;
    },

    /** Unrevoked certificates, soonest expiry first; with `expiringBefore`, only those ending by then. */
    list(
      opts: { expiringBefore?: number; includeRevoked?: boolean; limit?: number } = {},
    ): CertificateRecord[] {
      const conds = [];
      if (opts.expiringBefore !== undefined) conds.push(lte(certificates.notAfter, opts.expiringBefore));
      if (!opts.includeRevoked) conds.push(isNull(certificates.revokedAt));
      const q = db
        .select()
        .from(certificates)
        .where(and(...conds))
        .orderBy(asc(certificates.notAfter));
      return opts.limit ? q.limit(opts.limit).all() : q.all();
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
