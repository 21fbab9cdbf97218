import type { Context } from "hono";
import type { Logger } from "pino";
import type { AcmeDomain } from "../../acme/index.js";
import type { AppEnv } from "../context.js";
import type { StorageFaults } from "../middleware/problems.js";
import type { AccountKeys } from "./account-keys.js";

/**
 * Retry-After on a challenge, authorization or order that is still processing: validations and
 * issuance here take milliseconds, so clients should look again soon rather than at their own
 * default (3 s in certbot, 5 s in lego).
 */
export const RETRY_AFTER_SECONDS = "1";

/**
 * What ACME over HTTP is handed: the ACME domain, the cache of imported account keys (one per
 * app), and the log for errors nobody expected.
 */
export interface AcmeHttpDeps {
  acme: AcmeDomain;
  accountKeys: AccountKeys;
  log: Logger;
  /** failures for want of storage, noted for /healthz */
  storage?: StorageFaults;
}

/** The ACME base URL as the client addressed it: JWS "url" headers must match it (RFC 8555 6.4). */
export function acmeBase(c: Context<AppEnv>): string {
  return `${new URL(c.req.url).origin}/acme`;
}

/** The resource URLs of RFC 8555 7.1, under one base. */
export const urls = (base: string) => ({
  directory: `${base}/directory`,
  newNonce: `${base}/new-nonce`,
  newAccount: `${base}/new-account`,
  newOrder: `${base}/new-order`,
  revokeCert: `${base}/revoke-cert`,
  keyChange: `${base}/key-change`,
  renewalInfo: `${base}/renewal-info`,
  account: (id: string) => `${base}/acct/${id}`,
  orders: (id: string) => `${base}/acct/${id}/orders`,
  order: (id: string) => `${base}/order/${id}`,
  finalize: (id: string) => `${base}/order/${id}/finalize`,
  authz: (id: string) => `${base}/authz/${id}`,
  challenge: (authzId: string, type: string) => `${base}/chall/${authzId}/${type}`,
  certificate: (serial: string) => `${base}/cert/${serial}`,
});
export type Urls = ReturnType<typeof urls>;

/** A JSON response with ACME's usual headers. */
export function acmeJson(
  c: Context<AppEnv>,
  body: unknown,
  status: 200 | 201 = 200,
  headers: Record<string, string> = {},
): Response {
  return c.body(JSON.stringify(body), status, { "content-type": "application/json", ...headers });
}
