import { X509Certificate } from "node:crypto";
import { type HostRecord, isDrift } from "../core/hosts.js";
import type { CrlRecord } from "../core/types.js";
import type { CaMaterial } from "../keys/ca.js";
import type { StateCounts } from "../store/ports.js";
import { EXPIRING_WINDOWS, type ExpiringWindow, type GaugeSource } from "./registry.js";

/**
 * What the gauges read from storage. The certificates' counts come from the dashboard's summary
 * (certificate_days), not from counting the table: on PostgreSQL with 1,000,000 certificates
 * that count took 2.7 s of a scrape.
 */
export interface MetricsStore {
  dashboard: { stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts> };
  crls: { latest(): Promise<CrlRecord | null> };
}

/**
 * Where the CA's gauges come from: the inventory's counts and the stored CRL from the store,
 * the CA's certificates from the material serve holds now (a rotation replaces it), the hosts
 * from their reports (the fleet view's hostService). The host series are one per reporting
 * host and name: bounded by the fleet, not by the certificates issued.
 */
export function caGaugeSource(
  store: MetricsStore,
  ca: () => CaMaterial,
  hosts?: () => Promise<{ record: HostRecord; newestSha256: string | null }[]>,
): GaugeSource {
  const windows = Object.keys(EXPIRING_WINDOWS) as ExpiringWindow[];
  let rootExpiry: { der: Buffer; notAfter: number } | null = null;
  return {
    async certificateCounts(now) {
      const { states, expiring } = await store.dashboard.stateCounts(
        now,
        windows.map((w) => EXPIRING_WINDOWS[w]),
      );
      return {
        states,
        expiring: Object.fromEntries(windows.map((w, i) => [w, expiring[i] ?? 0])) as Record<
          ExpiringWindow,
          number
        >,
      };
    },
    caExpiry() {
      const material = ca();
      if (rootExpiry?.der !== material.rootDer) {
        rootExpiry = {
          der: material.rootDer,
          notAfter: new X509Certificate(material.rootDer).validToDate.getTime(),
        };
      }
      return { root: rootExpiry.notAfter, intermediate: material.intermediate.validToDate.getTime() };
    },
    async crlNextUpdate() {
      return (await store.crls.latest())?.nextUpdate ?? null;
    },
    // each host's report: the certificate it reported with, and whether it serves the newest
    hosts: hosts
      ? async () =>
          (await hosts()).map(({ record, newestSha256 }) => ({
            host: record.host,
            name: record.name,
            notAfter: record.notAfter,
            drift: isDrift(record.servedSha256, newestSha256),
          }))
      : undefined,
  };
}
