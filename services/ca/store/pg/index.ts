import { forbidden } from "../../../../shared/problem.js";
import type { AuditEntry } from "../../core/audit.js";
import type { CertificateRecord } from "../../core/types.js";
import { eq } from "../drizzle.cjs";
import { pgAcmeStore } from "./acme.js";
import { appendAudit, pgAuditStore } from "./audit.js";
import { pgAuthFailureStore } from "./auth-failures.js";
import { insertCertificate, pgCertificateStore } from "./certificates.js";
import { pgCrlStore } from "./crls.js";
import { pgDashboardStore } from "./dashboard.js";
import { type OpenPgOptions, openPg, type PgLocation } from "./db.js";
import { DatabaseUnavailable, guarded } from "./faults.js";
import { pgHostStore } from "./hosts.js";
import { pgLeaseStore } from "./leases.js";
import { pgRateWindowStore } from "./rate-windows.js";
import { certificates } from "./schema.js";
import { pgSessionStore } from "./sessions.js";
import { consumeToken, pgTokenStore } from "./tokens.js";

/**
 * The PostgreSQL store: the same ports as the SQLite one (store/index.ts), on a pool shared by
 * the modules. Nothing the CA needs across requests lives in this process: several replicas on
 * one database behave as one CA.
 */
export async function openPgStore(loc: PgLocation, o: OpenPgOptions & { audit?: boolean } = {}) {
  const { db, close } = await openPg(loc, o);
  const auditing = o.audit ?? true;
  const ports = {
    audit: pgAuditStore(db, auditing),
    tokens: pgTokenStore(db),
    certificates: {
      ...pgCertificateStore(db),
      /** a certificate recorded without a token (imports, tests) */
      async insert(rec: CertificateRecord): Promise<void> {
        await db.transaction((tx) => insertCertificate(tx, rec));
      },
    },
    crls: pgCrlStore(db),
    acme: { ...pgAcmeStore(db), rateWindows: pgRateWindowStore(db) },
    hosts: pgHostStore(db),
    /** the dashboard's sessions and its overview's figures */
    sessions: pgSessionStore(db),
    dashboard: pgDashboardStore(db),
    authFailures: pgAuthFailureStore(db),
    leases: pgLeaseStore(db),
    /**
     * Records an issued certificate and, for a token, consumes one use and one rate slot: one
     * transaction, which locks the token's row, so the use count is exact across replicas.
     * Settles after COMMIT; nothing is written when it rejects.
     */
    async recordIssued(
      rec: CertificateRecord,
      tokenId: string | null,
      now: number,
      audit: AuditEntry | null = null,
    ): Promise<void> {
      await db.transaction(async (tx) => {
        if (tokenId !== null) await consumeToken(tx, tokenId, now);
        await insertCertificate(tx, rec);
        // a successor recorded before renewed_by existed (an old database copied in) counts too
        if (rec.renewedFrom !== null) {
          const earlier = await tx
            .select({ serial: certificates.serial })
            .from(certificates)
            .where(eq(certificates.renewedFrom, rec.renewedFrom))
            .limit(2);
          if (earlier.some((r) => r.serial !== rec.serial)) {
            throw forbidden(`certificate ${rec.renewedFrom} has been renewed already: renew its successor`);
          }
        }
        if (audit && auditing) await appendAudit(tx, audit);
      });
    },
    /** Rejects when PostgreSQL does not answer, or answers read-only (/healthz says 503 then). */
    async ping(): Promise<void> {
      const r = await db.$client.query<{ recovery: boolean; ro: string }>(
        "select pg_is_in_recovery() as recovery, current_setting('transaction_read_only') as ro",
      );
      const row = r.rows[0];
      if (row?.recovery || row?.ro === "on") {
        throw new DatabaseUnavailable("PostgreSQL is read-only (a standby, or a failover under way)");
      }
    },
    close,
  };
  return guarded(ports);
}
export type PgStore = Awaited<ReturnType<typeof openPgStore>>;
