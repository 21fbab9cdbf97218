import { randomBytes } from "node:crypto";
import type { TokenRecord } from "../../services/ca/core/types.js";

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
