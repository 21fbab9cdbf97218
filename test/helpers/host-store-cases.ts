import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { HostRecord, NewestCertificate } from "../../services/ca/core/hosts.js";
import type { CertificateRecord } from "../../services/ca/core/types.js";

/** What the host and alert cases need of a store: the SQLite one and the PostgreSQL one alike. */
export interface HostStoreUnderTest {
  certificates: { insert(rec: CertificateRecord): unknown };
  hosts: {
    saveReport(rec: HostRecord): Promise<void>;
    hostReport(name: string, host: string): Promise<HostRecord | null>;
    hostReports(): Promise<HostRecord[]>;
    newestCertificate(names: readonly string[]): Promise<NewestCertificate | null>;
    alertStates(): Promise<{ key: string; firing: boolean }[]>;
    setAlert(key: string, firing: boolean, summary: string, now: number): Promise<boolean>;
  };
}

const DAY = 86_400_000;

export function certRecord(over: Partial<CertificateRecord> = {}): CertificateRecord {
  const now = Date.now();
  return {
    serial: randomBytes(16).toString("hex"),
    tokenId: null,
    renewedFrom: null,
    commonName: null,
    dnsNames: ["web.lan"],
    ipAddresses: [],
    notBefore: now,
    notAfter: now + 30 * DAY,
    keyFingerprint: "ab".repeat(32),
    pem: "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
    createdAt: now,
    revokedAt: null,
    revocationReason: null,
    ...over,
  };
}

/** The same checks on any two stores over one database (two processes, or two replicas). */
export const hostStoreCases = {
  async reportsRoundTrip(a: HostStoreUnderTest, b: HostStoreUnderTest): Promise<void> {
    const rec: HostRecord = {
      name: "web",
      host: `h-${randomBytes(3).toString("hex")}`,
      lastSeen: 1000,
      serial: "01",
      names: ["web.lan"],
      notBefore: 0,
      notAfter: 2000,
      servedSha256: null,
      renewAt: null,
      error: "boom",
    };
    await a.hosts.saveReport(rec);
    await b.hosts.saveReport({ ...rec, lastSeen: 1500, servedSha256: "cd".repeat(32), error: null });
    const got = await a.hosts.hostReport("web", rec.host);
    assert.deepEqual(got, { ...rec, lastSeen: 1500, servedSha256: "cd".repeat(32), error: null });
    assert.equal(
      (await b.hosts.hostReports()).filter((h) => h.host === rec.host).length,
      1,
      "one row per name and host",
    );
    assert.equal(await a.hosts.hostReport("web", "nowhere"), null);
  },

  async newestIsTheUnrenewedLatestWithTheSameNames(a: HostStoreUnderTest): Promise<void> {
    const name = `n${randomBytes(4).toString("hex")}.lan`;
    const t = Date.now();
    const first = certRecord({ dnsNames: [name], notBefore: t, notAfter: t + DAY });
    // renewed in the same second: same times, but it is the successor
    const second = certRecord({
      dnsNames: [name],
      notBefore: t,
      notAfter: t + DAY,
      renewedFrom: first.serial,
    });
    const wider = certRecord({ dnsNames: [name, `www.${name}`], notBefore: t + 5, notAfter: t + 2 * DAY });
    const revoked = certRecord({ dnsNames: [name], notBefore: t + 9, notAfter: t + 3 * DAY, revokedAt: t });
    for (const c of [first, second, wider, revoked]) await a.certificates.insert(c);
    assert.equal((await a.hosts.newestCertificate([name]))?.serial, second.serial);
    assert.equal((await a.hosts.newestCertificate([`www.${name}`, name]))?.serial, wider.serial);
    assert.equal(await a.hosts.newestCertificate(["none.lan"]), null);
  },

  async anAlertFlipsOnceAcrossBoth(a: HostStoreUnderTest, b: HostStoreUnderTest): Promise<void> {
    const key = `host-drift:${randomBytes(4).toString("hex")}`;
    const fired = await Promise.all([a, b, a, b].map((s) => s.hosts.setAlert(key, true, "drift", 1)));
    assert.equal(fired.filter(Boolean).length, 1, "fired once");
    assert.equal(await a.hosts.setAlert(key, true, "drift", 2), false, "already firing");
    assert.equal((await b.hosts.alertStates()).find((s) => s.key === key)?.firing, true);
    const resolved = await Promise.all([a, b].map((s) => s.hosts.setAlert(key, false, "drift", 3)));
    assert.equal(resolved.filter(Boolean).length, 1, "resolved once");
    assert.equal(await b.hosts.setAlert(key, false, "drift", 4), false);
    assert.equal(
      await a.hosts.setAlert(`never:${key}`, false, "x", 5),
      false,
      "an alert that never fired does not resolve",
    );
    assert.equal(
      await b.hosts.setAlert(key, true, "drift again", 6),
      true,
      "and fires again when it comes back",
    );
  },
};
