import { Hono } from "hono";
import type { JWK } from "jose";
import { z } from "zod";
import {
  acmeMalformed,
  acmeNotFound,
  acmeUnauthorized,
  isAcmeProblem,
} from "../../../../shared/acme/problems.js";
import type { ChallengeType } from "../../../../shared/acme/types.js";
import type { AppEnv } from "../../http/context.js";
import { type AcmeDeps, acmeBase, acmeJson, RETRY_AFTER_SECONDS, urls } from "../context.js";
import { afterValidation, authzStatus, mayStartValidation } from "../core/state.js";
import type { AuthzRecord } from "../core/types.js";
import { thumbprint } from "../eab.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";
import { authzView, challengeView } from "../views.js";

const authzUpdateSchema = z.object({ status: z.literal("deactivated").optional() });

export function authzRoutes(deps: AcmeDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.5: POST-as-GET an authorization; 7.5.2: deactivate it. While a validation is still
  // running, Retry-After says when to look again (7.5.1): certbot polls authorizations, and without
  // the header it waits 3 s between polls (certbot/_internal/auth_handler.py, retry_after(resp, 3)).
  app.post("/authz/:id", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const authz = ownAuthz(deps, c.req.param("id"), accountOf(v).id);
    const now = deps.clock();
    if (v.payload !== null && payloadAs(v, authzUpdateSchema).status === "deactivated") {
      const s = authzStatus(authz, now);
      if (s !== "pending" && s !== "valid") throw acmeMalformed(`a ${s} authorization cannot be deactivated`);
      authz.status = "deactivated";
      deps.store.authzs.save(authz);
    }
    const view = authzView(authz, u, now);
    const validating = view.status === "pending" && authz.challenges.some((ch) => ch.status === "processing");
    return acmeJson(c, view, 200, validating ? { "retry-after": RETRY_AFTER_SECONDS } : {});
  });

  // RFC 8555 7.5.1: responding to a challenge. Validation starts at once; the response waits
  // for it (up to limits.validationWaitMs) so clients that poll after Retry-After rarely need to.
  app.post("/chall/:authzId/:type", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    let authz = ownAuthz(deps, c.req.param("authzId"), account.id);
    const type = c.req.param("type") as ChallengeType;
    const challenge = authz.challenges.find((ch) => ch.type === type);
    if (!challenge) throw acmeNotFound(`no ${c.req.param("type")} challenge in this authorization`);
    const now = deps.clock();
    const up = { link: `<${u.authz(authz.id)}>;rel="up"` };
    if (v.payload === null || !mayStartValidation(authzStatus(authz, now), challenge)) {
      const headers = challenge.status === "processing" ? { ...up, "retry-after": RETRY_AFTER_SECONDS } : up;
      return acmeJson(c, challengeView(authz.id, challenge, u), 200, headers);
    }
    challenge.status = "processing";
    deps.store.authzs.save(authz);
    const keyAuthorization = `${challenge.token}.${await thumbprint(account.jwk as JWK)}`;
    const done = validate(deps, authz, type, keyAuthorization);
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), deps.limits.validationWaitMs).unref());
    const settled = await Promise.race([done, timeout]);
    if (settled) authz = settled;
    const current = authz.challenges.find((ch) => ch.type === type) ?? challenge;
    const headers = current.status === "processing" ? { ...up, "retry-after": RETRY_AFTER_SECONDS } : up;
    return acmeJson(c, challengeView(authz.id, current, u), 200, headers);
  });

  return app;
}

/** Runs one validation and stores its outcome (RFC 8555 8). Never rejects. */
async function validate(
  deps: AcmeDeps,
  authz: AuthzRecord,
  type: ChallengeType,
  keyAuthorization: string,
): Promise<AuthzRecord> {
  const token = authz.challenges.find((ch) => ch.type === type)?.token ?? "";
  let next: AuthzRecord;
  try {
    await deps.validate({ identifier: authz.identifier, type, token, keyAuthorization });
    next = afterValidation(authz, type, { ok: true, at: deps.clock() });
  } catch (e) {
    const error = isAcmeProblem(e)
      ? { ...e.toJSON(), identifier: authz.identifier }
      : { type: "urn:ietf:params:acme:error:serverInternal", detail: "validation failed", status: 500 };
    if (!isAcmeProblem(e)) deps.log.error({ err: e }, "ACME validation error");
    next = afterValidation(authz, type, { ok: false, error: error as Record<string, unknown> });
  }
  try {
    deps.store.authzs.save(next);
  } catch (err) {
    deps.log.error({ err }, "ACME: storing a validation result failed");
  }
  return next;
}

function ownAuthz(deps: AcmeDeps, id: string, accountId: string): AuthzRecord {
  const authz = deps.store.authzs.byId(id);
  if (!authz) throw acmeNotFound(`no authorization ${id}`);
  if (authz.accountId !== accountId) throw acmeUnauthorized("the authorization belongs to another account");
  return authz;
}
