import type { CertificateRecord } from "../core/types.js";
import { certificateStore } from "./certificates.js";
import { crlStore } from "./crls.js";
import { openDb } from "./db.js";
import { tokenStore } from "./tokens.js";

/** The SQLite store: one module per entity, sharing one connection. */
export function openStore(path: string) {
  const { db, sqlite, close } = openDb(path);
  const tokens = tokenStore(db);
  const certs = certificateStore(db);
  const crl = crlStore(db);
  return {
    tokens,
    certificates: certs,
    crls: crl,
    /**
     * Records an issued certificate and, for a token, consumes one use and one rate slot, all in
     * one IMMEDIATE transaction: either everything is stored or nothing is.
     */
    recordIssued(rec: CertificateRecord, tokenId: string | null, now: number): void {
      const run = sqlite.transaction(() => {
        if (tokenId !== null) tokens.consume(db, tokenId, now);
        certs.insert(db, rec);
      });
      run.immediate();
    },
    ping(): void {
      sqlite.prepare("select 1").get();
    },
    close,
  };
}
export type SqliteStore = ReturnType<typeof openStore>;
