/**
 * The fleet view, pure: what a host reported, how it shows (GET /v1/hosts, hosts list) and which
 * alert conditions hold. No clock, no store: times and the newest certificates are passed in.
 */

/** A host's last report as stored, with the certificate it authenticated with. */
export interface HostRecord {
  /** the agent's managed name (certyard-agent cert --name) */
  name: string;
  /** the host's own name */
  host: string;
  lastSeen: number;
  /** the client certificate of the report: its serial, names and lifetime */
  serial: string;
  names: string[];
  notBefore: number;
  notAfter: number;
  servedSha256: string | null;
  renewAt: number | null;
  error: string | null;
}

/** The newest unrevoked certificate issued for a host's names. */
export interface NewestCertificate {
  serial: string;
  pem: string;
  notBefore: number;
  notAfter: number;
}

/** One row of GET /v1/hosts and `hosts list --json` (CONTRACT.md, "Fleet view"). */
export interface HostView {
  name: string;
  host: string;
  lastSeen: string;
  servedSha256: string | null;
  newestSha256: string | null;
  drift: boolean;
  renewAt: string | null;
  error: string | null;
}

/** A host serves something other than the newest certificate issued for its names. */
export const isDrift = (served: string | null, newest: string | null): boolean =>
  served !== null && newest !== null && served !== newest;

export function hostView(r: HostRecord, newestSha256: string | null): HostView {
  return {
    name: r.name,
    host: r.host,
    lastSeen: new Date(r.lastSeen).toISOString(),
    servedSha256: r.servedSha256,
    newestSha256,
    drift: isDrift(r.servedSha256, newestSha256),
    renewAt: r.renewAt === null ? null : new Date(r.renewAt).toISOString(),
    error: r.error,
  };
}

export const DAY_MS = 86_400_000;
/** A host that has not reported for this long is silent. */
export const SILENT_AFTER_MS = 3 * DAY_MS;
/** The root's and the intermediate's expiry is announced this long before. */
export const CA_EXPIRY_WARNING_MS = 30 * DAY_MS;

/** One alert condition that holds now; `key` names the condition, the same on every check. */
export interface AlertCondition {
  key: string;
  kind: "host-expiring" | "host-drift" | "host-silent" | "ca-expiring" | "crl-stale";
  summary: string;
  details: Record<string, string | number | boolean | null>;
}

export interface CaTimes {
  rootNotAfter: number;
  intermediateNotAfter: number;
  /** the stored CRL's nextUpdate and its lifetime; null before the first CRL */
  crl: { nextUpdate: number; lifetimeMs: number } | null;
}

/**
 * The conditions that hold at `now`:
 * - a host's certificate is in the last fifth of its lifetime: it has not renewed (the agent
 *   renews at two thirds, so by then a renewal has failed for days);
 * - a host drifts (serves other than the newest certificate for its names);
 * - a host has not reported for 3 days;
 * - the root or the intermediate expires within 30 days;
 * - the CRL is within a quarter of its lifetime of its nextUpdate. It lives a day and is remade
 *   at half its life, so "within 30 days" would always hold; a quarter left means the remaking
 *   has failed for hours, and relying parties will soon refuse every certificate.
 */
export function alertConditions(
  hostsWithNewest: readonly { record: HostRecord; newestSha256: string | null }[],
  ca: CaTimes,
  now: number,
): AlertCondition[] {
  const out: AlertCondition[] = [];
  for (const { record: r, newestSha256 } of hostsWithNewest) {
    const id = `${r.name}@${r.host}`;
    const base = { name: r.name, host: r.host, lastSeen: new Date(r.lastSeen).toISOString() };
    const lastFifth = r.notAfter - (r.notAfter - r.notBefore) / 5;
    if (now >= lastFifth) {
      out.push({
        key: `host-expiring:${id}`,
        kind: "host-expiring",
        summary: `${id}: its certificate ${r.serial} expires at ${iso(r.notAfter)} and has not been renewed`,
        details: { ...base, serial: r.serial, notAfter: iso(r.notAfter), error: r.error },
      });
    }
    if (isDrift(r.servedSha256, newestSha256)) {
      out.push({
        key: `host-drift:${id}`,
        kind: "host-drift",
        summary: `${id} serves ${r.servedSha256}, not the newest certificate for its names (${newestSha256})`,
        details: { ...base, servedSha256: r.servedSha256, newestSha256 },
      });
    }
    if (now - r.lastSeen >= SILENT_AFTER_MS) {
      out.push({
        key: `host-silent:${id}`,
        kind: "host-silent",
        summary: `${id} has not reported since ${iso(r.lastSeen)}`,
        details: base,
      });
    }
  }
  for (const [which, notAfter] of [
    ["root", ca.rootNotAfter],
    ["intermediate", ca.intermediateNotAfter],
  ] as const) {
    if (notAfter - now <= CA_EXPIRY_WARNING_MS) {
      out.push({
        key: `ca-expiring:${which}`,
        kind: "ca-expiring",
        summary: `the ${which} CA certificate expires at ${iso(notAfter)}: certyard-ca rotate ${which}`,
        details: { ca: which, notAfter: iso(notAfter) },
      });
    }
  }
  if (ca.crl && ca.crl.nextUpdate - now <= ca.crl.lifetimeMs / 4) {
    out.push({
      key: "crl-stale",
      kind: "crl-stale",
      summary: `the CRL's nextUpdate is ${iso(ca.crl.nextUpdate)} and no newer CRL has been made`,
      details: { nextUpdate: iso(ca.crl.nextUpdate) },
    });
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString();
