import type { InventoryRow } from "./inventory.js";
import { formatDnsPattern, formatIpRange } from "./names.js";
import type { TokenRecord } from "./types.js";

/**
 * The JSON shapes of inventory rows and tokens, shared by the HTTP API and the CLI (`certs list
 * --json` prints the inventory's rows through certificateViewsText below).
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

/**
 * Rows as JSON.stringify(all, null, 2) prints them inside its array: each certificateView an
 * element, separated by ",\n", without the brackets ("" for none). `certs list --json` prints a
 * page at a time this way: one JSON.stringify of the page took two thirds of the CPU of a template
 * per row, and a third of SQLite's json_pretty per row (the way before).
 */
export function certificateViewsText(rows: readonly InventoryRow[]): string {
  return rows.length === 0 ? "" : JSON.stringify(rows.map(certificateView), null, 2).slice(2, -2);
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
