import { X509Certificate } from "node:crypto";
import type { CrlRecord } from "../core/types.js";
import type { CaMaterial } from "../keys/ca.js";
import type { StateCounts } from "../store/certificates.js";
import { EXPIRING_WINDOWS, type ExpiringWindow, type GaugeSource } from "./registry.js";

/** What the gauges read from storage. */
export interface MetricsStore {
  certificates: { stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts> };
  crls: { latest(): CrlRecord | null | Promise<CrlRecord | null> };
}

/**
 * Where the CA's gauges come from: the inventory's counts and the stored CRL from the store,
 * the CA's certificates from the material serve holds now (a rotation replaces it).
 */
export function caGaugeSource(store: MetricsStore, ca: () => CaMaterial): GaugeSource {
  const windows = Object.keys(EXPIRING_WINDOWS) as ExpiringWindow[];
  let rootExpiry: { der: Buffer; notAfter: number } | null = null;
  return {
    async certificateCounts(now) {
      const { states, expiring } = await store.certificates.stateCounts(
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
  };
}
