import { X509Certificate } from "node:crypto";
import type { JWK } from "jose";
import {
  alreadyRevoked,
  badRevocationReason,
  malformed,
  notFound,
  unauthorized,
} from "../../../shared/problem.js";
import { certIdSerial } from "../core/acme/cert-id.js";
import { certificateIdentifiers } from "../core/acme/identifiers.js";
import { isRevocationCode, normalizeSerial } from "../core/types.js";
import type { AcmeDeps } from "./deps.js";
import { thumbprint } from "./eab.js";

/** Who signed a revokeCert request (RFC 8555 7.6): an account ("kid"), or a key ("jwk"). */
export type Revoker = { accountId: string; jwk: null } | { accountId: null; jwk: JWK };

/** Issued certificates as ACME serves them: download (7.4.2), revocation (7.6), RFC 9773 renewal info. */
export function certificateService(deps: Pick<AcmeDeps, "store" | "issuer" | "clock" | "log">) {
  const { store, issuer } = deps;
  return {
    /** 7.4.2: the certificate and its chain, PEM, for the account that ordered it. */
    async download(serial: string, accountId: string): Promise<string> {
      const order = await store.orders.byCertSerial(serial);
      if (!order) throw notFound(`no certificate ${serial}`);
      if (order.accountId !== accountId) throw unauthorized("the certificate belongs to another account");
      const cert = await issuer.chainOf(serial);
      if (!cert) throw notFound(`no certificate ${serial}`);
      return cert.pem + cert.chain;
    },

    /**
     * 7.6: revocation by the account the certificate was issued to, or one that holds
     * authorizations for all of its identifiers; or by a request signed with the certificate's key.
     */
    async revoke(certificateDer: Uint8Array, reasonCode: number | undefined, by: Revoker): Promise<void> {
      // RFC 5280 5.3.1 reason codes; not 7 (unused) nor removeFromCRL (8, for delta CRLs only).
      const reason = reasonCode ?? 0;
      if (!isRevocationCode(reason)) throw badRevocationReason(`reason ${reason} is not allowed`);
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(certificateDer);
      } catch {
        throw malformed("certificate is not a DER certificate");
      }
      const serial = normalizeSerial(cert.serialNumber);
      const ours = await issuer.chainOf(serial);
      if (!ours || !Buffer.from(ours.der).equals(cert.raw))
        throw notFound("this CA did not issue that certificate");
      if (by.accountId !== null) {
        const accountId = by.accountId;
        const order = await store.orders.byCertSerial(serial);
        if (order?.accountId !== accountId) {
          // 7.6: "the account ... holds authorizations for all of the identifiers in the certificate"
          const now = deps.clock();
          const names = certificateIdentifiers(ours);
          let missing: (typeof names)[number] | undefined;
          for (const id of names) {
            if (!(await store.authzs.heldFor(accountId, id, now))) {
              missing = id;
              break;
            }
          }
          if (names.length === 0 || missing) {
            const which = missing ? `${missing.type} ${missing.value}` : "its identifiers";
            throw unauthorized(
              `the certificate was issued to another account, and this account holds no valid authorization for ${which}`,
            );
          }
        }
      } else {
        // cert.publicKey is already a public KeyObject (createPublicKey would refuse it).
        const certKey = cert.publicKey.export({ format: "jwk" }) as JWK;
        if ((await thumbprint(certKey)) !== (await thumbprint(by.jwk))) {
          throw unauthorized("the request is not signed by the certificate's key");
        }
      }
      if (ours.revoked) throw alreadyRevoked(`certificate ${serial} is already revoked`);
      await issuer.revoke(
        serial,
        reason,
        by.accountId !== null
          ? { kind: "acme-account", id: by.accountId }
          : { kind: "certificate", id: serial },
      );
      deps.log.info(
        {
          // who asked: the account, or (7.6, signed with the certificate's key) nobody's account
          account: by.accountId,
          bySigningKey: by.accountId === null,
          order: (await store.orders.byCertSerial(serial))?.id ?? null,
          serial,
          names: [...ours.dnsNames, ...ours.ipAddresses],
          reason,
        },
        "ACME certificate revoked",
      );
    },

    /**
     * RFC 9773 4: when to renew the certificate a CertID names: from two thirds to three quarters
     * of its lifetime, the window the agent uses; a revoked certificate now (4.2).
     */
    async renewalWindow(certId: string): Promise<{ start: number; end: number }> {
      const serial = certIdSerial(certId, issuer.issuerKeyIds);
      const cert = serial ? await issuer.chainOf(serial) : null;
      if (!cert) throw notFound("no certificate with that CertID");
      const now = deps.clock();
      const life = cert.notAfter - cert.notBefore;
      return cert.revoked
        ? { start: now - 3_600_000, end: now }
        : { start: cert.notBefore + (life * 2) / 3, end: cert.notBefore + (life * 3) / 4 };
    },
  };
}
