import { type Handler, Hono } from "hono";
import type { AcmeHttpDeps } from "./acme/context.js";
import type { AppDeps, AppEnv } from "./context.js";
import { onError, onNotFound } from "./middleware/problems.js";
import { adminRoutes } from "./routes/admin.js";
import { publicRoutes } from "./routes/public.js";
import { renewRoute } from "./routes/renew.js";
import { revokeRoute } from "./routes/revoke.js";

/** Every route but POST /v1/sign, which the server hands to signHandler before hono (see sign.ts). */
/**
 * `acme`: the ACME domain, built when first asked for (its routes, jose and the domain are loaded
 * on the first /acme request: a CA used only through tokens never pays their memory in each worker).
 */
export function createApp(deps: AppDeps, acme?: () => Promise<AcmeHttpDeps>) {
  const app = new Hono<AppEnv>();
  app.route("/", publicRoutes(deps));
  app.route("/", renewRoute(deps));
  app.route("/", revokeRoute(deps));
  app.route("/", adminRoutes(deps));
  if (acme) {
    let acmeServer: Promise<Hono<AppEnv>> | undefined;
    const toAcme: Handler<AppEnv> = async (c) => {
      acmeServer ??= Promise.all([import("./acme/app.js"), acme()]).then(([{ acmeApp }, acmeDeps]) =>
        new Hono<AppEnv>().route("/acme", acmeApp(acmeDeps)),
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
