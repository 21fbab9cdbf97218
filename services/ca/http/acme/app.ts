import { Hono } from "hono";
import { notFound, Problem } from "../../../../shared/problem.js";
import type { AppEnv } from "../context.js";
import { type AcmeHttpDeps, acmeBase, urls } from "./context.js";
import { acmeOnError, acmeProblemResponse } from "./problems.js";
import { accountRoutes } from "./routes/account.js";
import { authzRoutes } from "./routes/authz.js";
import { certificateRoutes } from "./routes/certificate.js";
import { directoryRoutes } from "./routes/directory.js";
import { orderRoutes } from "./routes/order.js";

/** The ACME server (RFC 8555), mounted at /acme. */
export function acmeApp(deps: AcmeHttpDeps) {
  const app = new Hono<AppEnv>();
  // RFC 8555 6.5: a Replay-Nonce on every response, errors included; 7.1: a Link to the directory.
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("replay-nonce", deps.acme.nonces.issue());
    c.res.headers.append("link", `<${urls(acmeBase(c)).directory}>;rel="index"`);
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });
  app.route("/", directoryRoutes(deps));
  app.route("/", accountRoutes(deps));
  app.route("/", orderRoutes(deps));
  app.route("/", authzRoutes(deps));
  app.route("/", certificateRoutes(deps));
  // Registered last, so it answers only what no route above did.
  app.all("*", (c) => {
    const path = c.req.path.replace(/^\/acme/, "");
    const allow = METHODS.find(([pattern]) => pattern.test(path))?.[1];
    if (!allow) return acmeProblemResponse(c, notFound(`no ACME resource at ${c.req.path}`));
    // RFC 8555 6.3: a GET on a resource read by POST-as-GET is 405 with type malformed.
    const hint = allow === "POST" ? " (to read it, POST-as-GET: RFC 8555 6.3)" : "";
    const problem = new Problem("malformed", `${c.req.method} is not allowed here: use ${allow}${hint}`, {
      status: 405,
    });
    const res = acmeProblemResponse(c, problem);
    res.headers.set("allow", allow);
    return res;
  });
  app.onError(acmeOnError(deps.log, deps.storage));
  return app;
}

/** The methods each ACME resource takes, for the 405 of a request that used another one. */
const METHODS: [RegExp, string][] = [
  [/^\/(directory|new-nonce|renewal-info\/[^/]+)$/, "GET, HEAD"],
  [
    /^\/(new-account|new-order|revoke-cert|key-change|acct\/[^/]+(\/orders)?|order\/[^/]+(\/finalize)?|authz\/[^/]+|chall\/[^/]+\/[^/]+|cert\/[^/]+)$/,
    "POST",
  ],
];
