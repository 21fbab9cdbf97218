import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { InventoryState } from "../core/inventory.js";

/**
 * The CA's Prometheus metrics (prom-client: the client the Node ecosystem keeps, with cluster
 * aggregation built in). Counters are counted in each serving process as things happen; the
 * gauges are read from the database and the CA's files when scraped, at most every
 * GAUGE_CACHE_MS or 20 times as long as the last reading took (the counts run on the event loop:
 * at most a twentieth of its time), so a scrape every second does not recount a million rows
 * every second. Every
 * label set is bounded: the routes are the route patterns, never the raw path, and no series is
 * per certificate.
 */

export type IssueMethod = "sign" | "renew" | "acme";
export const ISSUE_METHODS: readonly IssueMethod[] = ["sign", "renew", "acme"];

/** What a scrape reads: counts from the inventory's indexes and the CA's own certificates. */
export interface GaugeSource {
  certificateCounts(now: number): Promise<CertificateCounts>;
  /** the current root's and intermediate's notAfter, ms */
  caExpiry(): { root: number; intermediate: number };
  /** the stored CRL's nextUpdate, ms; null before the first CRL */
  crlNextUpdate(): Promise<number | null>;
  /** each host's report (fleet view), when the hosts store exists */
  hosts?(): Promise<HostGauge[]>;
}

export interface CertificateCounts {
  states: Record<InventoryState, number>;
  /** valid (unrevoked, not superseded) certificates whose notAfter is within each window */
  expiring: Record<ExpiringWindow, number>;
}

export type ExpiringWindow = "7d" | "30d";
export const EXPIRING_WINDOWS: Record<ExpiringWindow, number> = {
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

export interface HostGauge {
  host: string;
  name: string;
  /** the served certificate's notAfter, ms; null when unknown */
  notAfter: number | null;
  drift: boolean;
}

export const GAUGE_CACHE_MS = 5_000;

/**
 * How the cluster primary adds up the workers' series (AggregatorRegistry): counters and
 * histograms sum; a gauge read from the shared database is the same in every worker, so it
 * takes the first.
 */
const SHARED = { aggregator: "first" } as const;

export interface CaMetrics {
  registry: Registry;
  issued(method: IssueMethod): void;
  request(route: string, code: number, seconds: number): void;
  authFailure(): void;
}

export function caMetrics(source: GaugeSource, clock: () => number = Date.now): CaMetrics {
  const registry = new Registry();
  const issued = new Counter({
    name: "certyard_certificates_issued_total",
    help: "Certificates issued, by how they were asked for",
    labelNames: ["method"] as const,
    registers: [registry],
  });
  // Zero from the start, so a rate over each method exists before its first issuance.
  for (const m of ISSUE_METHODS) issued.inc({ method: m }, 0);
  const requests = new Counter({
    name: "certyard_requests_total",
    help: "HTTP requests answered, by route pattern and status code",
    labelNames: ["route", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "certyard_request_duration_seconds",
    help: "HTTP request duration, by route pattern",
    labelNames: ["route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: "certyard_auth_failures_total",
    help: "Refused token authentications (a wrong, expired, revoked or used-up token)",
    registers: [registry],
  });

  let cached: { at: number; value: Promise<Snapshot> } | null = null;
  let keepMs = GAUGE_CACHE_MS;
  const snapshot = (): Promise<Snapshot> => {
    const now = clock();
    if (cached && now - cached.at < keepMs && now >= cached.at) return cached.value;
    const started = performance.now();
    const value = readSnapshot(source, now).then((s) => {
      keepMs = Math.max(GAUGE_CACHE_MS, 20 * (performance.now() - started));
      return s;
    });
    cached = { at: now, value };
    // a failed read is not kept: the next scrape tries again
    value.catch(() => {
      if (cached?.value === value) cached = null;
    });
    return value;
  };

  new Gauge({
    name: "certyard_certificates",
    help: "Certificates in the inventory, by state",
    labelNames: ["state"] as const,
    registers: [registry],
    ...SHARED,
    async collect() {
      const { counts } = await snapshot();
      for (const [state, n] of Object.entries(counts.states)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "certyard_certificates_expiring",
    help: "Valid certificates (not revoked, not superseded) expiring within the window",
    labelNames: ["within"] as const,
    registers: [registry],
    ...SHARED,
    async collect() {
      const { counts } = await snapshot();
      for (const [within, n] of Object.entries(counts.expiring)) this.set({ within }, n);
    },
  });
  new Gauge({
    name: "certyard_ca_certificate_expiry_timestamp_seconds",
    help: "When the CA's current root and intermediate expire, Unix seconds",
    labelNames: ["ca"] as const,
    registers: [registry],
    ...SHARED,
    collect() {
      const { root, intermediate } = source.caExpiry();
      this.set({ ca: "root" }, root / 1000);
      this.set({ ca: "intermediate" }, intermediate / 1000);
    },
  });
  new Gauge({
    name: "certyard_crl_next_update_timestamp_seconds",
    help: "The current CRL's nextUpdate, Unix seconds (absent before the first CRL)",
    registers: [registry],
    ...SHARED,
    async collect() {
      const { crlNextUpdate } = await snapshot();
      this.reset();
      if (crlNextUpdate !== null) this.set(crlNextUpdate / 1000);
    },
  });
  new Gauge({
    name: "certyard_host_certificate_expiry_timestamp_seconds",
    help: "When the certificate each reporting host serves expires, Unix seconds",
    labelNames: ["host", "name"] as const,
    registers: [registry],
    ...SHARED,
    async collect() {
      const { hosts } = await snapshot();
      this.reset();
      for (const h of hosts)
        if (h.notAfter !== null) this.set({ host: h.host, name: h.name }, h.notAfter / 1000);
    },
  });
  new Gauge({
    name: "certyard_host_drift",
    help: "1 when a host serves another certificate than the newest issued for it",
    labelNames: ["host", "name"] as const,
    registers: [registry],
    ...SHARED,
    async collect() {
      const { hosts } = await snapshot();
      this.reset();
      for (const h of hosts) this.set({ host: h.host, name: h.name }, h.drift ? 1 : 0);
    },
  });

  return {
    registry,
    issued: (method) => issued.inc({ method }),
    request: (route, code, seconds) => {
      requests.inc({ route, code: String(code) });
      duration.observe({ route }, seconds);
    },
    authFailure: () => authFailures.inc(),
  };
}

interface Snapshot {
  counts: CertificateCounts;
  crlNextUpdate: number | null;
  hosts: HostGauge[];
}

async function readSnapshot(source: GaugeSource, now: number): Promise<Snapshot> {
  const [counts, crlNextUpdate, hosts] = await Promise.all([
    source.certificateCounts(now),
    source.crlNextUpdate(),
    source.hosts ? source.hosts() : Promise.resolve([]),
  ]);
  return { counts, crlNextUpdate, hosts };
}
