import { Hono } from "hono";
import { notFound, storageUnavailable } from "../../../../shared/problem.js";
import type { AppDeps, AppEnv } from "../context.js";

/** GET /healthz, /roots.pem, /chain.pem, /v1/root and /crl: open to anyone. */
export function publicRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  // 503 while the database cannot be read or the data directory cannot be written (store/health.ts)
  app.get("/healthz", async (c) => {
    await deps.health();
    const reason = deps.storage.problem();
    if (reason) throw storageUnavailable(`the CA cannot store data: ${reason}`);
    return c.json({ status: "ok" });
  });
  // after a root rotation, the earlier root too until it expires
  app.get("/roots.pem", (c) => c.body(deps.rootsPem, 200, { "content-type": "application/x-pem-file" }));
  app.get("/chain.pem", (c) =>
    c.body(deps.authority.chainPem, 200, { "content-type": "application/x-pem-file" }),
  );
  app.get("/v1/root", (c) =>
    c.json({ pem: deps.rootPem, sha256: deps.rootFingerprint, roots: deps.rootsPem, cross: deps.crossPem }),
  );
  const crl = async (path: string) => {
    const der = await deps.crl.at(path);
    if (!der) throw notFound(`no CRL at ${path}`);
    return new Response(new Uint8Array(der), {
      status: 200,
      headers: { "content-type": "application/pkix-crl", "cache-control": "max-age=300" },
    });
  };
  // the intermediate init made (and every leaf from before a rotation) names /crl; later ones /crl/KEYID
  app.get("/crl", () => crl("/crl"));
  app.get("/crl/:keyId", (c) => crl(`/crl/${c.req.param("keyId")}`));
  return app;
}
