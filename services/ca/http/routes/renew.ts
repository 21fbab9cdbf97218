import { Hono } from "hono";
import { z } from "zod";
import { csrDer, jsonBody } from "../body.js";
import { type AppDeps, type AppEnv, peerCertificate } from "../context.js";

export const renewSchema = z.object({ csr: z.string().min(1).optional() }).strict();

/** POST /v1/renew: the current certificate, presented over mutual TLS, is the credential. */
export function renewRoute(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.post("/v1/renew", async (c) => {
    const body = await jsonBody(c, renewSchema, true);
    const issued = await deps.authority.renew(peerCertificate(c.env), body.csr ? csrDer(body.csr) : null);
    deps.log.info({ serial: issued.serial, notAfter: issued.notAfter }, "renewed");
    return c.json(issued, 201);
  });
  return app;
}
