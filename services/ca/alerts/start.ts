import { X509Certificate } from "node:crypto";
import type { Logger } from "../../../shared/log.js";
import { every } from "../../../shared/periodic.js";
import { certificatesFromPem } from "../../../shared/x509/pem.js";
import type { CaTimes } from "../core/hosts.js";
import type { AlertCheckDeps } from "./checker.js";
import type { RetryPolicy, Webhook } from "./webhook.js";

export interface AlertSettings {
  webhooks: Webhook[];
  log: Logger;
  retry?: RetryPolicy;
  /** how often the conditions are checked (default 60 s) */
  checkMs?: number;
  /**
   * Runs the check only in the replica holding the lease of that name (leases/runner.ts
   * runUnderLease): replicas on one database check, and post, one at a time.
   */
  runUnderLease(name: string, fn: () => Promise<void>): Promise<boolean>;
}

/**
 * The alert checks every `checkMs`, posting to the webhooks. What has fired is in the database,
 * so a restart or another replica does not send an alert twice; the lease keeps the others from
 * doing the same check meanwhile.
 */
export async function startAlerts(
  s: AlertSettings,
  d: Omit<AlertCheckDeps, "send" | "log">,
): Promise<{ stop(): void }> {
  const [{ checkAlerts }, { webhookSender, DEFAULT_RETRY }] = await Promise.all([
    import("./checker.js"),
    import("./webhook.js"),
  ]);
  const sender = webhookSender(s.webhooks, s.log, s.retry ?? DEFAULT_RETRY);
  const checks = every(
    s.checkMs ?? 60_000,
    () =>
      s
        .runUnderLease("alerts", () => checkAlerts({ ...d, send: (m) => sender.send(m), log: s.log }))
        .then(() => {}),
    (err) => s.log.error({ err }, "the alert checks failed"),
  );
  void checks.runNow();
  return {
    stop() {
      void checks.stop();
      sender.close();
    },
  };
}

/** When the root, the intermediate and the CRL run out, for the alert checks. */
export function caTimes(
  rootPem: string,
  chainPem: string,
  crl: { thisUpdate: number; nextUpdate: number } | null,
): CaTimes {
  const notAfter = (pem: string) => {
    const der = certificatesFromPem(pem)[0];
    return der ? Date.parse(new X509Certificate(der).validTo) : Number.POSITIVE_INFINITY;
  };
  return {
    rootNotAfter: notAfter(rootPem),
    intermediateNotAfter: notAfter(chainPem),
    crl: crl ? { nextUpdate: crl.nextUpdate, lifetimeMs: crl.nextUpdate - crl.thisUpdate } : null,
  };
}
