import { accountService } from "./accounts.js";
import { authorizationService } from "./authorizations.js";
import { certificateService } from "./certificates.js";
import type { AcmeDeps } from "./deps.js";
import { nonceService } from "./nonces.js";
import { orderService } from "./orders.js";

/**
 * The ACME server's domain (RFC 8555): accounts, orders, authorizations, certificates and nonces,
 * over the store and the issuer it declares in ports.ts. No HTTP here: http/acme/ speaks the
 * protocol's requests and responses and calls in.
 */
export function acmeDomain(deps: AcmeDeps) {
  return {
    nonces: nonceService(deps),
    accounts: accountService(deps),
    orders: orderService(deps),
    authorizations: authorizationService(deps),
    certificates: certificateService(deps),
    clock: deps.clock,
  };
}
export type AcmeDomain = ReturnType<typeof acmeDomain>;
export type { AcmeDeps } from "./deps.js";
export { type AcmeLimits, DEFAULT_LIMITS } from "./limits.js";
export { nonceKey } from "./nonces.js";
