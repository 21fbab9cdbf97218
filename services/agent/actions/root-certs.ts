import { X509Certificate } from "node:crypto";
import { certificatesFromPem, encodePem, fingerprint } from "../../../shared/x509/pem.js";

/** The agent's root PEM (one root, or more while a rotation overlaps), as the trust stores take it. */

export interface RootCert {
  /** this one certificate, canonical PEM */
  pem: string;
  fingerprint: string;
  /** its subject CN (else O), for the names it is stored under */
  name: string;
}

/** The root certificate(s) in a canonical PEM form, the same bytes on every run. */
export function canonicalRoot(rootPem: string): { pem: string; fingerprint: string } {
  const certs = rootCertificates(rootPem);
  return { pem: certs.map((c) => c.pem).join(""), fingerprint: (certs[0] as RootCert).fingerprint };
}

export function rootCertificates(rootPem: string): RootCert[] {
  const ders = certificatesFromPem(rootPem);
  if (!ders.length) throw new Error("no certificate in the agent's root PEM");
  return ders.map((der) => {
    const subject = new X509Certificate(der).subject.split("\n");
    const cn = subject.find((l) => l.startsWith("CN="))?.slice(3);
    const org = subject.find((l) => l.startsWith("O="))?.slice(2);
    return { pem: encodePem("CERTIFICATE", der), fingerprint: fingerprint(der), name: cn || org || "root" };
  });
}

/**
 * The name a certificate store keeps the root under: says certyard, the CA's name and which root
 * (a fingerprint prefix), in characters every store accepts (NSS reads "a:b" as token "a").
 */
export function storeNickname(c: RootCert): string {
  const name =
    c.name
      .replace(/[^A-Za-z0-9 ._-]+/g, " ")
      .trim()
      .replace(/\s+/g, " ") || "root";
  return `certyard ${name} ${c.fingerprint.slice(0, 16)}`;
}
