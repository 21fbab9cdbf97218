import { forbidden, Problem } from "../../../shared/problem.js";
import type { EabRecord } from "../core/acme/types.js";
import type { AuditEntry } from "../core/audit.js";
import type { CertificateRecord, TokenRecord } from "../core/types.js";
import { acmeStore } from "./acme.js";
import { auditStore } from "./audit.js";
import { authFailureStore } from "./auth-failures.js";
import { certificateStore } from "./certificates.js";
import { crlStore } from "./crls.js";
import { dashboardStore } from "./dashboard.js";
import { type OpenOptions, openDb } from "./db.js";
import { failureTallyStore } from "./failure-tallies.js";
import { hostStore } from "./hosts.js";
import { leaseStore } from "./leases.js";
import type { StorePorts } from "./ports.js";
import { promised } from "./promised.js";
import { rateWindowStore } from "./rate-windows.js";
import { sessionStore } from "./sessions.js";
import { tokenStore } from "./tokens.js";
import { walSync } from "./wal-sync.js";

/**
 * The SQLite store: one module per entity, sharing one connection. Its modules are synchronous
 * (better-sqlite3); the ports they implement are async (ports.ts), so each is handed out through
 * promised(), which settles a promise with what the call returned or threw. `audit: false`
 * writes no audit events (for benchmarks that compare with and without them).
 */
export function openStore(path: string, o: OpenOptions & { audit?: boolean } = {}): StorePorts {
  const { db, sqlite, close } = openDb(path, o);
  // SQLite's temporary journals (a statement's, a savepoint's: the original of every page it
  // changes, to roll it back) spill to a temporary file beyond 64 KiB in one transaction: a
  // write() per page. When group commit still wrote each issuance in a savepoint that was 19
  // writes per issuance in a batch of 13 (strace). In memory they take at most a transaction's
  // pages and are dropped at its end. Set after the migrations, whose index builds may sort more.
  sqlite.pragma("temp_store = MEMORY");
  const auditing = o.audit ?? true;
  const audit = auditStore(db);
  const tokenRows = tokenStore(db);
  const certs = certificateStore(db);
  const crl = crlStore(db);
  const acme = acmeStore(db);

  /**
   * A change and its audit event in one transaction: the event is written when `happened` says
   * the change took place (a revocation of what does not exist writes none).
   */
  function audited<A extends unknown[], R>(change: (...a: A) => R, happened: (r: R) => boolean = () => true) {
    const tx = sqlite.transaction((e: AuditEntry | undefined, a: A) => {
      const r = change(...a);
      if (e && auditing && happened(r)) audit.appendIn(e);
      return r;
    });
    return (e: AuditEntry | undefined, ...a: A): R => tx.immediate(e, a);
  }
  const createToken = audited(tokenRows.create);
  const revokeToken = audited(tokenRows.revoke, (r) => r);
  const tokens = {
    ...tokenRows,
    create: (t: TokenRecord, e?: AuditEntry) => createToken(e, t),
    revoke: (name: string, at: number, e?: AuditEntry) => revokeToken(e, name, at),
  };
  const revokeCert = audited(certs.revoke, (r) => r === "revoked");
  const certificates = {
    ...certs,
    revoke: (serial: string, reason: number, at: number, e?: AuditEntry) => revokeCert(e, serial, reason, at),
  };
  const createEab = audited(acme.eabs.create);
  const revokeEab = audited(acme.eabs.revoke, (r) => r === "revoked");
  const eabs = {
    ...acme.eabs,
    create: (rec: EabRecord, e?: AuditEntry) => createEab(e, rec),
    revoke: (name: string, at: number, e?: AuditEntry) => revokeEab(e, name, at),
  };

  interface Pending {
    rec: CertificateRecord;
    tokenId: string | null;
    now: number;
    audit: AuditEntry | null;
    resolve: () => void;
    reject: (e: unknown) => void;
  }
  const queue: Pending[] = [];
  // The chain's head, read once per batch inside its transaction (no other writer can move it).
  let head = "";
  /**
   * One issuance of a batch: its checks, then its writes. The checks (a renewal's successor; the
   * token's revocation, uses and rate window in tokens.consume) refuse with a Problem before
   * anything is written, so a refused issuance leaves the transaction as it found it and the
   * others go on in it, without a savepoint each (the savepoints' page copies cost 8-11 µs of
   * the event loop per issuance, issue 16). What fails after the writes began is Torn.
   */
  function recordOne(p: Pending): Problem | null {
    try {
      // Checked again inside the write transaction: of two renewals of one certificate at once,
      // across processes, only the first is recorded.
      const renewed = p.rec.renewedFrom;
      if (renewed !== null && certs.successorOf(renewed) !== null)
        throw forbidden(`certificate ${renewed} has been renewed already: renew its successor`);
      if (p.tokenId !== null) tokens.consume(p.tokenId, p.now);
    } catch (e) {
      if (e instanceof Problem) return e;
      throw new Torn(e);
    }
    try {
      certs.insert(p.rec);
      // the issuance's audit event, chained to `head`; its new hash is the head once this commits
      if (p.audit && auditing) head = audit.write(p.audit, head);
      return null;
    } catch (e) {
      throw new Torn(e);
    }
  }
  const recordBatch = sqlite.transaction((batch: Pending[]) => {
    head = auditing ? audit.head() : "";
    return batch.map((p) => recordOne(p));
  });
  /**
   * The batch in one IMMEDIATE transaction: what each issuance came to, null when recorded. When
   * one failed after it began to write (a serial taken, a full disk), the transaction is rolled
   * back whole and each issuance is written again alone, so that only that one fails. A failure
   * to begin or commit fails them all, as a transaction of one would have.
   */
  function write(batch: Pending[]): unknown[] {
    try {
      return recordBatch.immediate(batch);
    } catch (e) {
      if (!(e instanceof Torn)) return batch.map(() => e);
      if (batch.length === 1) return [e.cause];
      return batch.map((p) => write([p])[0]);
    }
  }
  const wal = walSync(sqlite, `${path}-wal`);
  let held = false;
  /**
   * A refusal settles at once (it wrote nothing); the recorded settle once the WAL is synced.
   * While a sync runs, the queue waits for it to end and then commits as one batch (afterSync).
   */
  function flush(): void {
    if (held) return;
    held = true;
    wal.afterSync(() => {
      held = false;
      commitQueued();
    });
  }
  function commitQueued(): void {
    const batch = queue.splice(0);
    if (batch.length === 0) return;
    const outcomes = wal.unsynced(() => write(batch));
    const recorded: Pending[] = [];
    batch.forEach((p, i) => {
      const err = outcomes[i];
      if (err) p.reject(err);
      else recorded.push(p);
    });
    if (recorded.length === 0) return;
    wal.durable((err) => {
      for (const p of recorded) {
        if (err) p.reject(err);
        else p.resolve();
      }
    });
  }

  return {
    tokens: promised(tokens),
    certificates: promised(certificates),
    crls: promised(crl),
    acme: promised({ ...acme, eabs, rateWindows: rateWindowStore(db) }),
    /** the dashboard's sessions and its overview's figures (async already) */
    sessions: sessionStore(db),
    dashboard: dashboardStore(db),
    hosts: hostStore(db),
    /** failed authentications per client address, counted by every process together */
    authFailures: authFailureStore(db),
    /** failed authentications per address as every process counted them, until they are audited */
    failureTallies: failureTallyStore(db, auditing ? (e) => audit.appendIn(e) : null),
    leases: promised(leaseStore(db)),
    audit: {
      ...audit,
      append: (e: AuditEntry): Promise<void> => (auditing ? audit.append(e) : Promise.resolve()),
    },
    /**
     * Records an issued certificate and, for a token, consumes one use and one rate slot.
     * Group commit: records arriving in the same turn of the event loop, or while the last
     * batch's sync runs, are written in one IMMEDIATE transaction (see recordOne and write: one
     * request's failure, a token out of uses, fails only that request), and the promise settles
     * after the commit and the WAL's sync, which runs off the event loop (wal-sync.ts). The
     * issuance's audit event is written in the same transaction.
     */
    recordIssued(
      rec: CertificateRecord,
      tokenId: string | null,
      now: number,
      audit: AuditEntry | null = null,
    ): Promise<void> {
      return new Promise((resolve, reject) => {
        queue.push({ rec, tokenId, now, audit, resolve, reject });
        if (queue.length === 1) setImmediate(flush);
      });
    },
    async ping(): Promise<void> {
      sqlite.prepare("select 1").get();
    },
    async close(): Promise<void> {
      await wal.close();
      close();
    },
  };
}
export type SqliteStore = ReturnType<typeof openStore>;

/** An issuance that failed after its writes began: its batch is rolled back and written again one by one. */
class Torn {
  constructor(readonly cause: unknown) {}
}
