import { InputError } from "../../../shared/errors.js";
import type { Policy } from "./policy.js";

/** Domain records the authority works with; the store maps rows to and from these. */

export type TokenKind = "enrol" | "admin";

export interface TokenRecord {
  id: string;
  name: string;
  kind: TokenKind;
  secretHash: string;
  policy: Policy;
  expiresAt: number | null;
  usesLeft: number | null;
  rateLimit: number;
  rateWindowMs: number;
  createdAt: number;
  revokedAt: number | null;
}

export type TokenState = Pick<TokenRecord, "kind" | "revokedAt" | "expiresAt">;

export interface CertificateRecord {
  serial: string;
  tokenId: string | null;
  renewedFrom: string | null;
  commonName: string | null;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: number;
  notAfter: number;
  keyFingerprint: string;
  pem: string;
  createdAt: number;
  revokedAt: number | null;
  revocationReason: number | null;
}

export interface RevokedEntry {
  serial: string;
  revokedAt: number;
  reason: number | null;
}

export interface CrlRecord {
  number: number;
  der: Buffer;
  thisUpdate: number;
  nextUpdate: number;
  revokedCount: number;
  lastRevokedAt: number;
}

export interface RevocationState {
  count: number;
  lastRevokedAt: number;
}

/**
 * RFC 5280 5.3.1 CRLReason codes by the names users type: every code a revocation may carry.
 * Not 7 (unused) and not removeFromCRL (8), which only delta CRLs use to take a held certificate
 * off again; it is no reason to revoke (RFC 8555 7.6 refuses it too).
 */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

const REVOCATION_CODES: ReadonlySet<number> = new Set(Object.values(REVOCATION_REASONS));

/** A reason code a revocation may carry (ACME's revokeCert takes the number, RFC 8555 7.6). */
export const isRevocationCode = (code: number): boolean => REVOCATION_CODES.has(code);

export function parseReason(text: string | undefined): number {
  if (text === undefined) return 0;
  const code = Object.hasOwn(REVOCATION_REASONS, text)
    ? (REVOCATION_REASONS as Record<string, number>)[text]
    : undefined;
  if (code === undefined) {
    throw new InputError(
      `unknown revocation reason "${text}": use one of ${Object.keys(REVOCATION_REASONS).join(", ")}`,
    );
  }
  return code;
}

/** Serial numbers in canonical form: lowercase hex of the positive value, even length. */
export function normalizeSerial(text: string): string {
  const hex = text.trim().replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new InputError(`"${text}" is not a hexadecimal serial number`);
  const stripped = hex.replace(/^0+(?=.)/, "");
  return stripped.length % 2 ? `0${stripped}` : stripped;
}
