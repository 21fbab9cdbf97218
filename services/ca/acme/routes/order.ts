import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { z } from "zod";
import {
  acmeMalformed,
  acmeNotFound,
  acmeRateLimited,
  acmeUnauthorized,
  alreadyReplaced,
  badCsr,
  orderNotReady,
  serverInternal,
} from "../../../../shared/acme/problems.js";
import type { Identifier } from "../../../../shared/acme/types.js";
import { parseCsr, withCommonNameAsSan } from "../../core/csr.js";
import type { AppEnv } from "../../http/context.js";
import { type AcmeDeps, acmeBase, acmeJson, RETRY_AFTER_SECONDS, urls } from "../context.js";
import { certificateIdentifiers, checkIdentifiers, csrMatchesOrder } from "../core/identifiers.js";
import { challengeTypesFor } from "../core/state.js";
import type { AuthzRecord, OrderRecord } from "../core/types.js";
import { issuanceWindow, parseRequestedWindow } from "../core/validity.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";
import { currentOrderStatus, orderView } from "../views.js";
import { certIdSerial } from "./certificate.js";

const newOrderSchema = z.object({
  identifiers: z.array(z.object({ type: z.string(), value: z.string() })),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  replaces: z.string().optional(),
});

const finalizeSchema = z.object({ csr: z.string().regex(/^[A-Za-z0-9_-]+$/, "base64url DER") });

export function orderRoutes(deps: AcmeDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.4 newOrder, with notBefore/notAfter; RFC 8738 ip identifiers; RFC 9773 5 "replaces".
  app.post("/new-order", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    const req = payloadAs(v, newOrderSchema);
    const window = parseRequestedWindow(req);
    const now = deps.clock();
    const wait = deps.store.accounts.takeRateSlot(
      account.id,
      now,
      deps.limits.rateLimit,
      deps.limits.rateWindowMs,
    );
    if (wait > 0)
      throw acmeRateLimited(`at most ${deps.limits.rateLimit} new orders per account per window`, wait);
    const eab = deps.store.eab(account.eabKid);
    if (!eab || eab.revokedAt !== null)
      throw acmeUnauthorized("the account's external account binding is revoked");
    const identifiers = checkIdentifiers(req.identifiers, eab.policy, deps.issuer.constraints);
    issuanceWindow(window, eab.policy.maxValidityMs, now);
    if (req.replaces !== undefined) checkReplaces(deps, req.replaces, account.id, identifiers, now);
    const authzs: AuthzRecord[] = identifiers.map((identifier) => ({
      id: randomBytes(12).toString("base64url"),
      accountId: account.id,
      identifier,
      status: "pending",
      expires: now + deps.limits.authzLifetimeMs,
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
      expires: now + deps.limits.orderLifetimeMs,
      error: null,
      certSerial: null,
      replaces: req.replaces ?? null,
      notBefore: window.notBefore,
      notAfter: window.notAfter,
      createdAt: now,
    };
    deps.store.orders.create(order, authzs);
    return acmeJson(c, orderView(deps.store, order, u, now), 201, { location: u.order(order.id) });
  });

  // RFC 8555 7.1.3: POST-as-GET on an order; 7.4: while it is "processing" (another request is
  // finalizing it), Retry-After says when to poll again.
  app.post("/order/:id", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const order = ownOrder(deps, c.req.param("id"), accountOf(v).id);
    const view = orderView(deps.store, order, u, deps.clock());
    const headers: Record<string, string> = { location: u.order(order.id) };
    if (view.status === "processing") headers["retry-after"] = RETRY_AFTER_SECONDS;
    return acmeJson(c, view, 200, headers);
  });

  // RFC 8555 7.4 finalize: synchronous, so the order is "valid" in the response.
  app.post("/order/:id/finalize", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    const order = ownOrder(deps, c.req.param("id"), account.id);
    const now = deps.clock();
    const status = currentOrderStatus(deps.store, order, now);
    if (status !== "ready") throw orderNotReady(`the order is ${status}, not ready`);
    const req = payloadAs(v, finalizeSchema);
    const der = Buffer.from(req.csr, "base64url");
    // RFC 8738: an IP literal sent as a dNSName (lego 4.9) counts as the order's ip identifier.
    // RFC 8555 7.4: a name may be asked for in the subject's commonName, the subjectAltName or both.
    const csr = withCommonNameAsSan(parseCsr(der, { ipLiteralDnsNamesAsIps: true }));
    if (!csrMatchesOrder(csr, order.identifiers)) {
      throw badCsr(
        "the CSR's names (its subjectAltName, and a commonName that is a DNS name or IP address) must be exactly the order's identifiers",
      );
    }
    const eab = deps.store.eab(account.eabKid);
    if (!eab) throw serverInternal("the account's external account binding is gone");
    // Checked again now: time has passed since newOrder (a notBefore may be too far behind by now).
    const window = issuanceWindow(order, eab.policy.maxValidityMs, now) ?? undefined;
    if (!deps.store.orders.claim(order.id)) throw orderNotReady("the order is already being finalized");
    try {
      const issued = await deps.issuer.issueForAcme(der, eab.policy, window);
      deps.store.orders.update(order.id, { status: "valid", certSerial: issued.serial });
      order.status = "valid";
      order.certSerial = issued.serial;
    } catch (e) {
      // The request failed before anything was stored: the order stays ready for another CSR.
      deps.store.orders.update(order.id, { status: "pending" });
      throw e;
    }
    return acmeJson(c, orderView(deps.store, order, u, deps.clock()), 200, { location: u.order(order.id) });
  });

  return app;
}

/**
 * RFC 9773 5: `replaces` must name a certificate issued to this account that shares at least
 * one identifier with the new order, and that no other order, unless invalid, already replaces
 * (409 alreadyReplaced).
 */
function checkReplaces(
  deps: AcmeDeps,
  replaces: string,
  accountId: string,
  identifiers: readonly Identifier[],
  now: number,
): void {
  const serial = certIdSerial(replaces, deps.issuer.issuerKeyId);
  const prev = serial ? deps.store.orders.byCertSerial(serial) : null;
  const cert = serial ? deps.issuer.chainOf(serial) : null;
  if (!serial || !prev || !cert || prev.accountId !== accountId) {
    throw acmeMalformed("replaces does not name a certificate this account was issued");
  }
  const held = new Set(certificateIdentifiers(cert).map((i) => `${i.type}:${i.value}`));
  if (!identifiers.some((i) => held.has(`${i.type}:${i.value}`))) {
    throw acmeMalformed(
      `replaces names certificate ${serial}, which shares no identifier with this order: a replacement must keep at least one of its names`,
    );
  }
  // Only this account may replace its certificate, so its own orders are the ones to look at;
  // they are compared by serial, as a CertID may be spelt more than one way.
  const other = deps.store.orders
    .replacingOf(accountId)
    .find(
      (o) =>
        o.replaces !== null &&
        certIdSerial(o.replaces, deps.issuer.issuerKeyId) === serial &&
        currentOrderStatus(deps.store, o, now) !== "invalid",
    );
  if (other) throw alreadyReplaced(`certificate ${serial} is already replaced by order ${other.id}`);
}

function ownOrder(deps: AcmeDeps, id: string, accountId: string): OrderRecord {
  const order = deps.store.orders.byId(id);
  if (!order) throw acmeNotFound(`no order ${id}`);
  if (order.accountId !== accountId) throw acmeUnauthorized("the order belongs to another account");
  return order;
}
