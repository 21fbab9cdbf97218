import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../context.js";
import { type AcmeHttpDeps, acmeBase, acmeJson, RETRY_AFTER_SECONDS, urls } from "../context.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";
import { orderView } from "../views.js";

const newOrderSchema = z.object({
  identifiers: z.array(z.object({ type: z.string(), value: z.string() })),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  replaces: z.string().optional(),
});

const finalizeSchema = z.object({ csr: z.string().regex(/^[A-Za-z0-9_-]+$/, "base64url DER") });

export function orderRoutes(deps: AcmeHttpDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.4 newOrder, with notBefore/notAfter; RFC 8738 ip identifiers; RFC 9773 5 "replaces".
  app.post("/new-order", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const order = await deps.acme.orders.create(accountOf(v), payloadAs(v, newOrderSchema));
    return acmeJson(c, orderView(order, await deps.acme.orders.status(order), u), 201, {
      location: u.order(order.id),
    });
  });

  // RFC 8555 7.1.3: POST-as-GET on an order; 7.4: while it is "processing" (another request is
  // finalizing it), Retry-After says when to poll again.
  app.post("/order/:id", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const order = await deps.acme.orders.own(c.req.param("id"), accountOf(v).id);
    const view = orderView(order, await deps.acme.orders.status(order), u);
    const headers: Record<string, string> = { location: u.order(order.id) };
    if (view.status === "processing") headers["retry-after"] = RETRY_AFTER_SECONDS;
    return acmeJson(c, view, 200, headers);
  });

  // RFC 8555 7.4 finalize: synchronous, so the order is "valid" in the response.
  app.post("/order/:id/finalize", async (c) => {
    const u = urls(acmeBase(c));
    const v = await verifyJws(c, deps, "kid");
    const account = accountOf(v);
    const ready = await deps.acme.orders.ready(c.req.param("id"), account.id);
    const req = payloadAs(v, finalizeSchema);
    const order = await deps.acme.orders.finalize(ready, account, Buffer.from(req.csr, "base64url"));
    return acmeJson(c, orderView(order, await deps.acme.orders.status(order), u), 200, {
      location: u.order(order.id),
    });
  });

  return app;
}
