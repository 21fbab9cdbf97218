import { randomBytes } from "node:crypto";
import type { AuditEntry } from "../../services/ca/core/audit.js";
import type { CertificateRecord, TokenRecord } from "../../services/ca/core/types.js";

const DAY = 86_400_000;

/** An enrolment token's row for store tests: a fresh id and name, host.lan allowed, `over` on top. */
export function tokenRecord(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id: randomBytes(8).toString("hex"),
    name: `t-${randomBytes(4).toString("hex")}`,
    kind: "enrol",
    secretHash: "hmac-sha256:x",
    policy: { dns: [{ kind: "exact", name: "host.lan" }], ips: [], maxValidityMs: 30 * DAY },
    expiresAt: null,
    usesLeft: null,
    rateLimit: 1000,
    rateWindowMs: 60_000,
    createdAt: Date.now(),
    revokedAt: null,
    ...over,
  };
}

/** A certificate's row for store tests: a fresh serial, `name` as its one DNS name, `over` on top. */
export function certificateRecord(name: string, over: Partial<CertificateRecord> = {}): CertificateRecord {
  const now = Date.now();
  return {
    serial: randomBytes(16).toString("hex"),
    tokenId: null,
    renewedFrom: null,
    commonName: name,
    dnsNames: [name],
    ipAddresses: ["10.0.0.1"],
    notBefore: now,
    notAfter: now + 30 * DAY,
    keyFingerprint: "ab".repeat(32),
    pem: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
    createdAt: now,
    revokedAt: null,
    revocationReason: null,
    ...over,
  };
}

/** The audit event a sign's issuance of `rec` records. */
export const issuedEntry = (rec: CertificateRecord): AuditEntry => ({
  at: rec.createdAt,
  type: "certificate.issued",
  actor: { kind: "token", id: rec.tokenId ?? "none" },
  subject: rec.serial,
  details: { method: "sign", names: rec.dnsNames },
});
