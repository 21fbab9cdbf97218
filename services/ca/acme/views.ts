import type { AuthzDoc, ChallengeDoc, OrderDoc } from "../../../shared/acme/types.js";
import type { Urls } from "./context.js";
import { authzStatus, orderStatus } from "./core/state.js";
import type { AuthzRecord, ChallengeRecord, OrderRecord } from "./core/types.js";
import type { AcmeStore } from "./ports.js";

/** Records as RFC 8555 7.1 resources; statuses are computed at read time (7.1.6). */

const iso = (ms: number) => new Date(ms).toISOString();

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

export function loadAuthzs(store: AcmeStore, order: OrderRecord): AuthzRecord[] {
  return order.authzIds.map((id) => store.authzs.byId(id)).filter((a): a is AuthzRecord => a !== null);
}

export function currentOrderStatus(store: AcmeStore, order: OrderRecord, now: number) {
  const statuses = loadAuthzs(store, order).map((a) => authzStatus(a, now));
  // An authorization row that has gone missing counts as invalid.
  if (statuses.length !== order.authzIds.length) statuses.push("invalid");
  return orderStatus(order, statuses, now);
}

export function orderView(store: AcmeStore, order: OrderRecord, u: Urls, now: number): OrderDoc {
  const status = currentOrderStatus(store, order, now);
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
