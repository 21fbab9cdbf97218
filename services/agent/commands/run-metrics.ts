import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

/**
 * `certyard-agent run --metrics-listen HOST:PORT`: GET /metrics in the Prometheus text format,
 * plain HTTP without authentication. Loaded only when the flag is given, and written by hand
 * (no client library): the daemon stays near a bare node's memory. Each managed certificate's
 * expiry and renewal time are read from its record when scraped (a `cert` run by hand shows up
 * at once); renewals and their failures are counted as the daemon runs them. One series per
 * managed certificate: an agent manages a handful.
 */

export interface DaemonMetrics {
  /** a renewal the daemon ran: whether it succeeded, and the failures in a row since the last success */
  renewal(name: string, ok: boolean, failuresInARow: number): void;
  /** the daily root check */
  rootCheck(ok: boolean): void;
  close(): Promise<void>;
  port: number;
}

interface Counts {
  ok: number;
  failed: number;
  inARow: number;
}

export async function daemonMetrics(certsDir: string, host: string, port: number): Promise<DaemonMetrics> {
  const renewals = new Map<string, Counts>();
  let rootFailures = 0;
  const exposition = () => {
    const records = readRecords(certsDir);
    const names = [...new Set([...records.map((r) => r.name), ...renewals.keys()])].sort();
    const out: string[] = [];
    /** One metric: its HELP and TYPE lines, then a sample per [name label or null, value]. */
    const metric = (metric: string, type: string, help: string, samples: [string | null, number][]) => {
      out.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} ${type}`);
      for (const [name, value] of samples)
        out.push(`${metric}${name === null ? "" : `{name="${escapeLabel(name)}"}`} ${value}`);
    };
    metric(
      "certyard_agent_certificate_expiry_timestamp_seconds",
      "gauge",
      "When each managed certificate expires, Unix seconds",
      records.flatMap((r) => (r.notAfter === null ? [] : [[r.name, r.notAfter / 1000] as [string, number]])),
    );
    metric(
      "certyard_agent_certificate_renewal_timestamp_seconds",
      "gauge",
      "When each managed certificate is next due for renewal, Unix seconds",
      records.map((r) => [r.name, r.renewAt / 1000]),
    );
    metric(
      "certyard_agent_renewals_total",
      "counter",
      "Renewals the daemon ran that succeeded, since it started",
      names.map((n) => [n, renewals.get(n)?.ok ?? 0]),
    );
    metric(
      "certyard_agent_renewal_failures_total",
      "counter",
      "Renewals the daemon ran that failed, since it started",
      names.map((n) => [n, renewals.get(n)?.failed ?? 0]),
    );
    metric(
      "certyard_agent_renewal_failures_in_a_row",
      "gauge",
      "Failed renewals since the last success (0: the last one succeeded, or none ran)",
      names.map((n) => [n, renewals.get(n)?.inARow ?? 0]),
    );
    metric(
      "certyard_agent_root_check_failures_total",
      "counter",
      "Daily root checks that failed, since the daemon started",
      [[null, rootFailures]],
    );
    return `${out.join("\n")}\n`;
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const problem = (status: number, title: string, detail: string) => {
      res.writeHead(status, { "content-type": "application/problem+json" });
      res.end(JSON.stringify({ type: "about:blank", title, status, detail }));
    };
    if (path !== "/metrics") return problem(404, "Not Found", "only GET /metrics is served here");
    if (req.method !== "GET" && req.method !== "HEAD")
      return problem(405, "Method Not Allowed", "GET /metrics");
    let text: string;
    try {
      text = exposition();
    } catch (err) {
      return problem(503, "Service Unavailable", `the records could not be read: ${(err as Error).message}`);
    }
    res.writeHead(200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    });
    res.end(req.method === "HEAD" ? undefined : text);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    renewal(name, ok, inARow) {
      const c = renewals.get(name) ?? { ok: 0, failed: 0, inARow: 0 };
      if (ok) c.ok++;
      else c.failed++;
      c.inARow = inARow;
      renewals.set(name, c);
    },
    rootCheck(ok) {
      if (!ok) rootFailures++;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Label values escape backslash, double quote and newline (the text format, 0.0.4). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

interface RecordTimes {
  name: string;
  renewAt: number;
  notAfter: number | null;
}

/** Each record's name, renewal time and expiry, as plain JSON (no schema: see run.ts). */
function readRecords(dir: string): RecordTimes[] {
  if (!existsSync(dir)) return [];
  const out: RecordTimes[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    let record: unknown;
    try {
      record = JSON.parse(readFileSync(join(dir, file), "utf8"));
    } catch {
      continue; // the daemon's loop logs an unreadable record
    }
    if (typeof record !== "object" || record === null) continue;
    const { name, renewAt, notAfter } = record as Record<string, unknown>;
    const at = typeof renewAt === "string" ? Date.parse(renewAt) : Number.NaN;
    if (typeof name !== "string" || name === "" || !Number.isFinite(at)) continue;
    const end = typeof notAfter === "string" ? Date.parse(notAfter) : Number.NaN;
    out.push({ name, renewAt: at, notAfter: Number.isFinite(end) ? end : null });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
