import { loadavg } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import {
  type CaProcess,
  httpsRequest,
  issueOnce,
  ownChildNamed,
  type ServeMemory,
  serveMemory,
  startCa,
  treeCpuSeconds,
} from "./ca-process.js";
import { cfsslSignBody, startCfssl } from "./cfssl.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { renewLoad } from "./renew-load.js";
import { type BenchCsr, type Cleanup, envCount, envSeconds, freePort, round } from "./util.js";

export const TOKEN_NAME = "bench";

export function settings() {
  const load = envSeconds("BENCH_SECONDS", 10);
  return {
    load,
    raw: envSeconds("BENCH_SIGN_SECONDS", Math.min(2, load)),
    inProcess: envSeconds("BENCH_INPROC_SECONDS", Math.min(3, load)),
    warmup: envSeconds("BENCH_WARMUP_SECONDS", Math.min(3, load / 3)),
    settle: envSeconds("BENCH_SETTLE_SECONDS", Math.min(5, load / 2)),
    fillRows: envCount("BENCH_FILL_ROWS", 100_000),
    acmeAccounts: envCount("BENCH_ACME_ACCOUNTS", 20),
    rounds: envCount("BENCH_ROUNDS", 3),
    only: process.env.BENCH_ONLY ?? "",
  };
}
export type Settings = ReturnType<typeof settings>;

export const loadavg1 = (): number => round(loadavg()[0] ?? 0);

/** Starts serve on a fresh port, runs `fn`, and always stops it (clean-up also knows about it). */
export async function withCa<T>(
  cleanup: Cleanup,
  data: string,
  workers: number | undefined,
  fn: (ca: CaProcess) => Promise<T>,
): Promise<T> {
  const ca = await startCa(data, await freePort(), workers);
  const release = cleanup.add("stop serve", () => ca.stop());
  try {
    return await fn(ca);
  } finally {
    release();
    await ca.stop();
  }
}

export async function loadSign(
  ca: CaProcess,
  body: string,
  auth: Record<string, string>,
  s: Settings,
  amount?: number,
) {
  const url = `${ca.baseUrl}/v1/sign`;
  const headers = { "content-type": "application/json", ...auth };
  await issueOnce(url, { method: "POST", ca: ca.rootPem, headers, body });
  return load(
    { url, body, headers: auth, seconds: s.load, amount, serverCpu: () => treeCpuSeconds(ca.pid) },
    s.warmup,
  );
}

/** CONNECTIONS certificates from POST /v1/sign, one per renewal chain (renew-load.ts). */
export async function renewChains(
  ca: CaProcess,
  signBody: string,
  auth: Record<string, string>,
  csr: BenchCsr,
): Promise<string[]> {
  const headers = { "content-type": "application/json", ...auth };
  const url = `${ca.baseUrl}/v1/sign`;
  const issued = await Promise.all(
    Array.from({ length: CONNECTIONS }, () =>
      issueOnce(url, { method: "POST", ca: ca.rootPem, headers, body: signBody }),
    ),
  );
  // one renewal checked before the load, so a misconfigured renewal cannot pass for a fast one
  const first = issued[0];
  if (!first) throw new Error("no certificate to renew");
  const renewed = await issueOnce(`${ca.baseUrl}/v1/renew`, {
    method: "POST",
    ca: ca.rootPem,
    headers: { "content-type": "application/json" },
    body: "{}",
    cert: first.fullchain,
    key: csr.keyPem,
  });
  return [renewed.fullchain, ...issued.slice(1).map((i) => i.fullchain)];
}

/** The renewal chains under load; they move on, so the next round renews their successors. */
export function loadRenew(ca: CaProcess, chains: string[], csr: BenchCsr, s: Settings, amount?: number) {
  return renewLoad(
    {
      url: `${ca.baseUrl}/v1/renew`,
      ca: ca.rootPem,
      key: csr.keyPem,
      fullchains: chains,
      seconds: s.load,
      amount,
      serverCpu: () => treeCpuSeconds(ca.pid),
    },
    s.warmup,
  );
}

/** The target: back under this much PSS within RECOVERY_SECONDS of idling after the loads. */
export const RECOVERED_PSS_MIB = 120;
export const RECOVERY_SECONDS = 30;

/**
 * The serve tree's memory after the loads: measured once BENCH_SETTLE_SECONDS have passed, then
 * every second until its PSS is under RECOVERED_PSS_MIB or RECOVERY_SECONDS have passed.
 */
export async function memoryRecovery(pid: number, s: Settings) {
  const started = performance.now();
  await delay(s.settle * 1000);
  const settled = await serveMemory(pid);
  let last = settled;
  const elapsed = () => (performance.now() - started) / 1000;
  while ((last.totalPssMiB ?? Infinity) >= RECOVERED_PSS_MIB && elapsed() < RECOVERY_SECONDS) {
    await delay(1000);
    last = await serveMemory(pid);
  }
  const recovered = (last.totalPssMiB ?? Infinity) < RECOVERED_PSS_MIB;
  return { settled, last, secondsToRecover: recovered ? round(elapsed(), 1) : null };
}

/** cfssl serve, started once and kept running between its turns under load. */
export async function startCfsslTarget(cleanup: Cleanup, dir: string, csr: BenchCsr, s: Settings) {
  const cfssl = await startCfssl(dir, await freePort());
  const release = cleanup.add("stop cfssl", () => cfssl.stop());
  const body = cfsslSignBody(csr.pem);
  await checkCfsslSigns(cfssl.url, cfssl.caCertPem, body);
  const pid = await ownChildNamed("cfssl");
  const serverCpu = pid === null ? undefined : () => treeCpuSeconds(pid);
  return {
    load: () => load({ url: cfssl.url, body, seconds: s.load, serverCpu }, s.warmup),
    stop: async () => {
      release();
      await cfssl.stop();
    },
  };
}

/** The run whose req/s is the median (the lower middle one for an even count). */
export function medianRun(runs: LoadFigures[]): LoadFigures {
  const sorted = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  const run = sorted[Math.floor((sorted.length - 1) / 2)];
  if (!run) throw new Error("no runs");
  return run;
}

export function perProcessPss(m: ServeMemory): string {
  return [m.primary, ...m.workers].map((p) => round(p.pssMiB ?? 0, 1)).join(" + ");
}

/** One request before the load, so a misconfigured cfssl cannot pass for a fast one. */
async function checkCfsslSigns(url: string, ca: string, body: string): Promise<void> {
  const res = await httpsRequest(url, {
    method: "POST",
    ca,
    headers: { "content-type": "application/json" },
    body,
  });
  if (res.status !== 200 || !res.body.includes('"success":true')) {
    throw new Error(`cfssl sign answered ${res.status}: ${res.body.slice(0, 300)}`);
  }
}
