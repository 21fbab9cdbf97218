import { webcrypto } from "node:crypto";
import { signingAlgorithm, webAlgorithm } from "../../../shared/keys.js";
import { seq, smallInteger, tlv } from "../../../shared/x509/der.js";
import { loadX509 } from "../../../shared/x509/peculiar.js";
import type { CrlRecord } from "../core/types.js";
import type { CaMaterial } from "../keys/ca.js";
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

  constructor(
    private readonly ca: CaMaterial,
    private readonly store: Store,
    private readonly numbers: CrlNumbers,
    private readonly clock: () => number = Date.now,
  ) {}

  async current(): Promise<Buffer> {
    const latest = this.store.crls.latest();
    const state = this.store.certificates.revocationState();
    const now = this.clock();
    // RFC 5280 5.2.3: numbers only increase. A stored CRL below the last number published is
    // from a database restored from an older backup, and is not served again.
    const published = this.numbers.last();
    if (
      latest &&
      latest.number >= published &&
      latest.revokedCount === state.count &&
      latest.lastRevokedAt === state.lastRevokedAt &&
      now - latest.thisUpdate < REFRESH_AFTER_MS
    ) {
      return latest.der;
    }
    this.pending ??= this.generate(Math.max(latest?.number ?? 0, published) + 1).finally(() => {
      this.pending = null;
    });
    return (await this.pending).der;
  }

  private async generate(number: number): Promise<CrlRecord> {
    const x509 = await loadX509();
    const now = this.clock();
    const state = this.store.certificates.revocationState();
    const entries = this.store.certificates.revokedUnexpired(now).map((r) => ({
      serialNumber: r.serial,
      revocationDate: new Date(r.revokedAt),
      ...(r.reason ? { reason: r.reason } : {}),
    }));
    const kind = this.ca.intermediateKind;
    const signingKey = await webcrypto.subtle.importKey(
      "pkcs8",
      this.ca.intermediateKey.export({ type: "pkcs8", format: "der" }),
      webAlgorithm(kind),
      false,
      ["sign"],
    );
    const crl = await x509.X509CrlGenerator.create({
      issuer: new x509.X509Certificate(this.ca.intermediateDer).subject,
      thisUpdate: new Date(now),
      nextUpdate: new Date(now + CRL_LIFETIME_MS),
      entries,
      signingKey,
      signingAlgorithm: signingAlgorithm(kind),
      extensions: [
        new x509.Extension("2.5.29.35", false, seq(tlv(0x80, this.ca.intermediateKeyId))),
        new x509.Extension("2.5.29.20", false, smallInteger(number)),
      ],
    });
    const rec: CrlRecord = {
      number,
      der: Buffer.from(crl.rawData),
      thisUpdate: now,
      nextUpdate: now + CRL_LIFETIME_MS,
      revokedCount: state.count,
      lastRevokedAt: state.lastRevokedAt,
    };
    // recorded beside the keys first: a CRL is never out there with a number the file lacks
    this.numbers.raise(number);
    if (!this.store.crls.insert(rec)) {
      // Another process published this number first; serve theirs.
      return this.store.crls.latest() ?? rec;
    }
    return rec;
  }
}
