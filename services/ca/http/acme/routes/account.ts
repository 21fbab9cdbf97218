import { Hono } from "hono";
import { flattenedVerify, importJWK, type JWK } from "jose";
import { z } from "zod";
import { badSignatureAlgorithm, malformed, Problem, unauthorized } from "../../../../../shared/problem.js";
import { thumbprint } from "../../../acme/eab.js";
import { ACCOUNT_ALGORITHMS, readProtectedHeader } from "../../../core/acme/jws-header.js";
import { type AppEnv, clientAddress } from "../../context.js";
import { type AcmeHttpDeps, acmeBase, acmeJson, urls } from "../context.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";
import { accountView } from "../views.js";

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

export function accountRoutes(deps: AcmeHttpDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.3 newAccount, 7.3.1 finding an account by key, 7.3.4 external account binding.
  app.post("/new-account", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "jwk");
    const req = payloadAs(v, newAccountSchema);
    const address = clientAddress(c.env);
    const { account, created } = await deps.acme.accounts.register(v.jwk as JWK, req, u.newAccount, address);
    return acmeJson(c, accountView(account, u), created ? 201 : 200, { location: u.account(account.id) });
  });

  // RFC 8555 7.3.2 update, 7.3.6 deactivation; POST-as-GET reads the account.
  app.post("/acct/:id", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    let account = accountOf(v);
    if (account.id !== c.req.param("id")) throw unauthorized("the account URL is not the signing account");
    if (v.payload !== null) account = await deps.acme.accounts.update(account, payloadAs(v, updateSchema));
    return acmeJson(c, accountView(account, u), 200, { location: u.account(account.id) });
  });

  // RFC 8555 7.1.2.1: the account's orders, leaving out those that failed or expired unfinished.
  app.post("/acct/:id/orders", async (c) => {
    const v = await verifyJws(c, deps, "kid");
    if (accountOf(v).id !== c.req.param("id")) throw unauthorized("not your account");
    const u = urls(acmeBase(c));
    return acmeJson(c, {
      orders: (await deps.acme.orders.listed(accountOf(v).id)).map((o) => u.order(o.id)),
    });
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
    if (!inner.success) throw malformed("keyChange payload must be a flattened JWS");
    const h = innerHeader(inner.data);
    if (h.url !== v.header.url) throw malformed("the inner JWS url must equal the outer url");
    const newJwk = h.jwk as JWK;
    let payload: Uint8Array;
    try {
      ({ payload } = await flattenedVerify(inner.data, await importJWK(newJwk, h.alg), {
        algorithms: [h.alg],
      }));
    } catch {
      throw malformed("the inner JWS does not verify with the new key");
    }
    const body = z
      .object({ account: z.string(), oldKey: z.record(z.string(), z.unknown()) })
      .safeParse(parseJson(Buffer.from(payload).toString("utf8")));
    if (!body.success) throw malformed('the inner payload needs "account" and "oldKey"');
    if (body.data.account !== u.account(account.id))
      throw unauthorized("the inner JWS names another account");
    if ((await thumbprint(body.data.oldKey as JWK)) !== account.thumbprint) {
      throw unauthorized("oldKey is not the account's current key");
    }
    const changed = await deps.acme.accounts.changeKey(account, newJwk);
    if (changed.holder) {
      // 7.3.5: the new key is already an account's: 409 with that account's URL.
      const conflict = new Problem("malformed", "the new key is already in use by an account", {
        status: 409,
      });
      return c.body(JSON.stringify(conflict.toAcmeJSON()), 409, {
        "content-type": "application/problem+json",
        location: u.account(changed.holder.id),
      });
    }
    return acmeJson(c, accountView(changed.account, u), 200, { location: u.account(account.id) });
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
  const h = readProtectedHeader(jws, "the inner JWS protected header is unreadable");
  if (typeof h.alg !== "string" || !ACCOUNT_ALGORITHMS.includes(h.alg)) {
    throw badSignatureAlgorithm(
      `inner JWS algorithm ${JSON.stringify(h.alg)} is not accepted`,
      ACCOUNT_ALGORITHMS,
    );
  }
  if (typeof h.jwk !== "object" || h.jwk === null || Array.isArray(h.jwk) || "kid" in h)
    throw malformed('the inner JWS needs "jwk" (the new key) and no "kid"');
  if ("d" in h.jwk) throw malformed('the inner "jwk" holds a private key');
  if ("nonce" in h) throw malformed("the inner JWS must not have a nonce");
  return { alg: h.alg, jwk: h.jwk as Record<string, unknown>, url: h.url };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw malformed("the inner JWS payload is not JSON");
  }
}
