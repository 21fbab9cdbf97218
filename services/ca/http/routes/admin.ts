import { Hono } from "hono";
import { parseDuration } from "../../../../shared/duration.js";
import { certificateView, tokenView } from "../../core/views.js";
import { newTokenSchema } from "../../tokens/requests.js";
import { jsonBody } from "../body.js";
import type { AppDeps, AppEnv } from "../context.js";
import { bearerAuth } from "../middleware/auth.js";

/** GET /v1/certs and POST /v1/tokens: the admin token only. */
export function adminRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const admin = bearerAuth(deps, "admin");
  app.get("/v1/certs", admin, (c) => {
    const expiring = c.req.query("expiring");
    const expiringBefore = expiring === undefined ? undefined : deps.clock() + parseDuration(expiring);
    const list = deps.certificates.list({ expiringBefore });
    return c.json({ certificates: list.map(certificateView) });
  });
  app.post("/v1/tokens", admin, async (c) => {
    const req = await jsonBody(c, newTokenSchema);
    const { record, secret } = deps.createToken(req);
    deps.log.info({ token: record.name }, "token created");
    return c.json({ ...tokenView(record), token: secret }, 201);
  });
  return app;
}
