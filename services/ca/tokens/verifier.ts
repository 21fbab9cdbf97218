import { createHash, timingSafeEqual } from "node:crypto";
import { TokenRefused, tokenRefusal } from "../core/tokens.js";
import type { TokenKind, TokenRecord, TokenState } from "../core/types.js";
import { parseToken, secretMatches } from "./secret.js";

export type TokenVerifier = (presented: string, kind: TokenKind, now: number) => Promise<TokenRecord>;

export interface TokenLookup {
  /** the whole record, with its parsed policy; read once per token and process */
  record(id: string): Promise<TokenRecord | null>;
  /** what can change after creation; read on every request */
  state(id: string): Promise<TokenState | null>;
}

/** The 401 for a token that is gone, of another kind, revoked or expired. */
export function assertTokenUsable(
  state: TokenState | null,
  kind: TokenKind,
  now: number,
  token: { id?: string; name?: string } = {},
): void {
  const refusal = tokenRefusal(state, kind, now);
  if (refusal) throw new TokenRefused(refusal, token);
}

/**
 * Checks a presented token: its form, its secret against the stored hash, its state; every
 * refusal is a TokenRefused. A secret that has matched is remembered as a SHA-256 of it, so later
 * requests compare against that in constant time without the stored hash (bcrypt's, for tokens
 * from before keyed hashes).
 *
 * `deferStateFor`: kinds of token whose every use ends in the store's `consume`, which reads
 * revocation and expiry inside the issuing transaction. For those, once the secret is known, the
 * verifier skips its own read of the token's state, and the route must call assertTokenUsable
 * when a request fails before that transaction, so that a revoked token still learns nothing
 * but that it is refused (POST /v1/sign does).
 */
export function tokenVerifier(
  lookup: TokenLookup,
  key: Buffer,
  opts: { deferStateFor?: readonly TokenKind[] } = {},
): TokenVerifier {
  // Tokens whose secret has matched: the record (its policy never changes) and a SHA-256 of
  // the secret. Revocation and expiry are read from the database on every request (or in the
  // issuing transaction, see deferStateFor); uses and the rate limit in that transaction.
  const verified = new Map<string, { digest: Buffer; rec: TokenRecord }>();
  const deferred = new Set(opts.deferStateFor ?? []);
  // A burst of first requests with the same secret shares one comparison.
  const inFlight = new Map<string, Promise<boolean>>();
  return async (presented, kind, now) => {
    const parsed = parseToken(presented);
    if (!parsed) throw new TokenRefused("malformed token");
    const digest = createHash("sha256").update(parsed.secret).digest();
    const known = verified.get(parsed.id);
    const knownMatch =
      known !== undefined && known.rec.kind === kind && timingSafeEqual(known.digest, digest);
    if (knownMatch && deferred.has(kind)) {
      // expiry never changes after creation: the record held in memory answers it
      if (known.rec.expiresAt !== null && known.rec.expiresAt <= now)
        throw new TokenRefused("the token has expired", { id: known.rec.id, name: known.rec.name });
      return known.rec;
    }
    const refusal = tokenRefusal(await lookup.state(parsed.id), kind, now);
    if (refusal) {
      // for the log: the token's name where there is one (a read on the refusal path only)
      const rec = knownMatch ? known.rec : await lookup.record(parsed.id);
      throw new TokenRefused(refusal, rec ? { id: rec.id, name: rec.name } : { id: parsed.id });
    }
    if (knownMatch) return known.rec;
    const rec = await lookup.record(parsed.id);
    if (!rec) throw new TokenRefused("unknown token", { id: parsed.id });
    const inFlightKey = `${rec.id}:${digest.toString("hex")}`;
    let pending = inFlight.get(inFlightKey);
    if (!pending) {
      pending = secretMatches(parsed.secret, rec.secretHash, key).finally(() => inFlight.delete(inFlightKey));
      inFlight.set(inFlightKey, pending);
    }
    if (!(await pending)) throw new TokenRefused("wrong token secret", { id: rec.id, name: rec.name });
    verified.set(rec.id, { digest, rec });
    return rec;
  };
}
