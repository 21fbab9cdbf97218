/**
 * Part of BENCH_ONLY=metrics (issue 18): what the metrics and the audit trail cost, piece by
 * piece, measured where the machine's load moves the figures far less than it moves serve's
 * req/s, so that their sum can be read beside serve's on/off ratio. In process: counting one
 * request as every POST /v1/sign does (caMetrics' request and issued), and sealing one issuance's
 * audit event (its canonical text and hash). In serve: one GET /metrics, with the admin token on
 * a kept-alive connection as the metrics bench scrapes, with serve otherwise idle.
 */
import { readFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { type AuditEntry, GENESIS, sealEvent } from "../services/ca/core/audit.js";
import { caMetrics } from "../services/ca/metrics/registry.js";
import { startCa, treeCpuSeconds } from "./ca-process.js";
import { freePort, median } from "./util.js";

const COUNTED = 200_000;
const SEALED = 20_000;
const SCRAPES = 200;
const RUNS = 5;

export interface MetricsParts {
  /** CPU of counting one request in process (its status, its duration in the histogram, the issuance), µs */
  countingMicros: number;
  /** CPU of sealing one issuance's audit event in process, µs */
  sealMicros: number;
  /** serve's CPU per GET /metrics, µs */
  scrapeMicros: number;
}

/** The median of RUNS runs of each in-process piece, then SCRAPES scrapes of serve on `data`. */
export async function metricsParts(data: string): Promise<MetricsParts> {
  return {
    countingMicros: median(Array.from({ length: RUNS }, counting)),
    sealMicros: median(Array.from({ length: RUNS }, sealing)),
    scrapeMicros: await scraping(data),
  };
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function counting(): number {
  const metrics = caMetrics({
    certificateCounts: async () => ({
      states: { valid: 0, superseded: 0, expired: 0, revoked: 0 },
      expiring: { "7d": 0, "30d": 0 },
    }),
    caExpiry: () => ({ root: 0, intermediate: 0 }),
    crlNextUpdate: async () => null,
  });
  const started = cpuMicros();
  // durations across the histogram's buckets, as under load
  for (let i = 0; i < COUNTED; i++) {
    metrics.request("/v1/sign", 201, 0.004 + (i % 16) * 0.008);
    metrics.issued("sign");
  }
  return (cpuMicros() - started) / COUNTED;
}

function sealing(): number {
  const now = Date.now();
  // the event Authority.issue writes for the bench's sign
  const event: AuditEntry = {
    at: now,
    type: "certificate.issued",
    actor: { kind: "token", id: "bench" },
    subject: "5f1c0e2a9b7d4c3e8a6f1b2d3c4e5f60",
    details: {
      method: "sign",
      names: ["registry.lan", "10.0.0.5"],
      notAfter: new Date(now + 90 * 86_400_000).toISOString(),
    },
  };
  let head = GENESIS;
  const started = cpuMicros();
  for (let i = 0; i < SEALED; i++) head = sealEvent(head, event).hash;
  return (cpuMicros() - started) / SEALED;
}

/**
 * serve with the metrics on, on `data`; SCRAPES scrapes one after the other, 10 ms apart (the
 * gauges' counts are read at most every 5 s, so most answers come from that cache, as most of a
 * scrape a second do); serve's CPU (its whole tree, read from /proc) over them, per scrape.
 */
async function scraping(data: string): Promise<number> {
  const ca = await startCa(data, await freePort());
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.rootPem });
  try {
    const admin = (await readFile(join(data, "admin-token"), "utf8")).trim();
    const once = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          `${ca.baseUrl}/metrics`,
          { agent, headers: { authorization: `Bearer ${admin}` } },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`GET /metrics: ${res.statusCode}`)),
            );
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end();
      });
    // the connection, the admin token's first check, the JIT
    for (let i = 0; i < 20; i++) await once();
    const before = await treeCpuSeconds(ca.pid);
    for (let i = 0; i < SCRAPES; i++) {
      await once();
      await new Promise((r) => setTimeout(r, 10));
    }
    return (((await treeCpuSeconds(ca.pid)) - before) * 1e6) / SCRAPES;
  } finally {
    agent.destroy();
    await ca.stop();
  }
}
