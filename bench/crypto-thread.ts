/**
 * BENCH_ONLY=crypto-thread (issue 16): one serve as it is (CSR verify and signing on libuv's
 * threadpool) against one serve --crypto-thread (both in a worker thread of their own), in
 * pairs whose order turns (A B, B A, ...), each layout on a data directory of its own and started
 * afresh for every turn. Per turn: PSS idle after start and one issuance, POST /v1/sign under load (req/s, p99,
 * server CPU per request, and that CPU by kind of thread: the event loop, libuv's threadpool,
 * the crypto thread, V8's helpers), PSS after the load. Each pair's ratios (thread / pool) and
 * their medians: a pair's two loads run within seconds of each other.
 * BENCH_BASE=DIR (another checkout, built) puts that build's serve, as it is, in the threadpool's
 * place: two builds of the sign path in the same pairs; BENCH_BASE_NODE=PATH runs it on another node
 * (a copy of the build whose native modules were rebuilt for it), the load client staying on this one.
 */
import { mkdir } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  createToken,
  issueOnce,
  serveMemory,
  startCa,
  type ThreadCpu,
  threadCpuSeconds,
  treeCpuSeconds,
} from "./ca-process.js";
import { type LoadFigures, load } from "./load.js";
import { type Cleanup, freePort, heading, line, makeCsr, median, round } from "./util.js";

interface Settings {
  load: number;
  warmup: number;
  settle: number;
  rounds: number;
}

type Layout = "pool" | "thread";
const BASE = process.env.BENCH_BASE ? resolve(process.env.BENCH_BASE, "dist/services/ca/main.js") : null;
/** the node binary for BENCH_BASE's serve (its native modules built for it); this bench's own by default */
const BASE_NODE = process.env.BENCH_BASE_NODE ?? process.execPath;
const FLAGS: Record<Layout, string[]> = { pool: BASE ? [] : ["--no-crypto-thread"], thread: [] };
const NAMES: Record<Layout, string> = BASE
  ? { pool: "base build   ", thread: "this build   " }
  : { pool: "threadpool   ", thread: "crypto thread" };

interface Turn {
  sign: LoadFigures;
  /** µs per 2xx response, by kind of thread */
  threads: ThreadCpu;
  idleMiB: number;
  afterMiB: number;
  loadavg: number;
}

export async function cryptoThreadBench(
  cleanup: Cleanup,
  root: string,
  s: Settings,
): Promise<Record<string, Record<string, number | string | null>>> {
  const csr = await makeCsr(root);
  const body = JSON.stringify({ csr: csr.pem });
  const turns: Record<Layout, Turn[]> = { pool: [], thread: [] };
  const tokens = new Map<Layout, string>();
  heading(
    BASE
      ? `serve of ${BASE} against this build's, ${s.rounds} pairs of ${s.load} s sign loads`
      : `serve against serve --crypto-thread, ${s.rounds} pairs of ${s.load} s sign loads`,
  );
  for (let r = 0; r < s.rounds; r++) {
    const order: Layout[] = r % 2 === 0 ? ["pool", "thread"] : ["thread", "pool"];
    for (const layout of order) {
      const t = await turn(cleanup, join(root, layout), layout, body, tokens, s);
      turns[layout].push(t);
      const f = t.sign;
      line(
        `pair ${r + 1}, ${NAMES[layout]}`,
        `${round(f.reqPerSec, 0)} req/s, p99 ${round(f.p99Ms, 0)} ms, ${round(f.serverCpuMicrosPerReq ?? 0, 0)} µs CPU/req ` +
          `(event loop ${round(t.threads.main, 0)}, libuv ${round(t.threads.libuv, 0)}, thread ${round(t.threads.thread, 0)}, ` +
          `V8 ${round(t.threads.v8, 0)}), PSS ${round(t.idleMiB, 1)} -> ${round(t.afterMiB, 1)} MiB, load ${round(t.loadavg, 1)}` +
          (f.non2xx + f.errors ? `, ${f.non2xx + f.errors} failed` : ""),
      );
    }
  }
  const of = (l: Layout, f: (t: Turn) => number) => median(turns[l].map(f));
  const pairs = (f: (t: Turn) => number) =>
    turns.thread.map((t, i) => {
      const p = turns.pool[i];
      return p ? f(t) / f(p) : Number.NaN;
    });
  const measures: Record<string, (t: Turn) => number> = {
    reqPerSec: (t) => t.sign.reqPerSec,
    p99Ms: (t) => t.sign.p99Ms,
    serverCpuMicrosPerReq: (t) => t.sign.serverCpuMicrosPerReq ?? Number.NaN,
    eventLoopMicrosPerReq: (t) => t.threads.main,
    pssIdleMiB: (t) => t.idleMiB,
    pssAfterLoadMiB: (t) => t.afterMiB,
  };
  heading(`medians of ${s.rounds} pairs (load average ${range(turns)})`);
  const out: Record<string, Record<string, number | string | null>> = { pool: {}, thread: {}, ratio: {} };
  for (const [name, f] of Object.entries(measures)) {
    const ratios = pairs(f);
    line(
      `${name}: ${NAMES.pool.trim()} | ${NAMES.thread} | each pair's ratio (median)`,
      `${round(of("pool", f), 1)} | ${round(of("thread", f), 1)} | ${ratios.map((x) => round(x, 2)).join(", ")} (${round(median(ratios), 3)})`,
    );
    (out.pool as Record<string, number>)[name] = round(of("pool", f), 1);
    (out.thread as Record<string, number>)[name] = round(of("thread", f), 1);
    (out.ratio as Record<string, number>)[name] = round(median(ratios), 3);
  }
  for (const k of ["libuv", "thread", "v8"] as const) {
    line(
      `${k} µs per sign: ${NAMES.pool.trim()} | ${NAMES.thread}`,
      `${round(
        of("pool", (t) => t.threads[k]),
        0,
      )} | ${round(
        of("thread", (t) => t.threads[k]),
        0,
      )}`,
    );
  }
  return out;
}

/** One serve of this layout on its own data directory: one issuance, idle memory, a sign load, memory after. */
async function turn(
  cleanup: Cleanup,
  data: string,
  layout: Layout,
  body: string,
  tokens: Map<Layout, string>,
  s: Settings,
): Promise<Turn> {
  await mkdir(data, { recursive: true });
  const base = layout === "pool" ? BASE : null;
  const ca = await startCa(
    data,
    await freePort(),
    undefined,
    FLAGS[layout],
    base ?? undefined,
    base ? BASE_NODE : undefined,
  );
  const release = cleanup.add("stop serve", () => ca.stop());
  try {
    let token = tokens.get(layout);
    if (token === undefined) {
      token = await createToken(data, "bench");
      tokens.set(layout, token);
    }
    const headers = { authorization: `Bearer ${token}` };
    const url = `${ca.baseUrl}/v1/sign`;
    // one certificate first: the crypto thread starts with the first issuance, which on a data
    // directory that already has its serving certificate is this one
    await issueOnce(url, {
      method: "POST",
      ca: ca.rootPem,
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    await delay(s.settle * 1000);
    const idle = await serveMemory(ca.pid);
    let before: ThreadCpu | null = null;
    const sign = await load(
      {
        url,
        body,
        headers,
        seconds: s.load,
        // read just before and after the measured run (load() calls it at both ends)
        serverCpu: async () => {
          before ??= await threadCpuSeconds(ca.pid);
          return treeCpuSeconds(ca.pid);
        },
      },
      s.warmup,
    );
    const after = await threadCpuSeconds(ca.pid);
    const start = before ?? after;
    const per = (k: keyof ThreadCpu) => ((after[k] - start[k]) * 1e6) / Math.max(1, sign.ok);
    const threads = { main: per("main"), libuv: per("libuv"), v8: per("v8"), thread: per("thread") };
    await delay(s.settle * 1000);
    const afterLoad = await serveMemory(ca.pid);
    return {
      sign,
      threads,
      idleMiB: idle.totalPssMiB ?? 0,
      afterMiB: afterLoad.totalPssMiB ?? 0,
      loadavg: loadavg()[0] ?? 0,
    };
  } finally {
    release();
    await ca.stop();
  }
}

function range(turns: Record<Layout, Turn[]>): string {
  const all = [...turns.pool, ...turns.thread].map((t) => t.loadavg);
  return `${round(Math.min(...all), 1)}-${round(Math.max(...all), 1)}`;
}
