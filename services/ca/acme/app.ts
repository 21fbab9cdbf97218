import { Hono } from "hono";
import type { AppEnv } from "../http/context.js";
import { type AcmeDeps, acmeBase, urls } from "./context.js";
import { freshNonce } from "./nonces.js";
import { acmeOnError } from "./problems.js";
import { accountRoutes } from "./routes/account.js";
import { authzRoutes } from "./routes/authz.js";
import { certificateRoutes } from "./routes/certificate.js";
import { directoryRoutes } from "./routes/directory.js";
import { orderRoutes } from "./routes/order.js";

/** The ACME server (RFC 8555), mounted at /acme. */
export function acmeApp(deps: AcmeDeps) {
  const app = new Hono<AppEnv>();
  // RFC 8555 6.5: a Replay-Nonce on every response, errors included; 7.1: a Link to the directory.
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("replay-nonce", freshNonce(deps));
    c.res.headers.append("link", `<${urls(acmeBase(c)).directory}>;rel="index"`);
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });
  app.route("/", directoryRoutes(deps));
  app.route("/", accountRoutes(deps));
  app.route("/", orderRoutes(deps));
  app.route("/", authzRoutes(deps));
  app.route("/", certificateRoutes(deps));
  app.onError(acmeOnError(deps.log));
  return app;
}
