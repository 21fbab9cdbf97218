import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import type { Policy } from "../core/policy.js";
import type { TokenKind, TokenRecord } from "../core/types.js";

/**
 * Tokens are `cyt_<id>_<secret>`: the id finds the row without scanning, the secret is stored
 * only as a hash. The CA makes every secret itself, 256 random bits, so a keyed SHA-256 of it
 * (HMAC under DATA/token-key) is as safe to store as a bcrypt hash, and checking it costs
 * microseconds instead of a quarter of a second of CPU: a wrong secret is cheap to refuse. bcrypt
 * is for secrets a person chooses (htpasswd), which can be guessed. Tokens stored as bcrypt
 * hashes before still verify (their secrets cannot be converted: the CA never keeps them).
 */
const HMAC_PREFIX = "hmac-sha256:";
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

export function mintToken(t: NewToken, now: number, key: Buffer): { record: TokenRecord; secret: string } {
  const id = randomBytes(ID_HEX / 2).toString("hex");
  const secretPart = randomBytes(32).toString("base64url");
  const record: TokenRecord = {
    ...t,
    id,
    secretHash: hashSecret(secretPart, key),
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

/** Whether a stored hash is a keyed SHA-256 (made under the current or a lost token key). */
export const isKeyedHash = (stored: string) => stored.startsWith(HMAC_PREFIX);

export function hashSecret(secret: string, key: Buffer): string {
  return HMAC_PREFIX + createHmac("sha256", key).update(secret).digest("base64url");
}

/** Whether a presented secret is the one whose hash is stored (a keyed SHA-256, or bcrypt from before). */
export async function secretMatches(secret: string, stored: string, key: Buffer): Promise<boolean> {
  if (!stored.startsWith(HMAC_PREFIX)) return bcrypt.compare(secret, stored);
  const want = Buffer.from(stored);
  const got = Buffer.from(hashSecret(secret, key));
  return got.length === want.length && timingSafeEqual(got, want);
}
