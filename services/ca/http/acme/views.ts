import type { AuthzDoc, ChallengeDoc, OrderDoc, OrderStatus } from "../../../../shared/acme/types.js";
import { authzStatus } from "../../core/acme/state.js";
import type { AccountRecord, AuthzRecord, ChallengeRecord, OrderRecord } from "../../core/acme/types.js";
import type { Urls } from "./context.js";

/** Records as RFC 8555 7.1 resources; statuses are computed at read time (7.1.6). */

const iso = (ms: number) => new Date(ms).toISOString();

export function accountView(a: AccountRecord, u: Urls) {
  return {
    status: a.status,
    contact: a.contact,
    orders: u.orders(a.id),
    createdAt: iso(a.createdAt),
  };
}

export function challengeView(authzId: string, ch: ChallengeRecord, u: Urls): ChallengeDoc {
  return {
    type: ch.type,
    url: u.challenge(authzId, ch.type),
    token: ch.token,
    status: ch.status,
    ...(ch.validated !== undefined ? { validated: iso(ch.validated) } : {}),
    ...(ch.error ? { error: ch.error } : {}),
  };
}

export function authzView(a: AuthzRecord, u: Urls, now: number): AuthzDoc {
  const status = authzStatus(a, now);
  // 7.1.4: a final authorization lists the challenge that was used: once valid the one that
  // succeeded, once invalid the one that failed (all of them when none was tried, e.g. expired).
  const failed = a.challenges.filter((c) => c.status === "invalid");
  const challenges =
    status === "valid"
      ? a.challenges.filter((c) => c.status === "valid")
      : status === "invalid" && failed.length > 0
        ? failed
        : a.challenges;
  return {
    identifier: a.identifier,
    status,
    expires: iso(a.expires),
    challenges: challenges.map((c) => challengeView(a.id, c, u)),
  };
}

/** `status`: the order's status now, as the ACME domain computes it. */
export function orderView(order: OrderRecord, status: OrderStatus, u: Urls): OrderDoc {
  return {
    status,
    expires: iso(order.expires),
    identifiers: order.identifiers,
    ...(order.notBefore !== null ? { notBefore: iso(order.notBefore) } : {}),
    ...(order.notAfter !== null ? { notAfter: iso(order.notAfter) } : {}),
    authorizations: order.authzIds.map(u.authz),
    finalize: u.finalize(order.id),
    ...(order.certSerial && status === "valid" ? { certificate: u.certificate(order.certSerial) } : {}),
    ...(order.error ? { error: order.error } : {}),
    ...(order.replaces ? { replaces: order.replaces } : {}),
  };
}
