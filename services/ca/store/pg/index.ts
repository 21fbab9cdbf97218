import { forbidden } from "../../../../shared/problem.js";
import type { EabRecord } from "../../core/acme/types.js";
import type { AuditEntry } from "../../core/audit.js";
import type { CertificateRecord, TokenRecord } from "../../core/types.js";
import { eq } from "../drizzle.cjs";
import { pgAcmeStore } from "./acme.js";
import { appendAudit, lockAudit, pgAuditStore } from "./audit.js";
import { pgAuthFailureStore } from "./auth-failures.js";
import { insertCertificate, pgCertificateStore } from "./certificates.js";
import { pgCrlStore } from "./crls.js";
import { pgDashboardStore } from "./dashboard.js";
import { type OpenPgOptions, openPg, type PgLocation, type Queryable } from "./db.js";
import { pgFailureTallyStore } from "./failure-tallies.js";
import { DatabaseUnavailable, guarded } from "./faults.js";
import { pgHostStore } from "./hosts.js";
import { pgIssuer } from "./issuance.js";
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

  /**
   * A change and its audit event in one transaction (store/index.ts's `audited` on SQLite): the
   * event is written when `happened` says the change took place, chained under the audit lock,
   * taken first (audit.ts lockAudit).
   */
  function audited<A extends unknown[], R>(
    change: (q: Queryable, ...a: A) => Promise<R>,
    happened: (r: R) => boolean = () => true,
  ) {
    return (e: AuditEntry | undefined, ...a: A): Promise<R> =>
      db.transaction(async (tx) => {
        if (e && auditing) await lockAudit(tx);
        const r = await change(tx, ...a);
        if (e && auditing && happened(r)) await appendAudit(tx, e);
        return r;
      });
  }
  const tokenRows = pgTokenStore(db);
  const createToken = audited((q, t: TokenRecord) => tokenRows.create(t, q));
  const revokeToken = audited(
    (q, name: string, at: number) => tokenRows.revoke(name, at, q),
    (r) => r,
  );
  const certs = pgCertificateStore(db);
  const revokeCert = audited(
    (q, serial: string, reason: number, at: number) => certs.revoke(serial, reason, at, q),
    (r) => r === "revoked",
  );
  const acme = pgAcmeStore(db);
  const issuer = pgIssuer(db, auditing);
  const createEab = audited((q, rec: EabRecord) => acme.eabs.create(rec, q));
  const revokeEab = audited(
    (q, name: string, at: number) => acme.eabs.revoke(name, at, q),
    (r) => r === "revoked",
  );

  const ports = {
    audit: pgAuditStore(db, auditing),
    tokens: {
      ...tokenRows,
      create: (t: TokenRecord, e?: AuditEntry) => createToken(e, t),
      revoke: (name: string, at: number, e?: AuditEntry) => revokeToken(e, name, at),
    },
    certificates: {
      ...certs,
      revoke: (serial: string, reason: number, at: number, e?: AuditEntry) =>
        revokeCert(e, serial, reason, at),
      /** a certificate recorded without a token (imports, tests) */
      async insert(rec: CertificateRecord): Promise<void> {
        await db.transaction((tx) => insertCertificate(tx, rec));
      },
    },
    crls: pgCrlStore(db),
    acme: {
      ...acme,
      eabs: {
        ...acme.eabs,
        create: (rec: EabRecord, e?: AuditEntry) => createEab(e, rec),
        revoke: (name: string, at: number, e?: AuditEntry) => revokeEab(e, name, at),
      },
      rateWindows: pgRateWindowStore(db),
    },
    hosts: pgHostStore(db),
    /** the dashboard's sessions and its overview's figures */
    sessions: pgSessionStore(db),
    dashboard: pgDashboardStore(db),
    authFailures: pgAuthFailureStore(db),
    failureTallies: pgFailureTallyStore(db, auditing),
    leases: pgLeaseStore(db),
    /**
     * Records an issued certificate and, for a token, consumes one use and one rate slot, in a
     * transaction that locks the token's row, so the use count is exact across replicas: shared
     * with the issuances around it (issuance.ts), a renewal's alone. Settles after COMMIT;
     * nothing is written when it rejects.
     */
    async recordIssued(
      rec: CertificateRecord,
      tokenId: string | null,
      now: number,
      audit: AuditEntry | null = null,
    ): Promise<void> {
      if (rec.renewedFrom === null) return issuer.record({ rec, tokenId, now, audit });
      await db.transaction(async (tx) => {
        if (audit && auditing) await lockAudit(tx);
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
