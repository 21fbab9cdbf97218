import { conflict, notFound } from "../../../shared/problem.js";
import type { CertificateRecord } from "../core/types.js";

/** What the inventory needs from storage; the SQLite store implements it. */
export interface InventoryStore {
  list(opts: { expiringBefore?: number }): CertificateRecord[];
  revoke(serial: string, reason: number, at: number): "revoked" | "already" | "missing";
}

/**
 * The inventory of issued certificates: listing and revocation, the same for every front end
 * (the CLI, POST /v1/revoke, ACME's revokeCert through the Authority). Needs no CA key.
 */
export function certificateService(store: InventoryStore, clock: () => number) {
  return {
    /** Unrevoked certificates, soonest expiry first; with `expiringBefore`, those ending by then. */
    list(opts: { expiringBefore?: number } = {}): CertificateRecord[] {
      return store.list(opts);
    },
    /** `serial` in canonical hex (normalizeSerial); `reason` an RFC 5280 5.3.1 code. */
    revoke(serial: string, reason: number): void {
      const res = store.revoke(serial, reason, clock());
      if (res === "missing") throw notFound(`no certificate with serial ${serial}`);
      if (res === "already") throw conflict(`certificate ${serial} is already revoked`);
    },
  };
}
export type CertificateService = ReturnType<typeof certificateService>;
