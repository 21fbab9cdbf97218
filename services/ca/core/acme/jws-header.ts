import { decodeProtectedHeader } from "jose";
import { badNonce, badSignatureAlgorithm, malformed, unauthorized } from "../../../../shared/problem.js";

/**
 * RFC 8555 6.2 checks on a JWS protected header, before any signature is verified. Pure.
 * jose verifies the signature itself; this decides which key and which rules apply.
 */

/** Asymmetric algorithms only: RFC 8555 6.2 forbids "none" and MACs. */
export const ACCOUNT_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "EdDSA"];

export interface ProtectedHeader {
  alg: string;
  nonce: string;
  url: string;
  jwk?: Record<string, unknown>;
  kid?: string;
}

/** "jwk" for newAccount (and revokeCert signed with the certificate's key), "kid" elsewhere. */
export type KeyMode = "jwk" | "kid" | "either";

export function checkProtectedHeader(header: unknown, requestUrl: string, mode: KeyMode): ProtectedHeader {
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw malformed("the JWS protected header is not a JSON object");
  }
  const h = header as Record<string, unknown>;
  if (typeof h.alg !== "string" || !ACCOUNT_ALGORITHMS.includes(h.alg)) {
    throw badSignatureAlgorithm(`JWS algorithm ${JSON.stringify(h.alg)} is not accepted`, ACCOUNT_ALGORITHMS);
  }
  // 6.5: a missing or empty nonce is badNonce; that the nonce is current is checked elsewhere.
  if (typeof h.nonce !== "string" || h.nonce.length === 0) throw badNonce("the JWS has no nonce");
  // 6.4: the "url" header must equal the URL the request was sent to.
  if (typeof h.url !== "string") throw malformed("the JWS protected header has no url");
  if (h.url !== requestUrl) {
    throw unauthorized(`the JWS url ${h.url} does not match the request URL ${requestUrl}`);
  }
  const hasJwk = h.jwk !== undefined;
  const hasKid = h.kid !== undefined;
  // 6.2: "jwk" and "kid" are mutually exclusive, and one of them is required.
  if (hasJwk === hasKid) throw malformed('the JWS must have exactly one of "jwk" and "kid"');
  if (mode === "jwk" && !hasJwk) throw malformed('this request must be signed with "jwk", not "kid"');
  if (mode === "kid" && !hasKid) throw malformed('this request must be signed with "kid", not "jwk"');
  if (hasJwk && (typeof h.jwk !== "object" || h.jwk === null || Array.isArray(h.jwk))) {
    throw malformed('"jwk" must be a JSON Web Key object');
  }
  if (hasKid && typeof h.kid !== "string") throw malformed('"kid" must be an account URL');
  if (hasJwk && "d" in (h.jwk as object)) throw malformed('"jwk" holds a private key');
  return {
    alg: h.alg,
    nonce: h.nonce,
    url: h.url,
    ...(hasJwk ? { jwk: h.jwk as Record<string, unknown> } : { kid: h.kid as string }),
  };
}

/**
 * The protected header of a flattened JWS as a JSON object, before anything about it is
 * trusted; `unreadable` is the malformed problem's detail when it cannot be decoded.
 */
export function readProtectedHeader(jws: { protected: string }, unreadable: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw malformed(unreadable);
  }
  return header as Record<string, unknown>;
}
