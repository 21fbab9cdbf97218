import type { Logger } from "../../../shared/log.js";
import type { HostRecord } from "../core/hosts.js";
import { type AlertCondition, alertConditions, type CaTimes } from "../core/hosts.js";

/** What the checks need from storage (store/hosts.ts); every call a Promise, as issue 17's ports. */
export interface AlertPorts {
  alertStates(): Promise<{ key: string; firing: boolean; summary: string }[]>;
  /** compare-and-set: true when this call changed the alert's state */
  setAlert(key: string, firing: boolean, summary: string, now: number): Promise<boolean>;
}

/** The JSON each webhook receives. */
export interface AlertMessage {
  status: "firing" | "resolved";
  key: string;
  kind: AlertCondition["kind"] | null;
  summary: string;
  details: AlertCondition["details"];
  at: string;
  /** the CA's public URL */
  ca: string;
}

export interface AlertCheckDeps {
  store: AlertPorts;
  hosts: () => Promise<{ record: HostRecord; newestSha256: string | null }[]>;
  caTimes: () => Promise<CaTimes>;
  send: (m: AlertMessage) => void;
  clock: () => number;
  caUrl: string;
  log: Logger;
}

/**
 * One round of the alert checks: every condition that holds and is not yet firing fires, every
 * firing one that no longer holds resolves. The state is the database's (setAlert is a
 * compare-and-set), so a restart, or a second process checking at the same time, sends nothing
 * twice.
 */
export async function checkAlerts(d: AlertCheckDeps): Promise<void> {
  const now = d.clock();
  const holding = alertConditions(await d.hosts(), await d.caTimes(), now);
  const at = new Date(now).toISOString();
  for (const c of holding) {
    if (await d.store.setAlert(c.key, true, c.summary, now)) {
      d.log.warn({ alert: c.key }, c.summary);
      d.send({
        status: "firing",
        key: c.key,
        kind: c.kind,
        summary: c.summary,
        details: c.details,
        at,
        ca: d.caUrl,
      });
    }
  }
  const keys = new Set(holding.map((c) => c.key));
  for (const s of await d.store.alertStates()) {
    if (!s.firing || keys.has(s.key)) continue;
    if (await d.store.setAlert(s.key, false, s.summary, now)) {
      d.log.info({ alert: s.key }, `resolved: ${s.summary}`);
      d.send({
        status: "resolved",
        key: s.key,
        kind: kindOf(s.key),
        summary: s.summary,
        details: {},
        at,
        ca: d.caUrl,
      });
    }
  }
}

const KINDS = ["host-expiring", "host-drift", "host-silent", "ca-expiring", "crl-stale"] as const;
function kindOf(key: string): AlertCondition["kind"] | null {
  const prefix = key.split(":")[0];
  return KINDS.find((k) => k === prefix) ?? null;
}
