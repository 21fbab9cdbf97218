import { Hono } from "hono";
import { z } from "zod";
import { forbidden } from "../../../../shared/problem.js";
import { ADMIN_ACTOR } from "../../core/audit.js";
import { normalizeSerial, parseReason } from "../../core/types.js";
import { jsonBody } from "../body.js";
import { type AppDeps, type AppEnv, clientAddress, peerCertificate } from "../context.js";
import { optionalAdmin } from "../middleware/auth.js";

export const revokeSchema = z.object({ serial: z.string().min(1), reason: z.string().optional() }).strict();

/** POST /v1/revoke: by the admin token, or by the certificate itself over mutual TLS. */
export function revokeRoute(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.post("/v1/revoke", async (c) => {
    const body = await jsonBody(c, revokeSchema);
    const serial = normalizeSerial(body.serial);
    const reason = parseReason(body.reason);
    const isAdmin = await optionalAdmin(deps, c.req.header("authorization"), clientAddress(c.env));
    if (!isAdmin) {
      const { record } = await deps.authority.authenticateCertificate(peerCertificate(c.env));
      if (record.serial !== serial) throw forbidden("a certificate may revoke only itself");
    }
    await deps.authority.revoke(serial, reason, isAdmin ? ADMIN_ACTOR : { kind: "certificate", id: serial });
    deps.log.info({ serial, reason, by: isAdmin ? "admin" : "self" }, "revoked");
    return c.json({ serial, status: "revoked" });
  });
  return app;
}
