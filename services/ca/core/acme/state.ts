import type { AuthzStatus, ChallengeType, OrderStatus } from "../../../../shared/acme/types.js";
import type { AuthzRecord, ChallengeRecord, OrderRecord } from "./types.js";

/**
 * ACME object states, computed from what is stored and the time, in the manner of pebble's
 * core/types.go. Pure: records and a clock value in, a status out.
 */

/** RFC 8555 7.1.6: an authorization is "expired" once its expiry passes while pending or valid. */
export function authzStatus(a: Pick<AuthzRecord, "status" | "expires">, now: number): AuthzStatus {
  if ((a.status === "pending" || a.status === "valid") && a.expires <= now) return "expired";
  return a.status;
}

/**
 * RFC 8555 7.1.6, order objects: "invalid" if any authorization is invalid, expired, deactivated
 * or revoked (or the order itself expired before issuance); "pending" while any authorization is
 * pending; "ready" once all are valid and finalize has not been called; then "processing" and
 * "valid" as stored by finalize.
 */
export function orderStatus(
  order: Pick<OrderRecord, "status" | "expires">,
  authzStatuses: readonly AuthzStatus[],
  now: number,
): OrderStatus {
  if (order.status === "invalid" || order.status === "valid") return order.status;
  if (order.status === "processing") return "processing";
  if (order.expires <= now) return "invalid";
  if (authzStatuses.some((s) => s === "invalid" || s === "deactivated" || s === "expired" || s === "revoked"))
    return "invalid";
  if (authzStatuses.some((s) => s === "pending")) return "pending";
  return "ready";
}

/**
 * RFC 8555 7.1.6, challenge objects: a challenge may be answered only while it and its
 * authorization are pending; answering one that is already processing, valid or invalid
 * returns it unchanged (7.5.1: "the server MUST ... return the challenge object").
 */
export function mayStartValidation(authz: AuthzStatus, challenge: ChallengeRecord): boolean {
  return authz === "pending" && challenge.status === "pending";
}

/**
 * RFC 8555 7.1.6: the outcome of one validation. A valid challenge makes its authorization valid
 * (7.5.1: one successful challenge is enough); an invalid one makes the authorization invalid.
 */
export function afterValidation(
  authz: AuthzRecord,
  type: ChallengeType,
  outcome: { ok: true; at: number } | { ok: false; error: Record<string, unknown> },
): AuthzRecord {
  const challenges = authz.challenges.map((c): ChallengeRecord => {
    if (c.type !== type) return c;
    return outcome.ok
      ? { ...c, status: "valid", validated: outcome.at }
      : { ...c, status: "invalid", error: outcome.error };
  });
  return { ...authz, status: outcome.ok ? "valid" : "invalid", challenges };
}

/** RFC 8737 3: tls-alpn-01 and RFC 8738 7: IP identifiers take http-01 and tls-alpn-01 only. */
export function challengeTypesFor(identifierType: "dns" | "ip"): ChallengeType[] {
  return identifierType === "ip" ? ["http-01", "tls-alpn-01"] : ["http-01", "tls-alpn-01", "dns-01"];
}
