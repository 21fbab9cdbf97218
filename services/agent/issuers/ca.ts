import { X509Certificate } from "node:crypto";
import type { FileContents } from "../actions/files.js";
import type { Managed } from "../state.js";
import { caClient, type IssuedCert } from "./ca-client.js";
import type { Issued, Issuer } from "./issuer.js";

export interface CaIssuerOptions {
  /** the CA pinned at bootstrap */
  ca: { url: string; rootPem: string };
  /** the enrolment token a first certificate is signed with; renewals need none */
  token?: string;
  /** the lifetime asked of /v1/sign, e.g. 720h */
  validity?: string;
  now: () => number;
}

/**
 * certyard's own API: a first certificate through POST /v1/sign with an enrolment token, and
 * renewals through POST /v1/renew over mutual TLS, where the current certificate and key are the
 * credential (so they must be there and unexpired). The CA may keep the key on renewal.
 */
export function caIssuer(o: CaIssuerOptions): Issuer {
  const client = caClient({ url: o.ca.url, rootPem: o.ca.rootPem });

  /** The current files as the credential of a renewal, or what to do instead. */
  const credential = (m: Managed, current: FileContents | null): FileContents => {
    if (!current) {
      throw new Error(
        `${m.certFile} or ${m.keyFile} is missing: enrol again with certyard-agent cert --name ${m.name} --token ...`,
      );
    }
    const leaf = new X509Certificate(current.cert);
    if (Date.parse(leaf.validTo) <= o.now()) {
      throw new Error(
        `the certificate expired at ${new Date(leaf.validTo).toISOString()}, so it can no longer authenticate a renewal; ` +
          `enrol again with a new token: certyard-agent cert --name ${m.name} --token TOKEN ...`,
      );
    }
    return current;
  };

  return {
    record: { kind: "ca" },
    canKeepKey: true,
    verifyRoot: () => o.ca.rootPem,

    async obtain(csrPem) {
      if (!o.token) throw new Error("a first certificate from the CA needs an enrolment token");
      return issued(await client.sign(o.token, csrPem, o.validity));
    },

    checkRenewal(m, current) {
      credential(m, current);
    },

    async renew(m, current, csrPem) {
      const { cert, key } = credential(m, current);
      return issued(await client.renew({ certPem: cert, keyPem: key }, csrPem));
    },
  };
}

const issued = (c: IssuedCert): Issued => ({
  fullchain: c.fullchain,
  serial: c.serial,
  notBefore: c.notBefore,
  notAfter: c.notAfter,
});
