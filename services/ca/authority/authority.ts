import { hash, X509Certificate } from "node:crypto";
import type { IssuedCertificate } from "../../../shared/api.js";
import { unsignedInteger } from "../../../shared/x509/der.js";
import { certificatesFromPem } from "../../../shared/x509/pem.js";
import type { Actor, AuditEntry } from "../core/audit.js";
import type { ParsedCsr } from "../core/csr.js";
import {
  type Check,
  type Constraints,
  checksFor,
  type Policy,
  runChecks,
  validityFor,
  withinConstraints,
} from "../core/policy.js";
import { type LeafTemplate, leafTemplate } from "../core/profile.js";
import type {
  CertificateRecord,
  CrlRecord,
  RevocationState,
  RevokedEntry,
  TokenRecord,
  TokenState,
} from "../core/types.js";
import type { CaMaterial, Issuing } from "../keys/ca.js";
import { revokeCertificate } from "./certificates.js";
import { authenticateCertificate, checkRenewal, type RenewalDeps } from "./renewal.js";
import { type Signer, threadpoolSigner } from "./signer.js";
import { keptCommonName, serialBytes, serialHex } from "./signing.js";

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
    /** where CSRs are verified and certificates signed: libuv's threadpool, or a thread of its own */
    private readonly signer: Signer = threadpoolSigner(),
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
    const csr = await this.signer.parseCsr(csrDer);
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

  /** POST /v1/renew: see checkRenewal; the new certificate is recorded as the presented one's successor. */
  async renew(presentedDer: Uint8Array | null, csrDer: Uint8Array | null): Promise<Issued> {
    const { current, leaf, validity, now } = await checkRenewal(this.renewalDeps(), presentedDer, csrDer);
    const issued = await this.issue(
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
    );
    this.onIssued("renew");
    return issued;
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
  issueServing(leaf: ParsedCsr, lifetimeMs: number): Promise<Issued> {
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

  /** A certificate presented over mutual TLS, if it is one of ours, current and unrevoked (see renewal.ts). */
  authenticateCertificate(
    presentedDer: Uint8Array | null,
    o: { anyTime?: boolean } = {},
  ): Promise<{ record: CertificateRecord; der: Uint8Array }> {
    return authenticateCertificate(this.renewalDeps(), presentedDer, o);
  }

  private renewalDeps(): RenewalDeps {
    return {
      store: this.store,
      issuerOf: (cert) => this.issuerOf(cert),
      constraints: this.ca.constraints,
      clock: this.clock,
    };
  }

  /** Revocation needs no key: the inventory's, which the CLI calls too. */
  revoke(serial: string, reason: number, actor: Actor): Promise<void> {
    return revokeCertificate(this.store.certificates, serial, reason, this.clock(), actor);
  }

  private async issue(
    leaf: ParsedCsr,
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
    const pem = await this.signer.certificate(this.template, this.ca.intermediateKey, {
      serial: serialDer,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      commonName,
      spki: leaf.spki,
      publicKeyBits: leaf.publicKeyBits,
      rsaKey: leaf.keyKind === "rsa",
      generalNames: leaf.generalNames,
    });
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
        keyFingerprint: hash("sha256", leaf.spki, "hex"),
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
