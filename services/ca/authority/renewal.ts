import { X509Certificate } from "node:crypto";
import { normalizeDns } from "../../../shared/dns-name.js";
import { badCSR, forbidden, rejectedIdentifier, unauthorized } from "../../../shared/problem.js";
import { serialOf, spkiOf } from "../../../shared/x509/cert.js";
import { decodePem } from "../../../shared/x509/pem.js";
import { certifiedKeyInfo, encodeGeneralNames, MAX_NAMES, type ParsedCsr, parseCsr } from "../core/csr.js";
import { canonicalIp } from "../core/names.js";
import { type Constraints, validityFor, withinConstraints } from "../core/policy.js";
import type { CertificateRecord, TokenState } from "../core/types.js";
import { normalizeSerial } from "../core/types.js";
import type { Issuing } from "../keys/ca.js";

/** What a renewal reads: the inventory, which intermediate issued a certificate, the time. */
export interface RenewalDeps {
  store: {
    certificates: {
      bySerial(serial: string): Promise<CertificateRecord | null>;
      successorOf(serial: string): Promise<string | null>;
    };
    tokens: { state(id: string): Promise<TokenState | null> };
  };
  issuerOf(cert: X509Certificate): Issuing | null;
  constraints: Constraints;
  clock(): number;
}

/** A renewal, checked: what to issue, for which certificate, from when. */
export interface Renewal {
  current: CertificateRecord & { tokenId: string };
  leaf: ParsedCsr;
  validity: { notBefore: Date; notAfter: Date };
  now: number;
}

/**
 * POST /v1/renew: the presented certificate is the credential. It must be ours, current and
 * unrevoked, issued through a token that is not revoked, and not renewed already (its successor
 * renews, so one certificate is not a source of any number of live ones); the new one has the
 * same names and lifetime, for the CSR's key when one is given. A certificate issued over ACME
 * (or the CA's own serving certificate) renews where it came from, with a new validation.
 */
export async function checkRenewal(
  deps: RenewalDeps,
  presentedDer: Uint8Array | null,
  csrDer: Uint8Array | null,
): Promise<Renewal> {
  const { record: current, der: currentDer } = await authenticateCertificate(deps, presentedDer);
  const tokenId = current.tokenId;
  if (tokenId === null) {
    throw forbidden(
      `certificate ${current.serial} was not issued through an enrolment token: renew it where it came from (ACME renews over ACME)`,
    );
  }
  const token = await deps.store.tokens.state(tokenId);
  if (!token || token.revokedAt !== null) {
    throw forbidden(
      `the token certificate ${current.serial} was issued through has been revoked: enrol again`,
    );
  }
  const successor = await deps.store.certificates.successorOf(current.serial);
  if (successor !== null) {
    throw forbidden(
      `certificate ${current.serial} has been renewed already (by ${successor}): renew that one`,
    );
  }
  // The names as issued today: lower case, each once (a certificate from before may differ).
  const dnsNames = [...new Set(current.dnsNames.map(normalizeDns))];
  const ipAddresses = [...new Set(current.ipAddresses.map(canonicalIp))];
  if (dnsNames.length + ipAddresses.length === 0)
    throw badCSR("the current certificate has no subjectAltName");
  if (dnsNames.length + ipAddresses.length > MAX_NAMES)
    throw rejectedIdentifier(`a certificate has at most ${MAX_NAMES} names: enrol again for fewer`);
  let key: Pick<ParsedCsr, "spki" | "publicKeyBits" | "keyKind">;
  if (csrDer) {
    const csr = parseCsr(csrDer);
    const same =
      (csr.dns.length === 0 && csr.ips.length === 0) ||
      (sameNames(csr.dns.map(normalizeDns), current.dnsNames.map(normalizeDns)) &&
        sameNames(csr.ips, current.ipAddresses));
    if (!same)
      throw rejectedIdentifier(
        "renewal keeps the names of the current certificate; enrol again for new names",
      );
    key = csr;
  } else {
    const spki = spkiOf(currentDer);
    key = { spki, ...certifiedKeyInfo(spki) };
  }
  // The constraints may have been narrowed since the first issue; they bind renewals too.
  withinConstraints(deps.constraints)({ dns: dnsNames, ips: ipAddresses });
  const now = deps.clock();
  const lifetime = current.notAfter - current.notBefore;
  const validity = validityFor({ dns: [], ips: [], validityMs: lifetime }, lifetime, now);
  const leaf = {
    ...key,
    commonName: current.commonName,
    generalNames: encodeGeneralNames(dnsNames, ipAddresses),
    dns: dnsNames,
    ips: ipAddresses,
  };
  return { current: { ...current, tokenId }, leaf, validity, now };
}

/**
 * A certificate presented over mutual TLS, if it is one of ours, current and unrevoked. With
 * `anyTime`, an expired or not yet valid one passes too (host reports: see http/routes/hosts.ts).
 */
export async function authenticateCertificate(
  deps: Pick<RenewalDeps, "store" | "issuerOf" | "clock">,
  presentedDer: Uint8Array | null,
  o: { anyTime?: boolean } = {},
): Promise<{ record: CertificateRecord; der: Uint8Array }> {
  if (!presentedDer || presentedDer.length === 0) {
    throw unauthorized("present the current certificate as the TLS client certificate");
  }
  const rec = (await asIssued(deps, presentedDer)) ?? (await checkedAgainstIssuers(deps, presentedDer));
  const now = deps.clock();
  if (rec.revokedAt !== null) throw unauthorized(`certificate ${rec.serial} has been revoked`);
  if (o.anyTime) return { record: rec, der: presentedDer };
  if (rec.notAfter <= now) {
    throw unauthorized(
      `certificate ${rec.serial} expired at ${new Date(rec.notAfter).toISOString()}: enrol again with a token`,
    );
  }
  if (rec.notBefore > now) throw unauthorized(`certificate ${rec.serial} is not valid yet`);
  return { record: rec, der: presentedDer };
}

/**
 * The inventory's record of the certificate when the presented one is, byte for byte, the
 * certificate this CA issued and recorded under its serial: then neither parsing it whole nor
 * checking its signature against the intermediates can add anything (about a fifth of a
 * renewal's CPU beside the handshake, issue 16). Null when it is not; checkedAgainstIssuers
 * then decides, with the same answers as before.
 */
async function asIssued(
  deps: Pick<RenewalDeps, "store">,
  presentedDer: Uint8Array,
): Promise<CertificateRecord | null> {
  let serial: string;
  try {
    serial = normalizeSerial(serialOf(presentedDer));
  } catch {
    return null;
  }
  const rec = await deps.store.certificates.bySerial(serial);
  if (!rec) return null;
  const recorded = decodePem(rec.pem)[0]?.der;
  return recorded?.equals(presentedDer) ? rec : null;
}

/** A certificate not recorded as presented: ours only if an intermediate of ours signed it. */
async function checkedAgainstIssuers(
  deps: Pick<RenewalDeps, "store" | "issuerOf">,
  presentedDer: Uint8Array,
): Promise<CertificateRecord> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(presentedDer);
  } catch {
    throw unauthorized("the client certificate cannot be parsed");
  }
  // a leaf of an intermediate retired by a rotation renews too: onto the current one
  if (!deps.issuerOf(cert)) {
    throw unauthorized("the client certificate was not issued by this CA");
  }
  const rec = await deps.store.certificates.bySerial(normalizeSerial(cert.serialNumber));
  if (!rec) throw unauthorized("the client certificate is not in this CA's inventory");
  return rec;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}
