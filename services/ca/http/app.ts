import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { type Handler, Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AcmeHttpDeps } from "./acme/context.js";
import type { AppDeps, AppEnv } from "./context.js";
import { onError, onNotFound } from "./middleware/problems.js";
import { openApiRoute } from "./openapi/route.js";
import { adminRoutes } from "./routes/admin.js";
import { hostRoutes } from "./routes/hosts.js";
import { metricsRoute } from "./routes/metrics.js";
import { publicRoutes } from "./routes/public.js";
import { isRenewRequest, RENEW_PATH, renewHandler } from "./routes/renew.js";
import { revokeRoute } from "./routes/revoke.js";
import { isSignRequest, SIGN_PATH, signHandler } from "./sign.js";
import { uiRoutes } from "./ui/app.js";
import type { DashboardDeps, UiDeps } from "./ui/deps.js";

/**
 * The HTTPS front end as node's request listener: POST /v1/sign straight to signHandler (see
 * sign.ts), POST /v1/renew to renewHandler (routes/renew.ts), everything else through the hono app.
 */
export function requestListener(
  deps: AppDeps & { ui?: UiDeps },
  hostname: string,
  acme?: () => Promise<AcmeHttpDeps>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const hono = getRequestListener(createApp(deps, acme).fetch, { hostname });
  const sign = signHandler(deps);
  const renew = renewHandler(deps);
  const counted = (path: string, res: ServerResponse) => {
    const started = performance.now();
    res.once("finish", () =>
      deps.metrics.request(path, res.statusCode, (performance.now() - started) / 1000),
    );
  };
  return (req, res) => {
    if (isSignRequest(req)) {
      counted(SIGN_PATH, res);
      return sign(req, res);
    }
    if (isRenewRequest(req)) {
      counted(RENEW_PATH, res);
      return renew(req, res);
    }
    return hono(req, res);
  };
}

/**
 * Counts each request by its route pattern (a bounded label: /crl/:keyId, not each key id), as
 * the route that answered it registered it; one that no route matched is "unmatched".
 */
function countRequests(deps: Pick<AppDeps, "metrics">): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = routePath(c, -1);
    deps.metrics.request(
      route === "*" || route === "/*" || route === "" ? "unmatched" : route,
      c.res.status,
      (performance.now() - started) / 1000,
    );
  };
}

/** Every route but POST /v1/sign and POST /v1/renew, which requestListener serves before hono. */
/**
 * `acme`: the ACME domain, built when first asked for (its routes, jose and the domain are loaded
 * on the first /acme request: a CA used only through tokens never pays their memory in each worker).
 */
export function createApp(deps: AppDeps & { ui?: UiDeps }, acme?: () => Promise<AcmeHttpDeps>) {
  const app = new Hono<AppEnv>();
  app.use(countRequests(deps));
  // the same object, not a copy: a rotation updates the roots in it (server.ts)
  if (hasUi(deps)) {
    app.get("/ui", (c) => c.redirect("/ui/", 301));
    app.route("/ui/", uiRoutes(deps));
  }
  app.route("/", publicRoutes(deps));
  app.route("/", revokeRoute(deps));
  app.route("/", adminRoutes(deps));
  app.route("/", metricsRoute(deps));
  app.route("/", hostRoutes(deps));
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

const hasUi = (deps: AppDeps & { ui?: UiDeps }): deps is DashboardDeps => deps.ui !== undefined;
