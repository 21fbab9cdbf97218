import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  type FlattenedJWS,
  FlattenedSign,
  type JWK,
} from "jose";

/** The account key as ACME needs it: the private key signs, the public JWK identifies. */
export interface AccountKey {
  privateKey: KeyObject;
  jwk: JWK;
  alg: "ES256" | "ES384" | "RS256";
}

export async function accountKeyFrom(privateKey: KeyObject): Promise<AccountKey> {
  const full = await exportJWK(createPublicKey(privateKey));
  const jwk: JWK =
    full.kty === "EC"
      ? { kty: "EC", crv: full.crv, x: full.x, y: full.y }
      : { kty: full.kty, n: full.n, e: full.e };
  const alg = full.kty === "RSA" ? "RS256" : full.crv === "P-384" ? "ES384" : "ES256";
  return { privateKey, jwk, alg };
}

/**
 * RFC 8555 6.2: a flattened JWS whose protected header carries alg, nonce, url and either the
 * account URL (kid) or, before there is an account, the public key (jwk). `payload` null is a
 * POST-as-GET (6.3): an empty payload.
 */
export async function signRequest(
  key: AccountKey,
  o: { url: string; nonce: string; kid?: string; payload: unknown },
): Promise<FlattenedJWS> {
  const bytes = o.payload === null ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(o.payload));
  const header = { alg: key.alg, nonce: o.nonce, url: o.url, ...(o.kid ? { kid: o.kid } : { jwk: key.jwk }) };
  return new FlattenedSign(bytes).setProtectedHeader(header).sign(key.privateKey);
}

/**
 * RFC 8555 7.3.4: the External Account Binding, a JWS by the CA-issued MAC key over the account's
 * public JWK, with the EAB key id as kid and the newAccount URL, and no nonce.
 */
export async function externalAccountBinding(
  jwk: JWK,
  o: { kid: string; hmacKey: string; url: string },
): Promise<FlattenedJWS> {
  const mac = base64url.decode(o.hmacKey);
  return new FlattenedSign(new TextEncoder().encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: "HS256", kid: o.kid, url: o.url })
    .sign(mac);
}

/** RFC 8555 8.1: token "." base64url(JWK thumbprint, RFC 7638, SHA-256). */
export async function keyAuthorization(token: string, jwk: JWK): Promise<string> {
  return `${token}.${await calculateJwkThumbprint(jwk, "sha256")}`;
}

/** RFC 8555 8.4: the TXT record value for dns-01, base64url(SHA-256(key authorization)). */
export function dns01Value(keyAuth: string): string {
  return base64url.encode(createHash("sha256").update(keyAuth).digest());
}
