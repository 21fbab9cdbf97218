import { randomBytes } from "node:crypto";
import type { AcmeDeps } from "./context.js";

/**
 * RFC 8555 6.5: a fresh nonce for every response. Nonces live in the shared store, so any worker
 * accepts a nonce another one issued, and each is deleted when used (replay -> badNonce).
 */
export function freshNonce(deps: AcmeDeps): string {
  const nonce = randomBytes(16).toString("base64url");
  deps.store.nonces.add(nonce, deps.clock() + deps.limits.nonceLifetimeMs);
  return nonce;
}
