import { randomBytes } from "node:crypto";
import type { AcmeDeps } from "./deps.js";

/**
 * RFC 8555 6.5: a fresh nonce for every response, each good for one request. Nonces live in the
 * shared store, so any worker accepts a nonce another one issued, and each is deleted when used
 * (replay -> badNonce).
 */
export function nonceService(deps: Pick<AcmeDeps, "store" | "clock" | "limits">) {
  return {
    issue(): string {
      const nonce = randomBytes(16).toString("base64url");
      deps.store.nonces.add(nonce, deps.clock() + deps.limits.nonceLifetimeMs);
      return nonce;
    },
    /** true when the nonce was issued here, is current and unused; it is used up either way */
    consume(nonce: string): boolean {
      return deps.store.nonces.consume(nonce, deps.clock());
    },
  };
}
