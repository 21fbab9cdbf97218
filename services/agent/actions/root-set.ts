import { X509Certificate } from "node:crypto";
import { certificatesFromPem, encodePem, fingerprint } from "../../../shared/x509/pem.js";

/**
 * Which roots the agent trusts after a look at what the CA serves (`check-root`, daily). A root
 * the CA rotated in is adopted only when a cross-certificate links it to a root already trusted:
 * the trusted root certified the new root's name and key, or the new root certified the trusted
 * one's (a host pinned after a rotation then still trusts the leaves issued before it). A root
 * is dropped only once it has expired, and never the last one. Pure: X.509 in, PEM out.
 */

export interface ServedRoots {
  /** the CA's current root */
  pem: string;
  /** every root it serves (absent from a CA before rotations) */
  roots?: string;
  /** the cross-certificates between them */
  cross?: string;
}

export type RootSet =
  | {
      ok: true;
      /** the roots to trust, oldest first, PEM */
      pem: string;
      /** the fingerprint of the CA's current root */
      current: string;
      adopted: string[];
      dropped: string[];
    }
  | { ok: false; served: string };

const certs = (pem: string | undefined) => certificatesFromPem(pem ?? "").map((d) => new X509Certificate(d));
const fp = (c: X509Certificate) => fingerprint(c.raw);
const selfSigned = (c: X509Certificate) => c.ca && c.checkIssued(c) && c.verify(c.publicKey);
/** `cross` carries `subject`'s name and key, and `issuer` signed it */
const certifies = (cross: X509Certificate, issuer: X509Certificate, subject: X509Certificate) =>
  cross.ca &&
  cross.subject === subject.subject &&
  cross.publicKey.equals(subject.publicKey) &&
  cross.checkIssued(issuer) &&
  cross.verify(issuer.publicKey);

export function nextRoots(trustedPem: string, served: ServedRoots, now: number): RootSet {
  const trusted = new Map(certs(trustedPem).map((c) => [fp(c), c]));
  const current = certs(served.pem)[0];
  if (!current) return { ok: false, served: "no certificate" };
  const candidates = [...certs(served.roots), current].filter(selfSigned);
  const cross = certs(served.cross);
  const adopted: string[] = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of candidates) {
      if (trusted.has(fp(c))) continue;
      const linked = [...trusted.values()].some((t) =>
        cross.some((x) => certifies(x, t, c) || certifies(x, c, t)),
      );
      if (!linked) continue;
      trusted.set(fp(c), c);
      adopted.push(fp(c));
      grew = true;
    }
  }
  if (!trusted.has(fp(current))) return { ok: false, served: fp(current) };
  const dropped: string[] = [];
  for (const [f, c] of trusted) {
    const expired = Date.parse(c.validTo) <= now;
    if (expired && f !== fp(current) && trusted.size > 1) {
      trusted.delete(f);
      dropped.push(f);
    }
  }
  const ordered = [...trusted.values()].sort((a, b) => Date.parse(a.validFrom) - Date.parse(b.validFrom));
  return {
    ok: true,
    pem: ordered.map((c) => encodePem("CERTIFICATE", c.raw)).join(""),
    current: fp(current),
    adopted,
    dropped,
  };
}
