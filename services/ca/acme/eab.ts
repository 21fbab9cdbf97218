import { randomBytes } from "node:crypto";
import { calculateJwkThumbprint, flattenedVerify, type JWK } from "jose";
import { z } from "zod";
import { externalAccountRequired, malformed, unauthorized } from "../../../shared/problem.js";
import { readProtectedHeader } from "../core/acme/jws-header.js";
import type { EabRecord } from "../core/acme/types.js";
import { credentialFields, policyFrom } from "../core/credential.js";
import type { Policy } from "../core/policy.js";

/** What `eab create` takes: the same name and pattern syntax as tokens. */
export const newEabSchema = z
  .object({ ...credentialFields, accounts: z.number().int().min(1).max(1_000_000).default(1) })
  .strict();
export type NewEabRequest = z.input<typeof newEabSchema>;

/** A new External Account Binding: a key id and a 256-bit HMAC key (RFC 8555 7.3.4). */
export function buildEab(input: NewEabRequest, now: number): { record: EabRecord; hmac: string } {
  const { name, policy, maxAccounts } = checkEabRequest(input);
  const hmacKey = newHmacKey();
  const record: EabRecord = {
    kid: `kid-${randomBytes(12).toString("base64url")}`,
    name,
    hmacKey,
    policy,
    maxAccounts,
    createdAt: now,
    revokedAt: null,
  };
  return { record, hmac: hmacKey.toString("base64url") };
}

/** The name and policy an EAB request asks for, checked; InputErrors name what was wrong. */
export function checkEabRequest(input: NewEabRequest): { name: string; policy: Policy; maxAccounts: number } {
  const req = newEabSchema.parse(input);
  return { name: req.name, policy: policyFrom(req, "an EAB"), maxAccounts: req.accounts };
}

/**
 * 256 random bits whose base64url text does not start with "-": users paste it after a flag, and
 * certbot's argparse reads `--eab-hmac-key -abc...` as a missing value (1 key in 64 did that).
 */
function newHmacKey(): Buffer {
  for (;;) {
    const key = randomBytes(32);
    if (key.toString("base64url")[0] !== "-") return key;
  }
}

const eabJwsSchema = z.object({ protected: z.string(), payload: z.string(), signature: z.string() });
const MAC_ALGORITHMS = ["HS256", "HS384", "HS512"];

/**
 * RFC 8555 7.3.4: the externalAccountBinding of a newAccount request is a JWS over the account's
 * public JWK, MACed with the EAB key, with "kid" the EAB key id, "url" the newAccount URL and no
 * nonce. Returns the EAB it binds to.
 */
export async function verifyEab(
  binding: unknown,
  accountJwk: Record<string, unknown>,
  newAccountUrl: string,
  lookup: (kid: string) => Promise<EabRecord | null>,
): Promise<EabRecord> {
  if (binding === undefined) throw externalAccountRequired("this CA requires an External Account Binding");
  const parsed = eabJwsSchema.safeParse(binding);
  if (!parsed.success) throw malformed("externalAccountBinding must be a flattened JWS");
  const jws = parsed.data;
  const header = readProtectedHeader(jws, "externalAccountBinding has an unreadable protected header");
  if (typeof header.alg !== "string" || !MAC_ALGORITHMS.includes(header.alg)) {
    throw malformed("externalAccountBinding must use HS256, HS384 or HS512");
  }
  if ("nonce" in header) throw malformed("externalAccountBinding must not carry a nonce");
  if (header.url !== newAccountUrl)
    throw unauthorized("externalAccountBinding url is not the newAccount URL");
  if (typeof header.kid !== "string") throw malformed("externalAccountBinding has no kid");
  const eab = await lookup(header.kid);
  if (!eab || eab.revokedAt !== null) throw unauthorized(`unknown or revoked EAB key id ${header.kid}`);
  let payload: Uint8Array;
  try {
    ({ payload } = await flattenedVerify(jws, eab.hmacKey, { algorithms: MAC_ALGORITHMS }));
  } catch {
    throw unauthorized("externalAccountBinding signature does not verify with the EAB key");
  }
  let boundJwk: unknown;
  try {
    boundJwk = JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    throw malformed("externalAccountBinding payload is not a JWK");
  }
  const same =
    typeof boundJwk === "object" &&
    boundJwk !== null &&
    (await thumbprint(boundJwk as JWK).catch(() => "")) === (await thumbprint(accountJwk as JWK));
  if (!same) throw unauthorized("externalAccountBinding binds a different key than the account key");
  return eab;
}

export const thumbprint = (jwk: JWK) => calculateJwkThumbprint(jwk, "sha256");
