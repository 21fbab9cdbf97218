import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../context.js";
import { type AcmeHttpDeps, acmeBase, acmeJson, RETRY_AFTER_SECONDS, urls } from "../context.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";
import { authzView, challengeView } from "../views.js";

const authzUpdateSchema = z.object({ status: z.literal("deactivated").optional() });

export function authzRoutes(deps: AcmeHttpDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.5: POST-as-GET an authorization; 7.5.2: deactivate it. While a validation is still
  // running, Retry-After says when to look again (7.5.1): certbot polls authorizations, and without
  // the header it waits 3 s between polls (certbot/_internal/auth_handler.py, retry_after(resp, 3)).
  app.post("/authz/:id", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    let authz = await deps.acme.authorizations.own(c.req.param("id"), accountOf(v).id);
    if (v.payload !== null && payloadAs(v, authzUpdateSchema).status === "deactivated") {
      authz = await deps.acme.authorizations.deactivate(authz);
    }
    const view = authzView(authz, u, deps.acme.clock());
    const validating = view.status === "pending" && authz.challenges.some((ch) => ch.status === "processing");
    return acmeJson(c, view, 200, validating ? { "retry-after": RETRY_AFTER_SECONDS } : {});
  });

  // RFC 8555 7.5.1: responding to a challenge. Validation starts at once; the response waits
  // for it (up to limits.validationWaitMs) so clients that poll after Retry-After rarely need to.
  app.post("/chall/:authzId/:type", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    const own = await deps.acme.authorizations.own(c.req.param("authzId"), account.id);
    const { authz, challenge } = await deps.acme.authorizations.respond(
      own,
      c.req.param("type"),
      account,
      v.payload !== null,
    );
    const up = { link: `<${u.authz(authz.id)}>;rel="up"` };
    const headers = challenge.status === "processing" ? { ...up, "retry-after": RETRY_AFTER_SECONDS } : up;
    return acmeJson(c, challengeView(authz.id, challenge, u), 200, headers);
  });

  return app;
}
