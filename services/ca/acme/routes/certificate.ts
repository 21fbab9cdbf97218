import { X509Certificate } from "node:crypto";
import { Hono } from "hono";
import type { JWK } from "jose";
import { z } from "zod";
import {
  acmeMalformed,
  acmeNotFound,
  acmeUnauthorized,
  alreadyRevoked,
  badRevocationReason,
} from "../../../../shared/acme/problems.js";
import type { RenewalInfoDoc } from "../../../../shared/acme/types.js";
import { extensionValue } from "../../../../shared/x509/cert.js";
import { isRevocationCode, normalizeSerial } from "../../core/types.js";
import type { AppEnv } from "../../http/context.js";
import { type AcmeDeps, acmeJson } from "../context.js";
import { certificateIdentifiers } from "../core/identifiers.js";
import { thumbprint } from "../eab.js";
import { accountOf, payloadAs, verifyJws } from "../jws.js";

const revokeSchema = z.object({
  certificate: z.string().regex(/^[A-Za-z0-9_-]+$/),
  reason: z.number().int().optional(),
});

export function certificateRoutes(deps: AcmeDeps) {
  const app = new Hono<AppEnv>();

  // RFC 8555 7.4.2: download the certificate chain, POST-as-GET by the ordering account.
  app.post("/cert/:serial", async (c) => {
    const v = await verifyJws(c, deps, "kid");
    const serial = c.req.param("serial");
    const order = deps.store.orders.byCertSerial(serial);
    if (!order) throw acmeNotFound(`no certificate ${serial}`);
    if (order.accountId !== accountOf(v).id)
      throw acmeUnauthorized("the certificate belongs to another account");
    const cert = deps.issuer.chainOf(serial);
    if (!cert) throw acmeNotFound(`no certificate ${serial}`);
    return c.body(cert.pem + cert.chain, 200, { "content-type": "application/pem-certificate-chain" });
  });

  // RFC 8555 7.6: revocation by an account ("kid"): the one the certificate was issued to, or one
  // that holds authorizations for all of its identifiers; or by the certificate's key ("jwk").
  app.post("/revoke-cert", async (c) => {
    const v = await verifyJws(c, deps, "either");
    const req = payloadAs(v, revokeSchema);
    // RFC 5280 5.3.1 reason codes; not 7 (unused) nor removeFromCRL (8, for delta CRLs only).
    const reason = req.reason ?? 0;
    if (!isRevocationCode(reason)) throw badRevocationReason(`reason ${reason} is not allowed`);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(req.certificate, "base64url"));
    } catch {
      throw acmeMalformed("certificate is not a DER certificate");
    }
    const serial = normalizeSerial(cert.serialNumber);
    const ours = deps.issuer.chainOf(serial);
    if (!ours || !Buffer.from(ours.der).equals(cert.raw))
      throw acmeNotFound("this CA did not issue that certificate");
    if (v.account) {
      const accountId = v.account.id;
      const order = deps.store.orders.byCertSerial(serial);
      if (order?.accountId !== accountId) {
        // 7.6: "the account ... holds authorizations for all of the identifiers in the certificate"
        const now = deps.clock();
        const names = certificateIdentifiers(ours);
        const missing = names.find((id) => !deps.store.authzs.heldFor(accountId, id, now));
        if (names.length === 0 || missing) {
          const which = missing ? `${missing.type} ${missing.value}` : "its identifiers";
          throw acmeUnauthorized(
            `the certificate was issued to another account, and this account holds no valid authorization for ${which}`,
          );
        }
      }
    } else {
      // cert.publicKey is already a public KeyObject (createPublicKey would refuse it).
      const certKey = cert.publicKey.export({ format: "jwk" }) as JWK;
      if ((await thumbprint(certKey)) !== (await thumbprint(v.jwk as JWK))) {
        throw acmeUnauthorized("the request is not signed by the certificate's key");
      }
    }
    if (ours.revoked) throw alreadyRevoked(`certificate ${serial} is already revoked`);
    deps.issuer.revoke(serial, reason);
    return c.body(null, 200);
  });

  // RFC 9773 4: renewal information, unauthenticated GET.
  app.get("/renewal-info/:certId", (c) => {
    const serial = certIdSerial(c.req.param("certId"), deps.issuer.issuerKeyId);
    const cert = serial ? deps.issuer.chainOf(serial) : null;
    if (!cert) throw acmeNotFound("no certificate with that CertID");
    const now = deps.clock();
    const life = cert.notAfter - cert.notBefore;
    // Renew in the window that the agent uses, from two thirds to three quarters of the lifetime;
    // a revoked certificate should be replaced now (9773 4.2).
    const window = cert.revoked
      ? { start: now - 3_600_000, end: now }
      : { start: cert.notBefore + (life * 2) / 3, end: cert.notBefore + (life * 3) / 4 };
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

/**
 * RFC 9773 4.1: CertID = base64url(AKI keyIdentifier) "." base64url(serial DER content).
 * Returns the serial in canonical hex, or null when it is not one of this issuer's.
 */
export function certIdSerial(certId: string, issuerKeyId: Uint8Array): string | null {
  const [aki, serial, extra] = certId.split(".");
  if (!aki || !serial || extra !== undefined) return null;
  if (!Buffer.from(aki, "base64url").equals(Buffer.from(issuerKeyId))) return null;
  const hex = Buffer.from(serial, "base64url").toString("hex");
  try {
    return normalizeSerial(hex);
  } catch {
    return null;
  }
}

/** The CertID of a certificate, as a client computes it (RFC 9773 4.1). */
export function certIdOf(der: Uint8Array): string {
  const aki = extensionValue(der, "2.5.29.35");
  const cert = new X509Certificate(der);
  // AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier ... }: the [0] element follows the SEQUENCE header.
  const keyId = aki ? aki.subarray(4, 4 + (aki[3] ?? 0)) : Buffer.alloc(0);
  let serialBytes = Buffer.from(normalizeSerial(cert.serialNumber), "hex");
  // the DER INTEGER's content: a positive serial with its high bit set keeps its leading zero
  if ((serialBytes[0] ?? 0) >= 0x80) serialBytes = Buffer.concat([Buffer.from([0]), serialBytes]);
  return `${keyId.toString("base64url")}.${serialBytes.toString("base64url")}`;
}
