import { Hono } from "hono";
import type { JWK } from "jose";
import { z } from "zod";
import type { RenewalInfoDoc } from "../../../../../shared/acme/types.js";
import type { AppEnv } from "../../context.js";
import { type AcmeHttpDeps, acmeJson } from "../context.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";

const revokeSchema = z.object({
  certificate: z.string().regex(/^[A-Za-z0-9_-]+$/),
  reason: z.number().int().optional(),
});

export function certificateRoutes(deps: AcmeHttpDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.4.2: download the certificate chain, POST-as-GET by the ordering account.
  app.post("/cert/:serial", async (c) => {
    const v = await verifyJws(c, deps, "kid");
    const pem = await deps.acme.certificates.download(c.req.param("serial"), accountOf(v).id);
    return c.body(pem, 200, { "content-type": "application/pem-certificate-chain" });
  });

  // RFC 8555 7.6: revocation by an account ("kid") or by the certificate's key ("jwk").
  app.post("/revoke-cert", async (c) => {
    const v = await verifyJws(c, deps, "either");
    const req = payloadAs(v, revokeSchema);
    const by = v.account ? { accountId: v.account.id, jwk: null } : { accountId: null, jwk: v.jwk as JWK };
    await deps.acme.certificates.revoke(Buffer.from(req.certificate, "base64url"), req.reason, by);
    return c.body(null, 200);
  });

  // RFC 9773 4: renewal information, unauthenticated GET.
  app.get("/renewal-info/:certId", async (c) => {
    const window = await deps.acme.certificates.renewalWindow(c.req.param("certId"));
    const doc: RenewalInfoDoc = {
      suggestedWindow: {
        start: new Date(window.start).toISOString(),
        end: new Date(window.end).toISOString(),
      },
    };
    return acmeJson(c, doc, 200, { "retry-after": "21600" });
  });

  return app;
}
