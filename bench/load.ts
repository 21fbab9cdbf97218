/** HTTP load with autocannon's programmatic API: 50 keep-alive connections, fixed duration. */
import autocannon from "autocannon";

export const CONNECTIONS = 50;

export interface LoadSpec {
  url: string;
  body: string;
  headers?: Record<string, string>;
  seconds: number;
  /** a fixed number of requests instead of `seconds` (BENCH_ONLY=memory: the same work at any speed) */
  amount?: number;
  /** handed to tls.connect by autocannon: a client certificate and key for mutual TLS */
  tls?: { cert: string; key: string };
  /** CPU seconds the server has used so far (its whole process tree), for CPU per request */
  serverCpu?: () => Promise<number>;
}

export interface LoadFigures {
  /** 2xx responses per second of the run: failures do not count as throughput */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** CPU per 2xx response: less sensitive than req/s to whatever else runs on the machine */
  serverCpuMicrosPerReq: number | null;
  clientCpuMicrosPerReq: number;
}

/** A short unmeasured run first (JIT, TLS session set-up, SQLite cache), then the measured one. */
export async function load(spec: LoadSpec, warmupSeconds: number): Promise<LoadFigures> {
  if (warmupSeconds > 0) await cannon(spec, warmupSeconds);
  const serverBefore = await spec.serverCpu?.();
  const clientBefore = process.cpuUsage();
  const result = await cannon(spec, spec.seconds);
  const client = process.cpuUsage(clientBefore);
  const serverAfter = await spec.serverCpu?.();
  const perReq = (micros: number) => micros / Math.max(1, result["2xx"]);
  return {
    reqPerSec: result["2xx"] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
    serverCpuMicrosPerReq:
      serverBefore === undefined || serverAfter === undefined
        ? null
        : perReq((serverAfter - serverBefore) * 1e6),
    clientCpuMicrosPerReq: perReq(client.user + client.system),
  };
}

function cannon(spec: LoadSpec, seconds: number): Promise<autocannon.Result> {
  // autocannon's TLS client always sets rejectUnauthorized: false; every target is 127.0.0.1.
  return autocannon({
    url: spec.url,
    method: "POST",
    connections: CONNECTIONS,
    pipelining: 1,
    ...(spec.amount === undefined ? { duration: seconds } : { amount: spec.amount }),
    timeout: 10,
    body: spec.body,
    headers: { "content-type": "application/json", ...spec.headers },
    ...(spec.tls ? { tlsOptions: { cert: spec.tls.cert, key: spec.tls.key } } : {}),
  });
}
