import { Problem } from "../../../shared/problem.js";
import type { TokenKind, TokenRecord } from "./types.js";

/**
 * Why a token may not be used now, or null when it may: the one rule for the verifier, which
 * reads a token's state on each request, and for the issuing transaction, which consumes a use.
 * Pure. `usesLeft` is left out where the caller does not count uses.
 */
export function tokenRefusal(
  state: (Pick<TokenRecord, "kind" | "revokedAt" | "expiresAt"> & { usesLeft?: number | null }) | null,
  kind: TokenKind,
  now: number,
): string | null {
  if (!state || state.kind !== kind) return kind === "admin" ? "not the admin token" : "unknown token";
  if (state.revokedAt !== null) return "the token has been revoked";
  if (state.expiresAt !== null && state.expiresAt <= now) return "the token has expired";
  if (state.usesLeft !== undefined && state.usesLeft !== null && state.usesLeft <= 0)
    return "the token has no uses left";
  return null;
}

/**
 * What every refused token hears, whatever the reason: an unknown id, a wrong secret, a revoked,
 * expired or used-up token all answer alike, so that a caller cannot tell which ids exist.
 */
export const TOKEN_REFUSED = "the token is not valid: unknown, wrong, revoked, expired or used up";

/** A refused token: one 401 problem for the client; the reason and the token, for the log only. */
export class TokenRefused extends Problem {
  constructor(
    readonly reason: string,
    readonly token: { id?: string; name?: string } = {},
  ) {
    super("unauthorized", TOKEN_REFUSED);
  }
}
