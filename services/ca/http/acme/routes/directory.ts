import { Hono } from "hono";
import type { DirectoryDoc } from "../../../../../shared/acme/types.js";
import type { AppEnv } from "../../context.js";
import { type AcmeHttpDeps, acmeBase, acmeJson, urls } from "../context.js";

/** RFC 8555 7.1.1 directory and 7.2 newNonce. */
export function directoryRoutes(_deps: AcmeHttpDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.1.1; externalAccountRequired per 7.3.4; renewalInfo per RFC 9773 3.
  app.get("/directory", (c) => {
    const u = urls(acmeBase(c));
    const doc: DirectoryDoc = {
      newNonce: u.newNonce,
      newAccount: u.newAccount,
      newOrder: u.newOrder,
      revokeCert: u.revokeCert,
      keyChange: u.keyChange,
      renewalInfo: u.renewalInfo,
      meta: { externalAccountRequired: true },
    };
    return acmeJson(c, doc);
  });

  // RFC 8555 7.2: HEAD answers 200, GET 204; the nonce itself is added to every response.
  // (hono runs HEAD through the GET route, with the request's method still HEAD)
  app.get("/new-nonce", (c) =>
    c.body(null, c.req.method === "HEAD" ? 200 : 204, { "cache-control": "no-store" }),
  );
  return app;
}
