import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import type { Policy } from "../core/policy.js";
import type { TokenKind, TokenRecord } from "../core/types.js";

/**
 * Tokens are `cyt_<id>_<secret>`: the id finds the row without scanning, the secret is stored
 * only as a bcrypt hash.
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

/** Whether a presented secret is the one whose hash is stored. */
export function secretMatches(secret: string, stored: string): Promise<boolean> {
  return bcrypt.compare(secret, stored);
}
