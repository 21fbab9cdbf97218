import { Hono } from "hono";
import { storageUnavailable } from "../../../../shared/problem.js";
import type { AppDeps, AppEnv } from "../context.js";

/** GET /healthz, /roots.pem, /chain.pem, /v1/root and /crl: open to anyone. */
export function publicRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  // 503 while the database cannot be read or the data directory cannot be written (store/health.ts)
  app.get("/healthz", (c) => {
    deps.health();
    const reason = deps.storage.problem();
    if (reason) throw storageUnavailable(`the CA cannot store data: ${reason}`);
    return c.json({ status: "ok" });
  });
  app.get("/roots.pem", (c) => c.body(deps.rootPem, 200, { "content-type": "application/x-pem-file" }));
  app.get("/chain.pem", (c) =>
    c.body(deps.authority.chainPem, 200, { "content-type": "application/x-pem-file" }),
  );
  app.get("/v1/root", (c) => c.json({ pem: deps.rootPem, sha256: deps.rootFingerprint }));
  app.get("/crl", async (c) => {
    const der = await deps.crl.current();
    return c.body(new Uint8Array(der), 200, {
      "content-type": "application/pkix-crl",
      "cache-control": "max-age=300",
    });
  });
  return app;
}
