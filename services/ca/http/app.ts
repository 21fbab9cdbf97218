import { type Handler, Hono } from "hono";
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
  if (acme) {
    // The ACME server (jose, its routes) is loaded on the first /acme request: a CA used only
    // through tokens never pays its memory in each worker.
    let acmeServer: Promise<Hono<AppEnv>> | undefined;
    const toAcme: Handler<AppEnv> = async (c) => {
      acmeServer ??= import("../acme/app.js").then(({ acmeApp }) =>
        new Hono<AppEnv>().route("/acme", acmeApp(acme)),
      );
      return (await acmeServer).fetch(c.req.raw, c.env);
    };
    app.all("/acme", toAcme);
    app.all("/acme/*", toAcme);
  }
  app.onError(onError(deps.log));
  app.notFound(onNotFound);
  return app;
}
