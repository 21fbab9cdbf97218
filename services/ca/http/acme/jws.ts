import type { Context } from "hono";
import { flattenedVerify, importJWK, type JWK } from "jose";
import { z } from "zod";
import {
  accountDoesNotExist,
  badNonce,
  malformed,
  Problem,
  unauthorized,
} from "../../../../shared/problem.js";
import {
  checkProtectedHeader,
  type KeyMode,
  type ProtectedHeader,
  readProtectedHeader,
} from "../../core/acme/jws-header.js";
import type { AccountRecord } from "../../core/acme/types.js";
import { bodyText } from "../body.js";
import type { AppEnv } from "../context.js";
import { type AcmeHttpDeps, acmeBase, urls } from "./context.js";

/**
 * RFC 8555 6.2: flattened JSON serialization only, without an unprotected header. An empty
 * signature is let through to the header check, so that "alg": "none" (whose signature is empty,
 * RFC 7518 3.6) gets badSignatureAlgorithm like any other refused algorithm.
 */
const flattenedSchema = z
  .object({ protected: z.string().min(1), payload: z.string(), signature: z.string() })
  .strict();

export interface Verified {
  header: ProtectedHeader;
  /** null for POST-as-GET (RFC 8555 6.3: the payload is the empty string) */
  payload: unknown;
  /** the account of a "kid" request */
  account: AccountRecord | null;
  /** the key of a "jwk" request */
  jwk: JWK | null;
}

/**
 * Verifies an ACME request's JWS (RFC 8555 6.2-6.5): its header, its nonce (used once), its
 * signature by the account key or the embedded jwk (with jose), and parses the payload.
 */
export async function verifyJws(
  c: Context<AppEnv>,
  { acme, accountKeys }: Pick<AcmeHttpDeps, "acme" | "accountKeys">,
  mode: KeyMode,
): Promise<Verified> {
  const type = c.req.header("content-type")?.split(";")[0]?.trim();
  if (type !== "application/jose+json") {
    // 6.2: "the server MUST return a response with status code 415"
    throw new Problem("malformed", "the content type must be application/jose+json", { status: 415 });
  }
  let jws: z.output<typeof flattenedSchema>;
  try {
    jws = flattenedSchema.parse(JSON.parse(await bodyText(c)));
  } catch {
    throw malformed("the body must be a flattened JSON JWS");
  }
  const rawHeader = readProtectedHeader(jws, "the JWS protected header is unreadable");
  const header = checkProtectedHeader(rawHeader, c.req.url, mode);
  if (!(await acme.nonces.consume(header.nonce))) {
    throw badNonce("the nonce is unknown, expired or already used: get a fresh one");
  }
  let account: AccountRecord | null = null;
  let jwk: JWK | null = null;
  if (header.kid !== undefined) {
    const prefix = urls(acmeBase(c)).account("");
    const id = header.kid.startsWith(prefix) ? header.kid.slice(prefix.length) : "";
    account = id && !id.includes("/") ? await acme.accounts.byId(id) : null;
    if (!account) throw accountDoesNotExist(`no account at ${header.kid}`);
    // RFC 8555 7.3.6: requests signed by a deactivated account are refused.
    if (account.status !== "valid") throw unauthorized(`account ${header.kid} is ${account.status}`);
    jwk = account.jwk as JWK;
  } else {
    jwk = header.jwk as JWK;
  }
  try {
    const key = account ? await accountKeys.get(account, header.alg) : await importJWK(jwk, header.alg);
    await flattenedVerify(jws, key, { algorithms: [header.alg] });
  } catch {
    throw malformed("the JWS signature does not verify with the account key");
  }
  let payload: unknown = null;
  if (jws.payload !== "") {
    try {
      payload = JSON.parse(Buffer.from(jws.payload, "base64url").toString("utf8"));
    } catch {
      throw malformed("the JWS payload is not JSON");
    }
  }
  return { header, payload, account, jwk: header.jwk ? (header.jwk as JWK) : null };
}

/** The account of a "kid" request; verifyJws guarantees one is there. */
export function accountOf(v: Verified): AccountRecord {
  if (!v.account) throw malformed("this request must be signed by an account");
  return v.account;
}

/** Parses a payload with a schema; failures are ACME malformed problems. */
export function payloadAs<T extends z.ZodType>(v: Verified, schema: T): z.output<T> {
  const r = schema.safeParse(v.payload ?? {});
  if (!r.success) {
    throw malformed(r.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; "));
  }
  return r.data;
}
