import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import { unauthorized } from "../../shared/problem.js";
import type { Policy } from "./core/policy.js";
import type { TokenKind, TokenRecord, TokenState } from "./core/types.js";

/**
 * Tokens are `cyt_<id>_<secret>`: the id finds the row without scanning, the secret is stored
 * only as a bcrypt hash. bcrypt is paid once per token and process: after a secret has matched
 * its hash, a SHA-256 of it is kept in memory and later requests compare against that in
 * constant time. Nothing weaker than bcrypt is ever stored.
 */
export const BCRYPT_COST = 12;
const PREFIX = "cyt_";
const ID_HEX = 16;

export interface NewToken {
  name: string;
  kind: TokenKind;
  policy: Policy;
  expiresAt: number | null;
  usesLeft: number | null;
  rateLimit: number;
  rateWindowMs: number;
}

export function mintToken(t: NewToken, now: number): { record: TokenRecord; secret: string } {
  const id = randomBytes(ID_HEX / 2).toString("hex");
  const secretPart = randomBytes(32).toString("base64url");
  const record: TokenRecord = {
    ...t,
    id,
    secretHash: bcrypt.hashSync(secretPart, BCRYPT_COST),
    createdAt: now,
    revokedAt: null,
  };
  return { record, secret: `${PREFIX}${id}_${secretPart}` };
}

export function parseToken(presented: string): { id: string; secret: string } | null {
  const t = presented.trim();
  if (!t.startsWith(PREFIX) || t.charAt(PREFIX.length + ID_HEX) !== "_") return null;
  const id = t.slice(PREFIX.length, PREFIX.length + ID_HEX);
  const secret = t.slice(PREFIX.length + ID_HEX + 1);
  if (!/^[0-9a-f]+$/.test(id) || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
  return { id, secret };
}

export type TokenVerifier = (presented: string, kind: TokenKind, now: number) => Promise<TokenRecord>;

export interface TokenLookup {
  /** the whole record, with its parsed policy; read once per token and process */
  record(id: string): TokenRecord | null;
  /** what can change after creation; read on every request */
  state(id: string): TokenState | null;
}

/** The 401 for a token that is gone, of another kind, revoked or expired. */
export function assertTokenUsable(state: TokenState | null, kind: TokenKind, now: number): void {
  if (!state || state.kind !== kind)
    throw unauthorized(kind === "admin" ? "not the admin token" : "unknown token");
  if (state.revokedAt !== null) throw unauthorized("the token has been revoked");
  if (state.expiresAt !== null && state.expiresAt <= now) throw unauthorized("the token has expired");
}

/**
 * `deferStateFor`: kinds of token whose every use ends in the store's `consume`, which reads
 * revocation and expiry inside the issuing transaction. For those, once the secret is known, the
 * verifier skips its own read of the token's state, and the route must call assertTokenUsable
 * when a request fails before that transaction, so that a revoked token still learns nothing
 * but that it is revoked (POST /v1/sign does).
 */
export function tokenVerifier(
  lookup: TokenLookup,
  opts: { deferStateFor?: readonly TokenKind[] } = {},
): TokenVerifier {
  // Tokens whose secret has matched: the record (its policy never changes) and a SHA-256 of
  // the secret. Revocation and expiry are read from the database on every request (or in the
  // issuing transaction, see deferStateFor); uses and the rate limit in that transaction.
  const verified = new Map<string, { digest: Buffer; rec: TokenRecord }>();
  const deferred = new Set(opts.deferStateFor ?? []);
  // A burst of first requests with the same secret shares one bcrypt comparison.
  const inFlight = new Map<string, Promise<boolean>>();
  return async (presented, kind, now) => {
    const parsed = parseToken(presented);
    if (!parsed) throw unauthorized("malformed token");
    const digest = createHash("sha256").update(parsed.secret).digest();
    const known = verified.get(parsed.id);
    const knownMatch =
      known !== undefined && known.rec.kind === kind && timingSafeEqual(known.digest, digest);
    if (knownMatch && deferred.has(kind)) {
      // expiry never changes after creation: the record held in memory answers it
      if (known.rec.expiresAt !== null && known.rec.expiresAt <= now)
        throw unauthorized("the token has expired");
      return known.rec;
    }
    assertTokenUsable(lookup.state(parsed.id), kind, now);
    if (knownMatch) return known.rec;
    const rec = lookup.record(parsed.id);
    if (!rec) throw unauthorized("unknown token");
    const key = `${rec.id}:${digest.toString("hex")}`;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = bcrypt.compare(parsed.secret, rec.secretHash).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    if (!(await pending)) throw unauthorized("wrong token secret");
    verified.set(rec.id, { digest, rec });
    return rec;
  };
}
