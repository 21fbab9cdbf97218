import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { type Handler, Hono } from "hono";
import type { AcmeHttpDeps } from "./acme/context.js";
import type { AppDeps, AppEnv } from "./context.js";
import { onError, onNotFound } from "./middleware/problems.js";
import { openApiRoute } from "./openapi/route.js";
import { adminRoutes } from "./routes/admin.js";
import { publicRoutes } from "./routes/public.js";
import { renewRoute } from "./routes/renew.js";
import { revokeRoute } from "./routes/revoke.js";
import { isSignRequest, signHandler } from "./sign.js";

/**
 * The HTTPS front end as node's request listener: POST /v1/sign straight to signHandler (see
 * sign.ts), everything else through the hono app.
 */
export function requestListener(
  deps: AppDeps,
  hostname: string,
  acme?: () => Promise<AcmeHttpDeps>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const hono = getRequestListener(createApp(deps, acme).fetch, { hostname });
  const sign = signHandler(deps);
  return (req, res) => (isSignRequest(req) ? sign(req, res) : hono(req, res));
}

/** Every route but POST /v1/sign, which requestListener hands to signHandler before hono. */
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
  app.route("/", openApiRoute());
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
  app.onError(onError(deps.log, deps.storage));
  app.notFound(onNotFound);
  return app;
}
