import { randomBytes } from "node:crypto";
import type { Identifier, OrderStatus } from "../../../shared/acme/types.js";
import {
  alreadyReplaced,
  badCSR,
  malformed,
  notFound,
  orderNotReady,
  rateLimited,
  serverInternal,
  unauthorized,
} from "../../../shared/problem.js";
import { certIdSerial } from "../core/acme/cert-id.js";
import { certificateIdentifiers, checkIdentifiers, csrMatchesOrder } from "../core/acme/identifiers.js";
import { authzStatus, challengeTypesFor, orderStatus } from "../core/acme/state.js";
import type { AccountRecord, AuthzRecord, OrderRecord } from "../core/acme/types.js";
import { issuanceWindow, parseRequestedWindow } from "../core/acme/validity.js";
import { parseCsr, withCommonNameAsSan } from "../core/csr.js";
import type { AcmeDeps } from "./deps.js";

export interface NewOrderRequest {
  identifiers: { type: string; value: string }[];
  notBefore?: string;
  notAfter?: string;
  replaces?: string;
}

/** RFC 8555 7.4 orders: creation, their status (7.1.6), finalization; RFC 9773 5 "replaces". */
export function orderService(deps: AcmeDeps) {
  const { store, issuer, limits } = deps;

  /** 7.1.6: the order's status now, from its own and its authorizations'. */
  async function status(order: OrderRecord, now = deps.clock()): Promise<OrderStatus> {
    const statuses = (await Promise.all(order.authzIds.map((id) => store.authzs.byId(id))))
      .filter((a): a is AuthzRecord => a !== null)
      .map((a) => authzStatus(a, now));
    // An authorization row that has gone missing counts as invalid.
    if (statuses.length !== order.authzIds.length) statuses.push("invalid");
    return orderStatus(order, statuses, now);
  }

  /** The order, if it is the account's (404 when there is none, 403 when it is another's). */
  async function own(id: string, accountId: string): Promise<OrderRecord> {
    const order = await store.orders.byId(id);
    if (!order) throw notFound(`no order ${id}`);
    if (order.accountId !== accountId) throw unauthorized("the order belongs to another account");
    return order;
  }

  /**
   * RFC 9773 5: `replaces` must name a certificate issued to this account that shares at least
   * one identifier with the new order, and that no other order, unless invalid, already replaces
   * (409 alreadyReplaced).
   */
  async function checkReplaces(
    replaces: string,
    accountId: string,
    identifiers: readonly Identifier[],
    now: number,
  ): Promise<void> {
    const serial = certIdSerial(replaces, issuer.issuerKeyIds);
    const prev = serial ? await store.orders.byCertSerial(serial) : null;
    const cert = serial ? await issuer.chainOf(serial) : null;
    if (!serial || !prev || !cert || prev.accountId !== accountId) {
      throw malformed("replaces does not name a certificate this account was issued");
    }
    const held = new Set(certificateIdentifiers(cert).map((i) => `${i.type}:${i.value}`));
    if (!identifiers.some((i) => held.has(`${i.type}:${i.value}`))) {
      throw malformed(
        `replaces names certificate ${serial}, which shares no identifier with this order: a replacement must keep at least one of its names`,
      );
    }
    // Only this account may replace its certificate, so its own orders are the ones to look at;
    // they are compared by serial, as a CertID may be spelt more than one way.
    let other: OrderRecord | undefined;
    for (const o of await store.orders.replacingOf(accountId)) {
      if (o.replaces === null || certIdSerial(o.replaces, issuer.issuerKeyIds) !== serial) continue;
      if ((await status(o, now)) !== "invalid") {
        other = o;
        break;
      }
    }
    if (other) throw alreadyReplaced(`certificate ${serial} is already replaced by order ${other.id}`);
  }

  return {
    status,
    own,

    /**
     * 7.4 newOrder, with notBefore/notAfter; RFC 8738 ip identifiers; RFC 9773 5 "replaces". The
     * identifiers are checked against the account's EAB policy and the name constraints; each
     * gets an authorization with the challenges its type takes.
     */
    async create(account: AccountRecord, req: NewOrderRequest): Promise<OrderRecord> {
      const window = parseRequestedWindow(req);
      const now = deps.clock();
      const wait = await store.accounts.takeRateSlot(account.id, now, limits.rateLimit, limits.rateWindowMs);
      if (wait > 0) throw rateLimited(`at most ${limits.rateLimit} new orders per account per window`, wait);
      const eab = await store.eab(account.eabKid);
      if (!eab || eab.revokedAt !== null)
        throw unauthorized("the account's external account binding is revoked");
      const identifiers = checkIdentifiers(req.identifiers, eab.policy, issuer.constraints);
      issuanceWindow(window, eab.policy.maxValidityMs, now);
      if (req.replaces !== undefined) await checkReplaces(req.replaces, account.id, identifiers, now);
      const authzs: AuthzRecord[] = identifiers.map((identifier) => ({
        id: randomBytes(12).toString("base64url"),
        accountId: account.id,
        identifier,
        status: "pending",
        expires: now + limits.authzLifetimeMs,
        challenges: challengeTypesFor(identifier.type).map((type) => ({
          type,
          token: randomBytes(32).toString("base64url"),
          status: "pending",
        })),
      }));
      const order: OrderRecord = {
        id: randomBytes(12).toString("base64url"),
        accountId: account.id,
        status: "pending",
        identifiers,
        authzIds: authzs.map((a) => a.id),
        expires: now + limits.orderLifetimeMs,
        error: null,
        certSerial: null,
        replaces: req.replaces ?? null,
        notBefore: window.notBefore,
        notAfter: window.notAfter,
        createdAt: now,
      };
      await store.orders.create(order, authzs);
      return order;
    },

    /** The account's order, when it is ready to finalize (7.4: orderNotReady otherwise). */
    async ready(id: string, accountId: string): Promise<OrderRecord> {
      const order = await own(id, accountId);
      const s = await status(order);
      if (s !== "ready") throw orderNotReady(`the order is ${s}, not ready`);
      return order;
    },

    /**
     * 7.4 finalize, synchronous, of an order that `ready` returned: the CSR must ask for exactly
     * the order's identifiers; it is parsed once, here, and issued as parsed. Another request
     * finalizing the same order at once gets orderNotReady.
     */
    async finalize(order: OrderRecord, account: AccountRecord, csrDer: Uint8Array): Promise<OrderRecord> {
      const now = deps.clock();
      // RFC 8738: an IP literal sent as a dNSName (lego 4.9) counts as the order's ip identifier.
      // RFC 8555 7.4: a name may be asked for in the subject's commonName, the subjectAltName or both.
      const csr = withCommonNameAsSan(parseCsr(csrDer, { ipLiteralDnsNamesAsIps: true }));
      if (!csrMatchesOrder(csr, order.identifiers)) {
        throw badCSR(
          "the CSR's names (its subjectAltName, and a commonName that is a DNS name or IP address) must be exactly the order's identifiers",
        );
      }
      const eab = await store.eab(account.eabKid);
      if (!eab) throw serverInternal("the account's external account binding is gone");
      // The EAB may have been revoked since newOrder: its policy no longer vouches for the account.
      if (eab.revokedAt !== null) throw unauthorized("the account's external account binding is revoked");
      // Checked again now: time has passed since newOrder (a notBefore may be too far behind by now).
      const window = issuanceWindow(order, eab.policy.maxValidityMs, now) ?? undefined;
      if (!(await store.orders.claim(order.id))) throw orderNotReady("the order is already being finalized");
      try {
        const issued = await issuer.issueForAcme(csr, eab.policy, window, {
          kind: "acme-account",
          id: account.id,
        });
        await store.orders.update(order.id, { status: "valid", certSerial: issued.serial });
        deps.log.info(
          {
            account: account.id,
            order: order.id,
            serial: issued.serial,
            names: order.identifiers.map((i) => i.value),
          },
          "ACME certificate issued",
        );
        return { ...order, status: "valid", certSerial: issued.serial };
      } catch (e) {
        // The request failed before anything was stored: the order stays ready for another CSR.
        await store.orders.update(order.id, { status: "pending" });
        throw e;
      }
    },

    /** 7.1.2.1: the account's orders, leaving out those that failed or expired unfinished. */
    async listed(accountId: string): Promise<OrderRecord[]> {
      const now = deps.clock();
      return (await store.orders.ofAccount(accountId)).filter(
        (o) => o.status !== "invalid" && (o.status === "valid" || o.expires > now),
      );
    },
  };
}
