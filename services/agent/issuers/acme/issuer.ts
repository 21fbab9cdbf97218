import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { certIdOf } from "../../../../shared/acme/cert-id.js";
import type { Identifier } from "../../../../shared/acme/types.js";
import type { Logger } from "../../../../shared/log.js";
import { certificatesFromPem, decodePem } from "../../../../shared/x509/pem.js";
import type { AcmeIssuerRecord } from "../../state.js";
import type { Issued, Issuer, Names, RenewalWindow } from "../issuer.js";
import { getDirectory, getRenewalInfo } from "./api.js";
import { challengeFromRecord, solverFor } from "./challenges.js";
import { type AcmeAccount, obtainCertificate, openAccount } from "./flow.js";
import { acmeFetch } from "./http.js";

export interface AcmeIssuerOptions {
  record: AcmeIssuerRecord;
  /** where the account keys live (0600), one per directory URL and EAB */
  accountDir: string;
  /** the External Account Binding a new account is made with; renewals use the account as it is */
  eab?: { kid: string; hmacKey: string };
  log: Logger;
}

/**
 * Any ACME CA (RFC 8555): every certificate, the first and each renewal, is an order for a new
 * key, authorized with the record's challenge. Where the server publishes renewal info
 * (RFC 9773), a renewal names the certificate it replaces and the server's window is kept.
 */
export function acmeIssuer(o: AcmeIssuerOptions): Issuer {
  const r = o.record;
  const caPem = () => (r.caCertFile ? readFileSync(r.caCertFile, "utf8") : undefined);

  async function withAccount(fn: (a: AcmeAccount) => Promise<Issued>): Promise<Issued> {
    const account = await openAccount({
      directoryUrl: r.directory,
      accountDir: o.accountDir,
      caPem: caPem(),
      email: r.email,
      eab: o.eab,
      eabKid: r.eabKid,
      log: o.log,
    });
    try {
      return await fn(account);
    } finally {
      await account.close();
    }
  }

  /** One order: challenges, finalize with the CSR, download; then the window, when there is one. */
  async function order(a: AcmeAccount, names: Names, csrPem: string, replaces?: string): Promise<Issued> {
    const csr = decodePem(csrPem)[0];
    if (!csr) throw new Error("no CSR was made");
    const identifiers: Identifier[] = [
      ...names.dns.map((value) => ({ type: "dns" as const, value })),
      ...names.ips.map((value) => ({ type: "ip" as const, value })),
    ];
    const fullchain = await obtainCertificate(a, {
      identifiers,
      csrDer: csr.der,
      solver: solverFor(challengeFromRecord(r.challenge)),
      replaces,
      log: o.log,
    });
    const leafDer = certificatesFromPem(fullchain)[0];
    if (!leafDer) throw new Error("the ACME server sent no certificate");
    const leaf = new X509Certificate(leafDer);
    let renewalInfo: RenewalWindow | undefined;
    if (a.dir.renewalInfo) {
      try {
        renewalInfo = await getRenewalInfo(a.$fetch, a.dir, certIdOf(leafDer));
      } catch (err) {
        o.log.warn(
          { err: (err as Error).message },
          "no renewal info: renewing at a third of the lifetime left",
        );
      }
    }
    return {
      fullchain,
      serial: leaf.serialNumber.toLowerCase(),
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      ...(renewalInfo ? { renewalInfo } : {}),
    };
  }

  return {
    record: r,
    canKeepKey: false,
    verifyRoot: () => (r.verifyCaFile ? readFileSync(r.verifyCaFile, "utf8") : rootCertificates.join("\n")),

    obtain: (csrPem, names) => withAccount((a) => order(a, names, csrPem)),

    checkRenewal() {
      // The account is the credential: a certificate that is missing or expired is renewed all the same.
    },

    async renew(m, current, csrPem) {
      if (!csrPem) throw new Error("an ACME renewal orders a certificate for a new key");
      return withAccount(async (a) => {
        let replaces: string | undefined;
        if (a.dir.renewalInfo && current) {
          try {
            replaces = certIdOfLeaf(current.cert);
          } catch {
            // a current certificate without an AKI is renewed without `replaces`
          }
        }
        return order(a, m, csrPem, replaces);
      });
    },

    async renewalWindow(certPem) {
      const { $fetch, close } = acmeFetch({ caPem: caPem() });
      try {
        const dir = await getDirectory($fetch, r.directory);
        return dir.renewalInfo ? await getRenewalInfo($fetch, dir, certIdOfLeaf(certPem)) : undefined;
      } finally {
        await close();
      }
    },
  };
}

/** The RFC 9773 CertID of the leaf of a PEM chain. */
function certIdOfLeaf(pem: string): string {
  const leaf = certificatesFromPem(pem)[0];
  if (!leaf) throw new Error("no certificate in the chain");
  return certIdOf(leaf);
}
