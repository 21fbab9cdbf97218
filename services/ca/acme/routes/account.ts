import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { decodeProtectedHeader, flattenedVerify, importJWK, type JWK } from "jose";
import { z } from "zod";
import {
  AcmeProblem,
  accountDoesNotExist,
  acmeMalformed,
  acmeUnauthorized,
  badSignatureAlgorithm,
  invalidContact,
  unsupportedContact,
} from "../../../../shared/acme/problems.js";
import type { AppEnv } from "../../http/context.js";
import { type AcmeDeps, acmeBase, acmeJson, type Urls, urls } from "../context.js";
import { ACCOUNT_ALGORITHMS } from "../core/jws-header.js";
import type { AccountRecord } from "../core/types.js";
import { thumbprint, verifyEab } from "../eab.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";

const contactSchema = z.array(z.string().max(300)).max(10);

const newAccountSchema = z.object({
  contact: contactSchema.optional(),
  termsOfServiceAgreed: z.boolean().optional(),
  onlyReturnExisting: z.boolean().optional(),
  externalAccountBinding: z.unknown().optional(),
});

/**
 * RFC 8555 7.3.2: an update may change the contacts or (7.3.6) deactivate; the server "MUST
 * ignore any updates to the orders field, termsOfServiceAgreed field, the status field (except
 * as allowed by Section 7.3.6), or any other fields it does not recognize".
 */
const updateSchema = z.object({
  contact: contactSchema.optional(),
  status: z.unknown().optional(),
});

/**
 * RFC 8555 7.3: contacts are mailto: URLs; this CA sends no mail, but keeps them. Another scheme
 * is unsupportedContact, a mailto: URL that is not one plain address invalidContact (6.7).
 */
function checkContacts(contact: string[]): string[] {
  for (const c of contact) {
    if (!/^mailto:/i.test(c)) throw unsupportedContact(`"${c}": only mailto: contacts are supported`);
    if (!/^mailto:[^@\s,?]+@[^@\s,?]+$/i.test(c))
      throw invalidContact(`"${c}" is not a mailto: URL with one address`);
  }
  return contact;
}

export function accountView(a: AccountRecord, u: Urls) {
  return {
    status: a.status,
    contact: a.contact,
    orders: u.orders(a.id),
    createdAt: new Date(a.createdAt).toISOString(),
  };
}

export function accountRoutes(deps: AcmeDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.3 newAccount, 7.3.1 finding an account by key, 7.3.4 external account binding.
  app.post("/new-account", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "jwk");
    const req = payloadAs(v, newAccountSchema);
    const jwk = v.jwk as JWK;
    const tp = await thumbprint(jwk);
    const existing = deps.store.accounts.byThumbprint(tp);
    if (existing) return acmeJson(c, accountView(existing, u), 200, { location: u.account(existing.id) });
    if (req.onlyReturnExisting) throw accountDoesNotExist("no account exists with this key");
    const contact = checkContacts(req.contact ?? []);
    const eab = await verifyEab(
      req.externalAccountBinding,
      jwk as Record<string, unknown>,
      u.newAccount,
      (kid) => deps.store.eab(kid),
    );
    const account: AccountRecord = {
      id: randomBytes(12).toString("base64url"),
      thumbprint: tp,
      jwk: publicJwk(jwk),
      status: "valid",
      contact,
      eabKid: eab.kid,
      createdAt: deps.clock(),
    };
    deps.store.accounts.create(account);
    deps.log.info({ account: account.id, eab: eab.name }, "ACME account created");
    return acmeJson(c, accountView(account, u), 201, { location: u.account(account.id) });
  });

  // RFC 8555 7.3.2 update, 7.3.6 deactivation; POST-as-GET reads the account.
  app.post("/acct/:id", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    if (account.id !== c.req.param("id"))
      throw acmeUnauthorized("the account URL is not the signing account");
    if (v.payload !== null) {
      const req = payloadAs(v, updateSchema);
      const fields: Partial<AccountRecord> = {};
      if (req.contact) fields.contact = checkContacts(req.contact);
      if (req.status === "deactivated") fields.status = "deactivated";
      if (Object.keys(fields).length > 0) {
        deps.store.accounts.update(account.id, fields);
        Object.assign(account, fields);
      }
    }
    return acmeJson(c, accountView(account, u), 200, { location: u.account(account.id) });
  });

  // RFC 8555 7.1.2.1: the account's orders, leaving out those that failed or expired unfinished.
  app.post("/acct/:id/orders", async (c) => {
    const v = await verifyJws(c, deps, "kid");
    if (accountOf(v).id !== c.req.param("id")) throw acmeUnauthorized("not your account");
    const u = urls(acmeBase(c));
    const now = deps.clock();
    const listed = deps.store.orders
      .ofAccount(accountOf(v).id)
      .filter((o) => o.status !== "invalid" && (o.status === "valid" || o.expires > now));
    return acmeJson(c, { orders: listed.map((o) => u.order(o.id)) });
  });

  // RFC 8555 7.3.5 key change: an inner JWS, signed by the new key, names the account and old key.
  app.post("/key-change", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    const inner = z
      .object({ protected: z.string(), payload: z.string(), signature: z.string() })
      .strict()
      .safeParse(v.payload);
    if (!inner.success) throw acmeMalformed("keyChange payload must be a flattened JWS");
    const h = innerHeader(inner.data);
    if (h.url !== v.header.url) throw acmeMalformed("the inner JWS url must equal the outer url");
    const newJwk = h.jwk as JWK;
    let payload: Uint8Array;
    try {
      ({ payload } = await flattenedVerify(inner.data, await importJWK(newJwk, h.alg), {
        algorithms: [h.alg],
      }));
    } catch {
      throw acmeMalformed("the inner JWS does not verify with the new key");
    }
    const body = z
      .object({ account: z.string(), oldKey: z.record(z.string(), z.unknown()) })
      .safeParse(parseJson(Buffer.from(payload).toString("utf8")));
    if (!body.success) throw acmeMalformed('the inner payload needs "account" and "oldKey"');
    if (body.data.account !== u.account(account.id))
      throw acmeUnauthorized("the inner JWS names another account");
    if ((await thumbprint(body.data.oldKey as JWK)) !== account.thumbprint) {
      throw acmeUnauthorized("oldKey is not the account's current key");
    }
    const tp = await thumbprint(newJwk);
    const holder = deps.store.accounts.byThumbprint(tp);
    if (holder) {
      // 7.3.5: the new key is already an account's: 409 with that account's URL.
      const conflict = new AcmeProblem("malformed", "the new key is already in use by an account", {
        status: 409,
      });
      return c.body(JSON.stringify(conflict.toJSON()), 409, {
        "content-type": "application/problem+json",
        location: u.account(holder.id),
      });
    }
    deps.store.accounts.update(account.id, { jwk: publicJwk(newJwk), thumbprint: tp });
    return acmeJson(c, accountView({ ...account, thumbprint: tp }, u), 200, {
      location: u.account(account.id),
    });
  });

  return app;
}

/**
 * RFC 8555 7.3.5: the inner JWS "MUST meet the normal requirements, with the following
 * differences": a "jwk" (the new key) and no "kid", no "nonce", the same "url" as the outer
 * JWS. The algorithms are the outer JWS's: no MAC, no "none" (6.2).
 */
function innerHeader(jws: { protected: string }): {
  alg: string;
  jwk: Record<string, unknown>;
  url: unknown;
} {
  let h: Record<string, unknown>;
  try {
    h = decodeProtectedHeader(jws) as Record<string, unknown>;
  } catch {
    throw acmeMalformed("the inner JWS protected header is unreadable");
  }
  if (typeof h.alg !== "string" || !ACCOUNT_ALGORITHMS.includes(h.alg)) {
    throw badSignatureAlgorithm(
      `inner JWS algorithm ${JSON.stringify(h.alg)} is not accepted`,
      ACCOUNT_ALGORITHMS,
    );
  }
  if (typeof h.jwk !== "object" || h.jwk === null || Array.isArray(h.jwk) || "kid" in h)
    throw acmeMalformed('the inner JWS needs "jwk" (the new key) and no "kid"');
  if ("d" in h.jwk) throw acmeMalformed('the inner "jwk" holds a private key');
  if ("nonce" in h) throw acmeMalformed("the inner JWS must not have a nonce");
  return { alg: h.alg, jwk: h.jwk as Record<string, unknown>, url: h.url };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw acmeMalformed("the inner JWS payload is not JSON");
  }
}

/** Only the public members of a JWK are kept. */
function publicJwk(jwk: JWK): Record<string, unknown> {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
}
