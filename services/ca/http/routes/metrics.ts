import { Hono } from "hono";
import { EXPOSITION_TYPE } from "../../metrics/listen.js";
import type { AppDeps, AppEnv } from "../context.js";
import { bearerAuth } from "../middleware/auth.js";

/**
 * GET /metrics: the Prometheus text exposition, the admin token only (serve --metrics-listen
 * serves the same without authentication on a plain HTTP address of its own).
 */
export function metricsRoute(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get("/metrics", bearerAuth(deps, "admin"), async (c) =>
    c.body(await deps.metrics.exposition(), 200, { "content-type": EXPOSITION_TYPE }),
  );
  return app;
}
