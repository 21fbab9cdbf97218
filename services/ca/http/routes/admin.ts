import { Hono } from "hono";
import { ADMIN_ACTOR } from "../../core/audit.js";
import { encodeCursor, INVENTORY_PARAMS } from "../../core/inventory.js";
import { certificateView, tokenView } from "../../core/views.js";
import { newTokenSchema } from "../../tokens/requests.js";
import { jsonBody } from "../body.js";
import type { AppDeps, AppEnv } from "../context.js";
import { bearerAuth } from "../middleware/auth.js";

/** GET /v1/certs and POST /v1/tokens: the admin token only. */
export function adminRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const admin = bearerAuth(deps, "admin");
  // A page at a time, soonest expiry first; `next` (also a Link header) continues the search.
  app.get("/v1/certs", admin, async (c) => {
    const params = Object.fromEntries(
      INVENTORY_PARAMS.flatMap((k) => {
        const v = c.req.query(k);
        return v === undefined ? [] : [[k, v]];
      }),
    );
    const page = await deps.certificates.search(params);
    const next = page.next === null ? null : encodeCursor(page.next);
    if (next !== null) {
      const url = new URL(c.req.url);
      url.searchParams.set("cursor", next);
      c.header("Link", `<${url.pathname}${url.search}>; rel="next"`);
    }
    return c.json({ certificates: page.rows.map(certificateView), next });
  });
  app.post("/v1/tokens", admin, async (c) => {
    const req = await jsonBody(c, newTokenSchema);
    const { record, secret } = await deps.createToken(req, ADMIN_ACTOR);
    deps.log.info({ token: record.name }, "token created");
    return c.json({ ...tokenView(record), token: secret }, 201);
  });
  return app;
}
