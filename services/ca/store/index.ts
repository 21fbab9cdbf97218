import { forbidden } from "../../../shared/problem.js";
import type { CertificateRecord } from "../core/types.js";
import { acmeStore } from "./acme.js";
import { authFailureStore } from "./auth-failures.js";
import { certificateStore } from "./certificates.js";
import { crlStore } from "./crls.js";
import { dashboardStore } from "./dashboard.js";
import { type OpenOptions, openDb } from "./db.js";
import { hostStore } from "./hosts.js";
import type { StorePorts } from "./ports.js";
import { promised } from "./promised.js";
import { sessionStore } from "./sessions.js";
import { tokenStore } from "./tokens.js";

/**
 * The SQLite store: one module per entity, sharing one connection. Its modules are synchronous
 * (better-sqlite3); the ports they implement are async (ports.ts), so each is handed out through
 * promised(), which settles a promise with what the call returned or threw.
 */
export function openStore(path: string, o: OpenOptions = {}): StorePorts {
  const { db, sqlite, close } = openDb(path, o);
  const tokens = tokenStore(db);
  const certs = certificateStore(db);
  const crl = crlStore(db);

  interface Pending {
    rec: CertificateRecord;
    tokenId: string | null;
    now: number;
    resolve: () => void;
    reject: (e: unknown) => void;
  }
  const queue: Pending[] = [];
  const recordOne = sqlite.transaction((p: Pending) => {
    if (p.tokenId !== null) tokens.consume(p.tokenId, p.now);
    // Checked again inside the write transaction: of two renewals of one certificate at once,
    // across processes, only the first is recorded.
    const renewed = p.rec.renewedFrom;
    if (renewed !== null && certs.successorOf(renewed) !== null)
      throw forbidden(`certificate ${renewed} has been renewed already: renew its successor`);
    certs.insert(p.rec);
  });
  const recordBatch = sqlite.transaction((batch: Pending[]) =>
    batch.map((p) => {
      try {
        recordOne(p);
        return null;
      } catch (e) {
        return e;
      }
    }),
  );
  function flush(): void {
    const batch = queue.splice(0);
    let outcomes: unknown[];
    try {
      outcomes = recordBatch.immediate(batch);
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => {
      const err = outcomes[i];
      if (err) p.reject(err);
      else p.resolve();
    });
  }

  return {
    tokens: promised(tokens),
    certificates: promised(certs),
    crls: promised(crl),
    acme: promised(acmeStore(db)),
    /** the dashboard's sessions and its overview's figures (async already) */
    sessions: sessionStore(db),
    dashboard: dashboardStore(db),
    hosts: hostStore(db),
    /** failed authentications per client address, counted by every process together */
    authFailures: authFailureStore(db),
    /**
     * Records an issued certificate and, for a token, consumes one use and one rate slot.
     * Group commit: records arriving in the same turn of the event loop are written in one
     * IMMEDIATE transaction, each in its own savepoint, so one request's failure (a token out
     * of uses) rolls back only that request, and the promise settles after the commit.
     */
    recordIssued(rec: CertificateRecord, tokenId: string | null, now: number): Promise<void> {
      return new Promise((resolve, reject) => {
        queue.push({ rec, tokenId, now, resolve, reject });
        if (queue.length === 1) setImmediate(flush);
      });
    },
    async ping(): Promise<void> {
      sqlite.prepare("select 1").get();
    },
    async close(): Promise<void> {
      close();
    },
  };
}
export type SqliteStore = ReturnType<typeof openStore>;
