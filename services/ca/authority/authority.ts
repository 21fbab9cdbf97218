import { createHash, type KeyObject, randomFillSync, sign, X509Certificate } from "node:crypto";
import type { IssuedCertificate } from "../../../shared/api.js";
import { normalizeDns } from "../../../shared/dns-name.js";
import { badCSR, forbidden, rejectedIdentifier, unauthorized } from "../../../shared/problem.js";
import { spkiOf } from "../../../shared/x509/cert.js";
import { unsignedInteger } from "../../../shared/x509/der.js";
import { certificatesFromPem, encodePem } from "../../../shared/x509/pem.js";
import type { Actor, AuditEntry } from "../core/audit.js";
import {
  encodeGeneralNames,
  MAX_NAMES,
  type ParsedCsr,
  parseCsr,
  parseCsrAsync,
  publicKeyInfo,
} from "../core/csr.js";
import { canonicalIp } from "../core/names.js";
import {
  type Check,
  type Constraints,
  checksFor,
  type Policy,
  runChecks,
  validityFor,
  withinConstraints,
} from "../core/policy.js";
import { assembleCertificate, buildTbs, type LeafTemplate, leafTemplate } from "../core/profile.js";
import type {
  CertificateRecord,
  CrlRecord,
  RevocationState,
  RevokedEntry,
  TokenRecord,
  TokenState,
} from "../core/types.js";
import { normalizeSerial } from "../core/types.js";
import type { CaMaterial, Issuing } from "../keys/ca.js";
import { revokeCertificate } from "./certificates.js";

/** What the authority needs from storage; the SQLite store implements it. */
export interface Store {
  /** with the issuance's audit event, written in the same transaction */
  recordIssued(
    rec: CertificateRecord,
    tokenId: string | null,
    now: number,
    audit: AuditEntry | null,
  ): Promise<void>;
  certificates: {
    bySerial(serial: string): Promise<CertificateRecord | null>;
    /** the certificate that renewed this one, if any */
    successorOf(serial: string): Promise<string | null>;
    revoke(
      serial: string,
      reason: number,
      at: number,
      audit?: AuditEntry,
    ): Promise<"revoked" | "already" | "missing">;
    revocationState(): Promise<RevocationState>;
    revokedUnexpired(now: number): Promise<RevokedEntry[]>;
  };
  tokens: {
    state(id: string): Promise<TokenState | null>;
  };
  crls: {
    latest(): Promise<CrlRecord | null>;
    insert(rec: CrlRecord): Promise<boolean>;
  };
}

export type Issued = IssuedCertificate;

/** Builds leaves from checked requests and records them; the HTTP layer only calls in here. */
export class Authority {
  private template!: LeafTemplate;
  /** hears of each certificate issued through sign, renew and ACME (the metrics count them) */
  onIssued: (method: "sign" | "renew" | "acme") => void = () => {};
  /** A token's checks, built once per CA: its policy never changes (the constraints may, at a rotation). */
  private readonly checks = new Map<string, Check[]>();

  constructor(
    private ca: CaMaterial,
    private readonly store: Store,
    crlUrl: string | null,
    private readonly clock: () => number = Date.now,
  ) {
    this.use(ca, crlUrl);
  }

  /** The CA after a rotation: new certificates from the new intermediate, from now on. */
  use(ca: CaMaterial, crlUrl: string | null): void {
    this.ca = ca;
    this.checks.clear();
    this.template = leafTemplate({
      subject: ca.intermediateSubject,
      keyIdentifier: ca.intermediateKeyId,
      keyKind: ca.intermediateKind,
      crlUrl,
    });
  }

  /** GET /chain.pem: what follows a new leaf (the intermediate, and cross-certificates after a root rotation) */
  get chainPem(): string {
    return this.ca.chainPem;
  }

  /** Whether the current intermediate issued this PEM's first certificate (not one a rotation retired). */
  issuedByCurrent(pem: string): boolean {
    const der = certificatesFromPem(pem)[0];
    return der !== undefined && this.issuerOf(new X509Certificate(der)) === this.ca;
  }

  /** The intermediate that issued `der`, current or retired by a rotation; null when none of ours did. */
  private issuerOf(cert: X509Certificate): Issuing | null {
    return (
      [this.ca, ...this.ca.retired].find(
        (i) => cert.checkIssued(i.intermediate) && cert.verify(i.intermediate.publicKey),
      ) ?? null
    );
  }

  /** POST /v1/sign: a CSR under a token's policy and the intermediate's name constraints. */
  async sign(token: TokenRecord, csrDer: Uint8Array, validityMs: number | undefined): Promise<Issued> {
    const csr = await parseCsrAsync(csrDer);
    const req = { dns: csr.dns, ips: csr.ips, validityMs };
    let checks = this.checks.get(token.id);
    if (!checks) {
      checks = checksFor(token.policy, this.ca.constraints);
      this.checks.set(token.id, checks);
    }
    runChecks(checks, req);
    const now = this.clock();
    const validity = validityFor(req, token.policy.maxValidityMs, now);
    const issued = await this.issue(
      csr,
      validity,
      {
        tokenId: token.id,
        consumeToken: true,
        renewedFrom: null,
        actor: { kind: "token", id: token.name },
        method: "sign",
      },
      now,
    );
    this.onIssued("sign");
    return issued;
  }

  /**
   * POST /v1/renew: the presented certificate is the credential. It must be ours, current and
   * unrevoked, issued through a token that is not revoked, and not renewed already (its successor
   * renews, so one certificate is not a source of any number of live ones); the new one has the
   * same names and lifetime, for the CSR's key when one is given. A certificate issued over ACME
   * (or the CA's own serving certificate) renews where it came from, with a new validation.
   */
  async renew(presentedDer: Uint8Array | null, csrDer: Uint8Array | null): Promise<Issued> {
    const { record: current, der: currentDer } = await this.authenticateCertificate(presentedDer);
    if (current.tokenId === null) {
      throw forbidden(
        `certificate ${current.serial} was not issued through an enrolment token: renew it where it came from (ACME renews over ACME)`,
      );
    }
    const token = await this.store.tokens.state(current.tokenId);
    if (!token || token.revokedAt !== null) {
      throw forbidden(
        `the token certificate ${current.serial} was issued through has been revoked: enrol again`,
      );
    }
    const successor = await this.store.certificates.successorOf(current.serial);
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
      key = { spki, ...publicKeyInfo(spki) };
    }
    // The constraints may have been narrowed since the first issue; they bind renewals too.
    withinConstraints(this.ca.constraints)({ dns: dnsNames, ips: ipAddresses });
    const now = this.clock();
    const lifetime = current.notAfter - current.notBefore;
    const validity = validityFor({ dns: [], ips: [], validityMs: lifetime }, lifetime, now);
    const leaf = {
      ...key,
      commonName: current.commonName,
      generalNames: encodeGeneralNames(dnsNames, ipAddresses),
      dns: dnsNames,
      ips: ipAddresses,
    };
    return this.issue(
      leaf,
      validity,
      {
        tokenId: current.tokenId,
        consumeToken: false,
        renewedFrom: current.serial,
        actor: { kind: "certificate", id: current.serial },
        method: "renew",
      },
      now,
    ).then((issued) => {
      this.onIssued("renew");
      return issued;
    });
  }

  /**
   * ACME finalize (RFC 8555 7.4): the CSR, as finalize parsed it (an IP literal sent as a dNSName
   * is an iPAddress, a name asked for only in the commonName a SAN too), under the account's EAB
   * policy and the intermediate's name constraints, through the same checks, profile and
   * inventory as POST /v1/sign.
   */
  issueForAcme(
    csr: ParsedCsr,
    policy: Policy,
    window?: { notBefore: Date; notAfter: Date },
    actor: Actor = { kind: "acme-account", id: "unknown" },
  ): Promise<Issued> {
    const validityMs = window ? window.notAfter.getTime() - window.notBefore.getTime() : undefined;
    runChecks(checksFor(policy, this.ca.constraints), { dns: csr.dns, ips: csr.ips, validityMs });
    const now = this.clock();
    // A requested window (RFC 8555 7.4 notBefore/notAfter) is issued exactly as the order has it.
    const validity = window ?? validityFor({ dns: [], ips: [] }, policy.maxValidityMs, now);
    return this.issue(
      csr,
      validity,
      { tokenId: null, consumeToken: false, renewedFrom: null, actor, method: "acme" },
      now,
    ).then((issued) => {
      this.onIssued("acme");
      return issued;
    });
  }

  /** An issued certificate with its chain, for ACME download, revocation and renewal info. */
  async chainOf(serial: string) {
    const rec = await this.store.certificates.bySerial(serial);
    if (!rec) return null;
    const der = certificatesFromPem(rec.pem)[0] ?? new Uint8Array();
    const issuer = der.length ? this.issuerOf(new X509Certificate(der)) : null;
    return {
      pem: rec.pem,
      chain: issuer && issuer !== this.ca ? issuer.intermediatePem : this.ca.chainPem,
      notBefore: rec.notBefore,
      notAfter: rec.notAfter,
      revoked: rec.revokedAt !== null,
      der,
      dnsNames: rec.dnsNames,
      ipAddresses: rec.ipAddresses,
    };
  }

  get constraints(): Constraints {
    return this.ca.constraints;
  }

  get issuerKeyIds(): readonly Uint8Array[] {
    return [this.ca, ...this.ca.retired].map((i) => i.intermediateKeyId);
  }

  /** The CA's own serving certificate; not bound to any token, still within the name constraints. */
  issueServing(leaf: Omit<ParsedCsr, "publicKey">, lifetimeMs: number): Promise<Issued> {
    withinConstraints(this.ca.constraints)({ dns: leaf.dns, ips: leaf.ips });
    const now = this.clock();
    const validity = validityFor({ dns: [], ips: [], validityMs: lifetimeMs }, lifetimeMs, now);
    return this.issue(
      leaf,
      validity,
      {
        tokenId: null,
        consumeToken: false,
        renewedFrom: null,
        actor: { kind: "ca", id: "serving certificate" },
        method: "serving",
      },
      now,
    );
  }

  /**
   * A certificate presented over mutual TLS, if it is one of ours, current and unrevoked. With
   * `anyTime`, an expired or not yet valid one passes too (host reports: see http/routes/hosts.ts).
   */
  async authenticateCertificate(
    presentedDer: Uint8Array | null,
    o: { anyTime?: boolean } = {},
  ): Promise<{ record: CertificateRecord; der: Uint8Array }> {
    if (!presentedDer || presentedDer.length === 0) {
      throw unauthorized("present the current certificate as the TLS client certificate");
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(presentedDer);
    } catch {
      throw unauthorized("the client certificate cannot be parsed");
    }
    // a leaf of an intermediate retired by a rotation renews too: onto the current one
    if (!this.issuerOf(cert)) {
      throw unauthorized("the client certificate was not issued by this CA");
    }
    const rec = await this.store.certificates.bySerial(normalizeSerial(cert.serialNumber));
    if (!rec) throw unauthorized("the client certificate is not in this CA's inventory");
    const now = this.clock();
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

  /** Revocation needs no key: the inventory's, which the CLI calls too. */
  revoke(serial: string, reason: number, actor: Actor): Promise<void> {
    return revokeCertificate(this.store.certificates, serial, reason, this.clock(), actor);
  }

  private async issue(
    leaf: Omit<ParsedCsr, "publicKey">,
    validity: { notBefore: Date; notAfter: Date },
    who: {
      tokenId: string | null;
      consumeToken: boolean;
      renewedFrom: string | null;
      actor: Actor;
      method: "sign" | "renew" | "acme" | "serving";
    },
    now: number,
  ): Promise<Issued> {
    const commonName = keptCommonName(leaf.commonName, leaf.dns, leaf.ips);
    const serialDer = unsignedInteger(serialBytes());
    const tbs = buildTbs(this.template, {
      serial: serialDer,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      commonName,
      spki: leaf.spki,
      publicKeyBits: leaf.publicKeyBits,
      rsaKey: leaf.keyKind === "rsa",
      generalNames: leaf.generalNames,
    });
    const signature = await signOnThreadpool(this.template.hash, tbs, this.ca.intermediateKey);
    const der = assembleCertificate(this.template, tbs, signature);
    const pem = encodePem("CERTIFICATE", der);
    const serial = serialHex(serialDer);
    const issued: Issued = {
      serial,
      notBefore: validity.notBefore.toISOString(),
      notAfter: validity.notAfter.toISOString(),
      certificate: pem,
      chain: this.ca.chainPem,
      fullchain: pem + this.ca.chainPem,
    };
    await this.store.recordIssued(
      {
        serial,
        tokenId: who.tokenId,
        renewedFrom: who.renewedFrom,
        commonName,
        dnsNames: leaf.dns,
        ipAddresses: leaf.ips,
        notBefore: validity.notBefore.getTime(),
        notAfter: validity.notAfter.getTime(),
        keyFingerprint: createHash("sha256").update(leaf.spki).digest("hex"),
        pem,
        createdAt: now,
        revokedAt: null,
        revocationReason: null,
      },
      who.consumeToken ? who.tokenId : null,
      now,
      {
        at: now,
        type: who.renewedFrom === null ? "certificate.issued" : "certificate.renewed",
        actor: who.actor,
        subject: serial,
        details:
          who.renewedFrom === null
            ? { method: who.method, names: [...leaf.dns, ...leaf.ips], notAfter: issued.notAfter }
            : {
                method: who.method,
                names: [...leaf.dns, ...leaf.ips],
                notAfter: issued.notAfter,
                renewedFrom: who.renewedFrom,
              },
      },
    );
    return issued;
  }
}

/**
 * The certificate's signature, made on libuv's threadpool (node:crypto's sign with a callback):
 * the event loop goes on with other requests' TLS, HTTP and SQLite meanwhile, so one process
 * uses both cores of a small host. Same key, same algorithm, same DER signature as the
 * synchronous call.
 */
function signOnThreadpool(hash: string, tbs: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sign(hash, tbs, { key, dsaEncoding: "der" }, (err, signature) =>
      err ? reject(err) : resolve(signature),
    ),
  );
}

/**
 * 128 random bits per serial (more than the 64 CA/B BR 7.1 asks), taken from a pool that one
 * call of the CSPRNG refills every 256 serials: a call per serial cost more than the rest of the
 * serial's handling.
 */
const SERIAL_BYTES = 16;
const serialPool = Buffer.alloc(SERIAL_BYTES * 256);
let serialOffset = serialPool.length;
function serialBytes(): Buffer {
  if (serialOffset === serialPool.length) {
    randomFillSync(serialPool);
    serialOffset = 0;
  }
  const out = Buffer.from(serialPool.subarray(serialOffset, serialOffset + SERIAL_BYTES));
  serialPool.fill(0, serialOffset, serialOffset + SERIAL_BYTES);
  serialOffset += SERIAL_BYTES;
  return out;
}

/** The subject CN survives only if it is one of the certificate's SANs (CA/B BR 7.1.4.3 spirit). */
function keptCommonName(cn: string | null, dns: readonly string[], ips: readonly string[]): string | null {
  if (cn === null) return null;
  // the SAN it names, as the SAN is spelt (lower case, canonical)
  const name = dns.find((d) => normalizeDns(d) === normalizeDns(cn));
  if (name !== undefined) return name;
  try {
    const ip = canonicalIp(cn);
    if (ips.includes(ip)) return ip;
  } catch {
    // not an IP address
  }
  return null;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/** The serial's DER INTEGER as canonical hex: the value's bytes, without the sign-padding zero. */
function serialHex(serialDer: Buffer): string {
  let content = serialDer.subarray(2);
  if (content[0] === 0 && content.length > 1) content = content.subarray(1);
  return content.toString("hex");
}
