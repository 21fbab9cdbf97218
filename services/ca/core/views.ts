import type { InventoryRow } from "./inventory.js";
import { formatDnsPattern, formatIpRange } from "./names.js";
import type { TokenRecord } from "./types.js";

/**
 * The JSON shapes of inventory rows and tokens, shared by the HTTP API and the CLI. `certs list
 * --json` has SQLite print the inventory row (store/certificates.ts viewJson): change both
 * together (test/integration/inventory.test.ts compares them).
 */
export function certificateView(r: InventoryRow) {
  return {
    serial: r.serial,
    commonName: r.commonName,
    dns: r.dnsNames,
    ips: r.ipAddresses,
    notBefore: new Date(r.notBefore).toISOString(),
    notAfter: new Date(r.notAfter).toISOString(),
    keySha256: r.keyFingerprint,
    tokenId: r.tokenId,
    renewedFrom: r.renewedFrom,
    revoked: r.revokedAt !== null,
    state: r.state,
  };
}

export function tokenView(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    dns: t.policy.dns.map(formatDnsPattern),
    ip: t.policy.ips.map(formatIpRange),
    maxValidityMs: t.policy.maxValidityMs,
    expiresAt: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
    usesLeft: t.usesLeft,
    rate: { limit: t.rateLimit, windowMs: t.rateWindowMs },
    revoked: t.revokedAt !== null,
  };
}
