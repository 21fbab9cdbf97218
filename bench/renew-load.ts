/**
 * POST /v1/renew under load. A certificate renews once (issue 14: its successor renews next), and
 * the credential is the TLS client certificate, fixed for a connection's life, so a keep-alive
 * load with one certificate (autocannon's) gets 403 from its second request on. Here each of
 * CONNECTIONS loops renews a chain instead, as agents do: a new TLS connection presenting the
 * certificate the previous renewal returned (same key, body `{}`). Every request therefore pays a
 * full handshake with a client certificate, on both sides of this machine's cores.
 */
import { request } from "node:https";
import { leafPem } from "../services/agent/issuers/ca-client.js";
import { CONNECTIONS, type LoadFigures } from "./load.js";

export interface RenewSpec {
  url: string;
  /** the root the server's certificate is checked against, when checkServer */
  ca: string;
  checkServer?: boolean;
  /** the key of every certificate in the chains (renew keeps the key) */
  key: string;
  /** CONNECTIONS full chains (leaf + intermediates) to start from, one per loop */
  fullchains: string[];
  /**
   * What each handshake presents: the leaf alone, as the agent does (the default), or the whole
   * chain, as a client that sends its certificate file as it is (and the agent before issue 16's
   * session 13) does
   */
  present?: "leaf" | "fullchain";
  seconds: number;
  /** a fixed number of renewals in all instead of `seconds` */
  amount?: number;
  serverCpu?: () => Promise<number>;
}

interface Outcome {
  status: number;
  fullchain: string | null;
}

const REQUEST_TIMEOUT_MS = 10_000;

function renewOnce(url: string, ca: string | null, key: string, cert: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        // as autocannon does for the sign loads: the load client spends its CPU on the
        // handshake the server must answer, not on checking the server's chain each time
        // (renewChains checked it once with the root before the load)
        ...(ca === null ? { rejectUnauthorized: false } : { ca }),
        cert,
        key,
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { "content-type": "application/json", "content-length": "2" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status !== 201) return resolve({ status, fullchain: null });
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          const next =
            typeof parsed === "object" && parsed !== null && "fullchain" in parsed ? parsed.fullchain : null;
          resolve({ status, fullchain: typeof next === "string" ? next : null });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end("{}");
  });
}

/** Runs the chains for `seconds`; returns the chains' next certificates for a following run. */
async function runChains(spec: RenewSpec, seconds: number, record: boolean, amount = Infinity) {
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let started = 0;
  const until = amount === Infinity ? performance.now() + seconds * 1000 : Infinity;
  const chains = [...spec.fullchains];
  const loop = async (slot: number) => {
    while (performance.now() < until && started++ < amount) {
      const current = chains[slot];
      if (current === undefined) return;
      const start = performance.now();
      try {
        const cert = spec.present === "fullchain" ? current : leafPem(current);
        const out = await renewOnce(spec.url, spec.checkServer ? spec.ca : null, spec.key, cert);
        if (out.fullchain === null) {
          non2xx++;
          return; // a refused chain cannot go on
        }
        chains[slot] = out.fullchain;
        if (record) latencies.push(performance.now() - start);
      } catch {
        errors++;
        return;
      }
    }
  };
  const begun = performance.now();
  await Promise.all(chains.map((_, slot) => loop(slot)));
  return { latencies, non2xx, errors, elapsed: (performance.now() - begun) / 1000, chains };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** An unmeasured warm-up on the same chains, then the measured run; the chains move on. */
export async function renewLoad(spec: RenewSpec, warmupSeconds: number): Promise<LoadFigures> {
  if (spec.fullchains.length !== CONNECTIONS) throw new RangeError(`renewLoad takes ${CONNECTIONS} chains`);
  let chains = spec.fullchains;
  if (warmupSeconds > 0) chains = (await runChains(spec, warmupSeconds, false)).chains;
  const serverBefore = await spec.serverCpu?.();
  const clientBefore = process.cpuUsage();
  const run = await runChains({ ...spec, fullchains: chains }, spec.seconds, true, spec.amount);
  const client = process.cpuUsage(clientBefore);
  const serverAfter = await spec.serverCpu?.();
  spec.fullchains.splice(0, spec.fullchains.length, ...run.chains);
  const ok = run.latencies.length;
  const sorted = run.latencies.sort((a, b) => a - b);
  const perReq = (micros: number) => micros / Math.max(1, ok);
  return {
    reqPerSec: ok / run.elapsed,
    p50Ms: Math.round(percentile(sorted, 50)),
    p99Ms: Math.round(percentile(sorted, 99)),
    ok,
    non2xx: run.non2xx,
    errors: run.errors,
    timeouts: 0,
    seconds: run.elapsed,
    serverCpuMicrosPerReq:
      serverBefore === undefined || serverAfter === undefined
        ? null
        : perReq((serverAfter - serverBefore) * 1e6),
    clientCpuMicrosPerReq: perReq(client.user + client.system),
  };
}
