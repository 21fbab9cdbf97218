import { Hono } from "hono";
import { z } from "zod";
import { parseDuration } from "../../../../shared/duration.js";
import { csrDer, jsonBody } from "../body.js";
import type { AppDeps, AppEnv } from "../context.js";
import { bearerAuth } from "../middleware/auth.js";

const signSchema = z.object({ csr: z.string().min(1), validity: z.string().optional() }).strict();

/** POST /v1/sign: a token's holder gets a certificate for its CSR. */
export function signRoute(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.post("/v1/sign", bearerAuth(deps.verifyToken, "enrol", deps.clock), async (c) => {
    const body = await jsonBody(c, signSchema);
    const validityMs = body.validity === undefined ? undefined : parseDuration(body.validity);
    const token = c.get("token");
    const issued = await deps.authority.sign(token, csrDer(body.csr), validityMs);
    deps.log.info({ serial: issued.serial, token: token.name, notAfter: issued.notAfter }, "issued");
    return c.json(issued, 201);
  });
  return app;
}
