import { webcrypto } from "node:crypto";
import { signingAlgorithm, webAlgorithm } from "../../../shared/keys.js";
import { seq, smallInteger, tlv } from "../../../shared/x509/der.js";
import { loadX509 } from "../../../shared/x509/peculiar.js";
import type { CrlRecord, RevokedEntry } from "../core/types.js";
import type { CaMaterial, Issuing } from "../keys/ca.js";
import type { Store } from "./authority.js";

/** A CRL is valid this long, and remade when half of that has passed or a revocation happened. */
export const CRL_LIFETIME_MS = 24 * 3_600_000;
const REFRESH_AFTER_MS = CRL_LIFETIME_MS / 2;

/** Where the last published CRL number is kept apart from the database (keys/crl-number.ts). */
export interface CrlNumbers {
  last(): number;
  raise(n: number): void;
}

/**
 * Publishes the CRL (RFC 5280 5): signed by the intermediate, numbered (5.2.3), naming its
 * issuer key (5.2.1). Each process compares the stored CRL against the revocation state in the
 * database, so a revocation made by the CLI shows up at the next request.
 */
export class CrlPublisher {
  private pending: Promise<CrlRecord> | null = null;
  /** the CRLs of retired intermediates, by key id: made from the current record, once per number */
  private readonly retired = new Map<string, { number: number; der: Promise<Buffer> }>();

  constructor(
    private ca: CaMaterial,
    private readonly store: Store,
    private readonly numbers: CrlNumbers,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The CRL at `path` (/crl, or /crl/KEYID after a rotation): the current intermediate's, or a
   * retired one's, which lists the same revocations under the same number, thisUpdate and
   * nextUpdate, signed with that intermediate's key (a CRL covers what its signer issued, RFC
   * 5280 5; serials are random, so another issuer's on the list revoke nothing of its own). One
   * number sequence serves them all, so each issuer's numbers only increase. Null: no such CRL.
   */
  async at(path: string): Promise<Buffer | null> {
    if (this.ca.crlPath === path) return this.current();
    const issuer = this.ca.retired.find((i) => i.crlPath === path);
    if (!issuer) return null;
    const rec = await this.currentRecord();
    const key = issuer.intermediateKeyId.toString("hex");
    const cached = this.retired.get(key);
    if (cached && cached.number === rec.number) return cached.der;
    const der = this.store.certificates
      .revokedUnexpired(rec.thisUpdate)
      .then((entries) => this.sign(issuer, rec, entries));
    this.retired.set(key, { number: rec.number, der });
    der.catch(() => this.retired.delete(key));
    return der;
  }

  /** The CA after a rotation. */
  use(ca: CaMaterial): void {
    this.ca = ca;
    this.retired.clear();
  }

  async current(): Promise<Buffer> {
    return (await this.currentRecord()).der;
  }

  private async currentRecord(): Promise<CrlRecord> {
    const [latest, state] = await Promise.all([
      this.store.crls.latest(),
      this.store.certificates.revocationState(),
    ]);
    const now = this.clock();
    // RFC 5280 5.2.3: numbers only increase. A stored CRL below the last number published is
    // from a database restored from an older backup, and is not served again.
    const published = this.numbers.last();
    if (
      latest &&
      latest.number >= published &&
      // signed by this intermediate (its key id is the CRL's AKI): after a rotation, not the old one
      latest.der.includes(this.ca.intermediateKeyId) &&
      latest.revokedCount === state.count &&
      latest.lastRevokedAt === state.lastRevokedAt &&
      now - latest.thisUpdate < REFRESH_AFTER_MS
    ) {
      return latest;
    }
    this.pending ??= this.generate(Math.max(latest?.number ?? 0, published) + 1).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async generate(number: number): Promise<CrlRecord> {
    const now = this.clock();
    const state = await this.store.certificates.revocationState();
    const times = { number, thisUpdate: now, nextUpdate: now + CRL_LIFETIME_MS };
    const der = await this.sign(this.ca, times, await this.store.certificates.revokedUnexpired(now));
    const rec: CrlRecord = {
      number,
      der,
      thisUpdate: now,
      nextUpdate: now + CRL_LIFETIME_MS,
      revokedCount: state.count,
      lastRevokedAt: state.lastRevokedAt,
    };
    // recorded beside the keys first: a CRL is never out there with a number the file lacks
    this.numbers.raise(number);
    if (!(await this.store.crls.insert(rec))) {
      // Another process published this number first; serve theirs.
      return (await this.store.crls.latest()) ?? rec;
    }
    return rec;
  }

  private async sign(
    issuer: Issuing,
    times: { number: number; thisUpdate: number; nextUpdate: number },
    revoked: RevokedEntry[],
  ): Promise<Buffer> {
    const x509 = await loadX509();
    const kind = issuer.intermediateKind;
    const signingKey = await webcrypto.subtle.importKey(
      "pkcs8",
      issuer.intermediateKey.export({ type: "pkcs8", format: "der" }),
      webAlgorithm(kind),
      false,
      ["sign"],
    );
    const crl = await x509.X509CrlGenerator.create({
      issuer: new x509.X509Certificate(issuer.intermediateDer).subject,
      thisUpdate: new Date(times.thisUpdate),
      nextUpdate: new Date(times.nextUpdate),
      entries: revoked.map((r) => ({
        serialNumber: r.serial,
        revocationDate: new Date(r.revokedAt),
        ...(r.reason ? { reason: r.reason } : {}),
      })),
      signingKey,
      signingAlgorithm: signingAlgorithm(kind),
      extensions: [
        new x509.Extension("2.5.29.35", false, seq(tlv(0x80, issuer.intermediateKeyId))),
        new x509.Extension("2.5.29.20", false, smallInteger(times.number)),
      ],
    });
    return Buffer.from(crl.rawData);
  }
}
