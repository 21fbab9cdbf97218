import { Hono } from "hono";
import { acmeApp } from "../acme/app.js";
import type { AcmeDeps } from "../acme/context.js";
import type { AppDeps, AppEnv } from "./context.js";
import { onError, onNotFound } from "./middleware/problems.js";
import { adminRoutes } from "./routes/admin.js";
import { publicRoutes } from "./routes/public.js";
import { renewRoute } from "./routes/renew.js";
import { revokeRoute } from "./routes/revoke.js";

/** Every route but POST /v1/sign, which the server hands to signHandler before hono (see sign.ts). */
export function createApp(deps: AppDeps, acme?: AcmeDeps) {
  const app = new Hono<AppEnv>();
  app.route("/", publicRoutes(deps));
  app.route("/", renewRoute(deps));
  app.route("/", revokeRoute(deps));
  app.route("/", adminRoutes(deps));
  if (acme) app.route("/acme", acmeApp(acme));
  app.onError(onError(deps.log));
  app.notFound(onNotFound);
  return app;
}
