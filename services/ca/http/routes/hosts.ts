import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../body.js";
import { type AppDeps, type AppEnv, peerCertificate } from "../context.js";
import { bearerAuth } from "../middleware/auth.js";

/** The agent's managed name, as certyard-agent cert --name takes it. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** A host name (or address) as the host knows itself: no spaces, no control characters. */
const HOST = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;

export const hostReportSchema = z
  .object({
    name: z.string().regex(NAME, "letters, digits, dot, dash and underscore, at most 100"),
    host: z.string().regex(HOST, "a host name: letters, digits, dot, dash, underscore and colon"),
    servedSha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "64 hex digits (SHA-256 of the served certificate's DER)")
      .transform((s) => s.toLowerCase())
      .optional(),
    renewAt: z.iso.datetime({ offset: true }).optional(),
    error: z.string().max(2000).optional(),
  })
  .strict();

/**
 * POST /v1/hosts/report: a host says what it serves, authenticated by a certificate this CA
 * issued, presented over mutual TLS. Unlike a renewal, an expired certificate may report (not a
 * revoked one): a report grants nothing, and the host whose certificate has expired is the one
 * the operator most needs to hear from. GET /v1/hosts: the admin token.
 */
export function hostRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.post("/v1/hosts/report", async (c) => {
    const { record } = await deps.authority.authenticateCertificate(peerCertificate(c.env), {
      anyTime: true,
    });
    const body = await jsonBody(c, hostReportSchema);
    await deps.hosts.report(record, body);
    deps.log.debug({ name: body.name, host: body.host, serial: record.serial }, "host reported");
    return c.body(null, 204);
  });
  app.get("/v1/hosts", bearerAuth(deps, "admin"), async (c) => c.json(await deps.hosts.list()));
  return app;
}
