/**
 * BENCH_ONLY=metrics: POST /v1/sign req/s with the metrics and the audit trail on (counted, GET
 * /metrics scraped once a second with the admin token on a kept-alive connection, as a Prometheus
 * would, and each issuance's audit event written in its group commit) against both off (serve
 * --no-metrics --without-audit: nothing counted, no scrape, no event), in alternating rounds on
 * the same data directory, so both see the same machine. Target (issue 18): on within 5% of off.
 */
import { readFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { type CaProcess, createToken, issueOnce, startCa, treeCpuSeconds } from "./ca-process.js";
import { type LoadFigures, load } from "./load.js";
import { type Cleanup, freePort, heading, line, median, round } from "./util.js";

export interface MetricsBenchSettings {
  seconds: number;
  warmup: number;
  rounds: number;
}

/** off: serve --no-metrics --without-audit; metrics: --without-audit (scraped); on: both (scraped) */
type Mode = "off" | "metrics" | "on";
const MODES: readonly Mode[] = ["off", "metrics", "on"];
const FLAGS: Record<Mode, string[]> = {
  off: ["--no-metrics", "--without-audit"],
  metrics: ["--without-audit"],
  on: [],
};
const LABEL: Record<Mode, string> = {
  off: "both off    ",
  metrics: "metrics only",
  on: "both on     ",
};

export interface MetricsBench {
  on: LoadFigures[];
  off: LoadFigures[];
  /** the metrics on (scraped) and the audit trail off: what each adds on its own */
  metricsOnly: LoadFigures[];
  /** median req/s with the metrics and the audit trail on over the median with both off */
  ratio: number;
  onMedian: number;
  offMedian: number;
  metricsOnlyMedian: number;
  /** median server CPU per request both off, µs */
  offCpuMedian: number;
  /** median server CPU per request, on over off */
  cpuRatio: number;
  /**
   * the median of each round's CPU per request both on over both off: a round's two loads run
   * within seconds of each other, so this follows the machine's slower swings less than the
   * medians' ratio does
   */
  pairedCpuRatio: number;
  /** the audit trail's share: req/s and CPU per request of both on over the metrics only */
  auditRatio: number;
  auditCpuRatio: number;
  scrapes: number;
  scrapeFailures: number;
}

export async function metricsBench(
  cleanup: Cleanup,
  data: string,
  csrPem: string,
  s: MetricsBenchSettings,
): Promise<MetricsBench> {
  const body = JSON.stringify({ csr: csrPem });
  let auth: Record<string, string> | null = null;
  const figures: Record<Mode, LoadFigures[]> = { off: [], metrics: [], on: [] };
  let scrapes = 0;
  let scrapeFailures = 0;
  const paired: number[] = [];
  const run = async (mode: Mode): Promise<LoadFigures> => {
    const ca = await startCa(data, await freePort(), undefined, FLAGS[mode]);
    const release = cleanup.add("stop serve", () => ca.stop());
    try {
      auth ??= { authorization: `Bearer ${await createToken(data, "bench")}` };
      const admin = (await readFile(join(data, "admin-token"), "utf8")).trim();
      const url = `${ca.baseUrl}/v1/sign`;
      await issueOnce(url, {
        method: "POST",
        ca: ca.rootPem,
        headers: { "content-type": "application/json", ...auth },
        body,
      });
      const scraper = mode === "off" ? null : scrape(ca, admin);
      try {
        return await load(
          { url, body, headers: auth, seconds: s.seconds, serverCpu: () => treeCpuSeconds(ca.pid) },
          s.warmup,
        );
      } finally {
        const done = scraper?.stop();
        scrapes += done?.ok ?? 0;
        scrapeFailures += done?.failed ?? 0;
      }
    } finally {
      release();
      await ca.stop();
    }
  };
  for (let i = 0; i < s.rounds; i++) {
    // the order turns every round, so none always runs on a warmer or cooler machine
    for (let k = 0; k < MODES.length; k++) {
      const mode = MODES[(i + k) % MODES.length] as Mode;
      const f = await run(mode);
      figures[mode].push(f);
      line(
        `round ${i + 1}, ${LABEL[mode]}: req/s (p99 ms, server CPU µs/req)`,
        `${round(f.reqPerSec)} (${round(f.p99Ms)}, ${round(f.serverCpuMicrosPerReq ?? Number.NaN)})`,
      );
    }
    const cpuOf = (m: Mode) => figures[m][i]?.serverCpuMicrosPerReq ?? Number.NaN;
    paired.push(cpuOf("on") / cpuOf("off"));
  }
  const rps = (m: Mode) => median(figures[m].map((f) => f.reqPerSec));
  // CPU per request moves less with whatever else runs on the machine than req/s does
  const cpu = (m: Mode) => median(figures[m].map((f) => f.serverCpuMicrosPerReq ?? Number.NaN));
  heading("POST /v1/sign, metrics and audit trail on / off");
  line("median req/s, both off", round(rps("off")));
  line("median req/s, metrics only (scraped every second)", round(rps("metrics")));
  line("median req/s, both on (and an audit event per issuance)", round(rps("on")));
  line("both on / both off (target >= 0.95)", round(rps("on") / rps("off"), 3), "x");
  line("metrics only / both off", round(rps("metrics") / rps("off"), 3), "x");
  line("both on / metrics only (the audit trail's share)", round(rps("on") / rps("metrics"), 3), "x");
  for (const m of MODES) line(`server CPU per request, ${LABEL[m].trim()}`, round(cpu(m)), "µs");
  line("CPU both on / both off", round(cpu("on") / cpu("off"), 3), "x");
  line(
    "CPU both on / both off, each round's (median)",
    `${paired.map((r) => round(r, 3)).join(", ")} (${round(median(paired), 3)})`,
    "x",
  );
  line("CPU both on / metrics only (the audit trail's share)", round(cpu("on") / cpu("metrics"), 3), "x");
  line("scrapes answered (failed)", `${scrapes} (${scrapeFailures})`);
  return {
    on: figures.on,
    off: figures.off,
    metricsOnly: figures.metrics,
    ratio: rps("on") / rps("off"),
    onMedian: rps("on"),
    offMedian: rps("off"),
    metricsOnlyMedian: rps("metrics"),
    offCpuMedian: cpu("off"),
    cpuRatio: cpu("on") / cpu("off"),
    pairedCpuRatio: median(paired),
    auditRatio: rps("on") / rps("metrics"),
    auditCpuRatio: cpu("on") / cpu("metrics"),
    scrapes,
    scrapeFailures,
  };
}

/**
 * GET /metrics once a second until stopped, on one kept-alive connection as Prometheus scrapes
 * (a new TLS handshake each second would be the bench's own cost); counts what answered 200.
 */
function scrape(ca: CaProcess, adminToken: string) {
  let ok = 0;
  let failed = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.rootPem });
  const once = () =>
    new Promise<boolean>((resolve) => {
      const req = request(
        `${ca.baseUrl}/metrics`,
        { agent, headers: { authorization: `Bearer ${adminToken}` }, timeout: 10_000 },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            body += d;
          });
          res.on("end", () =>
            resolve(res.statusCode === 200 && body.includes("certyard_certificates_issued_total")),
          );
          res.on("error", () => resolve(false));
        },
      );
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
      req.end();
    });
  const timer = setInterval(() => {
    void once().then((answered) => {
      if (answered) ok++;
      else failed++;
    });
  }, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      agent.destroy();
      return { ok, failed };
    },
  };
}
