/**
 * BENCH_ONLY=profile: where a request's time goes. `serve` runs with V8's CPU profiler
 * (`--cpu-prof`) under the sign load, then a fresh one under the renew load; for each, the
 * server's CPU per request split by thread (from /proc/PID/task: the event loop, libuv's
 * threadpool, V8's helper threads) and the event loop's samples grouped by where their time
 * was spent (our code, hono, zod, pino, node's HTTP, TLS and crypto layers, SQLite, GC, native
 * work outside JavaScript). The .cpuprofile files are kept in BENCH_PROFILE_DIR when it is set.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CaProcess, createToken, issueOnce, startCa, treeCpuSeconds } from "./ca-process.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { renewLoad } from "./renew-load.js";
import { type BenchCsr, type Cleanup, freePort, heading, line, makeCsr, round } from "./util.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  /** µs on the monotonic clock that process.hrtime reads too */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Per-thread CPU seconds of one process, by thread name (threads of a name summed). */
async function threadCpu(pid: number): Promise<Map<string, number>> {
  const ticks = 100; // USER_HZ on Linux
  const out = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const name =
        tid === String(pid) ? "event loop (main thread)" : stat.slice(stat.indexOf("(") + 1, close);
      const f = stat.slice(close + 2).split(" ");
      const secs = (Number(f[11]) + Number(f[12])) / ticks;
      out.set(name, (out.get(name) ?? 0) + secs);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export function category(frame: { functionName: string; url: string }): string {
  const { functionName: fn, url } = frame;
  if (fn === "(garbage collector)") return "GC (on the event loop)";
  if (fn === "(program)") return "native, outside JS (TLS records, OpenSSL, libuv)";
  if (fn === "(idle)") return "(idle)";
  if (
    url.includes("better-sqlite3") ||
    (url === "" && /^(run|get|all|iterate|prepare|exec|transaction)$/.test(fn))
  )
    return "SQLite (better-sqlite3)";
  if (url.includes("/node_modules/hono") || url.includes("@hono")) return "hono";
  if (url.includes("/node_modules/zod")) return "zod";
  if (url.includes("/node_modules/pino") || url.includes("sonic-boom")) return "pino";
  if (url.includes("/node_modules/drizzle")) return "drizzle";
  if (url.includes("/node_modules/"))
    return `other dependency (${url.split("/node_modules/")[1]?.split("/")[0]})`;
  if (url.includes("/dist/services/") || url.includes("/dist/shared/")) return "certyard JS";
  if (/node:(_http|http)/.test(url)) return "node HTTP";
  if (/node:(_tls|tls|internal\/tls)/.test(url)) return "node TLS (JS)";
  if (/node:(net|internal\/stream_base|internal\/net|stream|internal\/streams)/.test(url))
    return "node net/streams";
  if (/node:(crypto|internal\/crypto)/.test(url)) return "node crypto (JS side)";
  if (url.startsWith("node:")) return "node other";
  if (url === "") return `native function (${fn})`;
  return "other";
}

/** The samples taken within [from, to] (µs, monotonic): the measured load, not start-up. */
function within(p: CpuProfile, from: number, to: number): CpuProfile {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    const delta = p.timeDeltas[i] ?? 0;
    t += delta;
    if (t >= from && t <= to) {
      samples.push(id);
      timeDeltas.push(delta);
    }
  });
  return { ...p, samples, timeDeltas };
}

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** Self time of the profile's samples, by category, in µs. */
function selfTimes(p: CpuProfile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const c = category(node.callFrame);
    out.set(c, (out.get(c) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return out;
}

/** Self time of our own functions, the heaviest first. */
function ourFunctions(p: CpuProfile, top: number): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url } = node.callFrame;
    if (functionName.startsWith("(") && functionName !== "(anonymous)") return;
    const where = url.replace(/^.*\/(dist|node_modules)\//, "$1/").replace(/^node:/, "node:");
    const k = `${functionName || "(anonymous)"} ${where}`;
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return [...out.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
}

interface Profiled {
  figures: LoadFigures;
  threadsMicrosPerReq: Record<string, number>;
  categoriesMicrosPerReq: Record<string, number>;
  /** our and node's functions by self time, % of the event loop's busy samples */
  heaviest: [string, number][];
}

async function profiled(
  cleanup: Cleanup,
  dir: string,
  data: string,
  /** runs the load, calling `start` once the warm-up is over */
  run: (
    ca: CaProcess,
    start: () => Promise<{ from: number }>,
  ) => Promise<{ figures: LoadFigures; from: number }>,
  before?: (ca: CaProcess) => Promise<void>,
): Promise<Profiled> {
  const profDir = join(dir, "prof");
  await mkdir(profDir, { recursive: true });
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ""} --cpu-prof --cpu-prof-dir=${profDir}`.trim();
  let ca: CaProcess;
  try {
    ca = await startCa(data, await freePort());
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  const release = cleanup.add("stop serve", () => ca.stop());
  let figures: LoadFigures;
  let threads: Map<string, number>;
  let threadsBefore = new Map<string, number>();
  let window = { from: 0, to: 0 };
  try {
    await before?.(ca);
    const measured = await run(ca, async () => {
      threadsBefore = await threadCpu(ca.pid);
      return { from: nowMicros() };
    });
    threads = await threadCpu(ca.pid);
    figures = measured.figures;
    window = { from: measured.from, to: nowMicros() };
  } finally {
    release();
    await ca.stop();
  }
  const files = (await readdir(profDir)).filter((f) => f.endsWith(".cpuprofile"));
  // the process that served is the one with the most samples (a restart in place leaves a short one)
  let best: CpuProfile | null = null;
  let bestFile = "";
  for (const f of files) {
    const p = JSON.parse(await readFile(join(profDir, f), "utf8")) as CpuProfile;
    if (!best || p.samples.length > best.samples.length) {
      best = p;
      bestFile = f;
    }
  }
  if (!best) throw new Error("serve wrote no CPU profile");
  best = within(best, window.from, window.to);
  if (process.env.BENCH_PROFILE_DIR) {
    await mkdir(process.env.BENCH_PROFILE_DIR, { recursive: true });
    await copyFile(
      join(profDir, bestFile),
      join(process.env.BENCH_PROFILE_DIR, `${dir.split("/").pop()}.cpuprofile`),
    );
  }
  const ok = Math.max(1, figures.ok);
  const threadsMicrosPerReq: Record<string, number> = {};
  for (const [name, secs] of threads) {
    const d = secs - (threadsBefore.get(name) ?? 0);
    if (d > 0) threadsMicrosPerReq[name] = round((d * 1e6) / ok, 0);
  }
  // Only the measured load's samples (start-up, the warm-up and stopping are left out).
  const self = selfTimes(best);
  const busy = [...self.entries()].filter(([c]) => c !== "(idle)");
  const busyTotal = busy.reduce((a, [, v]) => a + v, 0);
  // scale the samples to the event loop's measured CPU during the load
  const loopMicros = (threadsMicrosPerReq["event loop (main thread)"] ?? 0) * ok;
  const scale = busyTotal > 0 ? loopMicros / busyTotal : 0;
  const categoriesMicrosPerReq: Record<string, number> = {};
  let rest = 0;
  for (const [c, v] of busy.sort((a, b) => b[1] - a[1])) {
    const micros = (v * scale) / ok;
    if (micros >= 5) categoriesMicrosPerReq[c] = round(micros, 0);
    else rest += micros;
  }
  categoriesMicrosPerReq["the rest (each under 5 µs)"] = round(rest, 0);
  const heaviest = ourFunctions(best, 25).map(([k, v]): [string, number] => [k, (100 * v) / busyTotal]);
  return { figures, threadsMicrosPerReq, categoriesMicrosPerReq, heaviest };
}

function print(title: string, p: Profiled): void {
  heading(title);
  line("req/s (2xx)", round(p.figures.reqPerSec));
  line("non-2xx + errors", p.figures.non2xx + p.figures.errors);
  line("load client CPU per request", round(p.figures.clientCpuMicrosPerReq, 0), "µs");
  line("server CPU per request, by thread", "");
  let total = 0;
  for (const [k, v] of Object.entries(p.threadsMicrosPerReq)) {
    total += v;
    line(`  ${k}`, v, "µs");
  }
  line("  total", total, "µs");
  line("event loop's CPU per request, by where (profile samples scaled to it)", "");
  for (const [k, v] of Object.entries(p.categoriesMicrosPerReq)) line(`  ${k}`, v, "µs");
  line("heaviest functions (self, share of the event loop's busy samples)", "");
  for (const [k, v] of p.heaviest) line(`  ${k.slice(0, 90)}`, round(v, 1), "%");
}

/**
 * The floors: a bare node HTTPS server with serve's TLS options (its serving certificate and key;
 * for renewals `requestCert`, `rejectUnauthorized: false`) that reads and parses the body (for
 * renewals asks for the client certificate) and answers 201 with a body of the size serve sends,
 * under the same client: for sign, autocannon's keep-alive load; for renew, a new connection with
 * a client certificate per request. What is left of a request's CPU above this is certyard's.
 */
const BARE_SERVER = `
const { createServer } = require("node:https");
const { readFileSync } = require("node:fs");
const body = process.env.BENCH_ANSWER;
const mtls = process.env.BENCH_MTLS === "1";
const s = createServer({ key: readFileSync(process.argv[1] + "/server.key"), cert: readFileSync(process.argv[1] + "/server.crt"),
  requestCert: mtls, rejectUnauthorized: false }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    JSON.parse(Buffer.concat(chunks).toString() || "{}");
    const ok = !mtls || req.socket.getPeerCertificate(false).raw;
    res.writeHead(ok ? 201 : 401, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
s.listen(0, "127.0.0.1", () => process.stdout.write(s.address().port + "\\n"));
`;

/** Starts the bare server; `use` runs the load against its base URL and the server's pid. */
async function bareServer<T>(
  data: string,
  o: { answer: string; mtls: boolean },
  use: (baseUrl: string, pid: number) => Promise<T>,
): Promise<T> {
  const child = spawn(process.execPath, ["-e", BARE_SERVER, join(data, "tls")], {
    env: { ...process.env, BENCH_ANSWER: o.answer, BENCH_MTLS: o.mtls ? "1" : "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const [chunk] = (await once(child.stdout, "data")) as [Buffer];
    const pid = child.pid;
    if (pid === undefined) throw new Error("the bare TLS server did not start");
    return await use(`https://127.0.0.1:${chunk.toString().trim()}`, pid);
  } finally {
    child.kill();
  }
}

function bareTlsFloor(data: string, key: string, fullchain: string, seconds: number, warmup: number) {
  return bareServer(data, { answer: JSON.stringify({ fullchain }), mtls: true }, async (baseUrl, pid) => {
    const spec = {
      url: `${baseUrl}/v1/renew`,
      ca: "",
      key,
      fullchains: Array.from({ length: CONNECTIONS }, () => fullchain),
    };
    await renewLoad({ ...spec, seconds: warmup }, 0);
    return await renewLoad({ ...spec, seconds, serverCpu: () => treeCpuSeconds(pid) }, 0);
  });
}

/** The sign floor: the bare server under POST /v1/sign's keep-alive load, answering `answer`. */
function bareSignFloor(data: string, body: string, answer: string, seconds: number, warmup: number) {
  return bareServer(data, { answer, mtls: false }, (baseUrl, pid) =>
    load({ url: `${baseUrl}/v1/sign`, body, seconds, serverCpu: () => treeCpuSeconds(pid) }, warmup),
  );
}

export async function profileBench(
  cleanup: Cleanup,
  root: string,
  s: { load: number; warmup: number },
): Promise<Record<string, Record<string, number | string | null>>> {
  const csr: BenchCsr = await makeCsr(root);
  const body = JSON.stringify({ csr: csr.pem });
  const data = join(root, "ca");
  await mkdir(data);
  let auth: Record<string, string> = {};
  // the size of serve's answer, for the sign floor
  let answer = "";
  const headers = () => ({ "content-type": "application/json", ...auth });
  const sign = await profiled(
    cleanup,
    join(root, "sign"),
    data,
    async (ca, start) => {
      const spec = { url: `${ca.baseUrl}/v1/sign`, body, headers: auth, seconds: s.load };
      await load({ ...spec, seconds: s.warmup }, 0);
      const { from } = await start();
      return { figures: await load(spec, 0), from };
    },
    async (ca) => {
      auth = { authorization: `Bearer ${await createToken(data, "bench")}` };
      const issued = await issueOnce(`${ca.baseUrl}/v1/sign`, {
        method: "POST",
        ca: ca.rootPem,
        headers: headers(),
        body,
      });
      answer = JSON.stringify({ ...issued, chain: issued.fullchain.slice(issued.certificate.length) });
    },
  );
  print(`POST /v1/sign under --cpu-prof, ${CONNECTIONS} connections, ${s.load} s`, sign);
  const signFloor = await bareSignFloor(data, body, answer, s.load, s.warmup);
  heading(`the floor: a bare node HTTPS server with serve's TLS options, the same sign load, ${s.load} s`);
  line("req/s", round(signFloor.reqPerSec));
  line("non-2xx + errors", signFloor.non2xx + signFloor.errors);
  line(
    "server CPU per request (TLS records, TCP, HTTP, JSON)",
    round(signFloor.serverCpuMicrosPerReq ?? 0, 0),
    "µs",
  );
  line("load client CPU per request", round(signFloor.clientCpuMicrosPerReq, 0), "µs");
  let chains: string[] = [];
  const renew = await profiled(
    cleanup,
    join(root, "renew"),
    data,
    async (ca, start) => {
      const spec = { url: `${ca.baseUrl}/v1/renew`, ca: ca.rootPem, key: csr.keyPem, fullchains: chains };
      // renewLoad moves the chains on in spec.fullchains: the measured run renews their successors
      await renewLoad({ ...spec, seconds: s.warmup }, 0);
      const { from } = await start();
      return { figures: await renewLoad({ ...spec, seconds: s.load }, 0), from };
    },
    async (ca) => {
      const url = `${ca.baseUrl}/v1/sign`;
      chains = (
        await Promise.all(
          Array.from({ length: CONNECTIONS }, () =>
            issueOnce(url, { method: "POST", ca: ca.rootPem, headers: headers(), body }),
          ),
        )
      ).map((i) => i.fullchain);
    },
  );
  print(
    `POST /v1/renew under --cpu-prof, ${CONNECTIONS} chains, a new TLS connection each, ${s.load} s`,
    renew,
  );
  const floor = await bareTlsFloor(data, csr.keyPem, chains[0] ?? "", s.load, s.warmup);
  heading(`the floor: a bare node HTTPS server with serve's TLS options, the same renew client, ${s.load} s`);
  line("req/s", round(floor.reqPerSec));
  line("non-2xx + errors", floor.non2xx + floor.errors);
  line("server CPU per request (TLS handshake, TCP, HTTP)", round(floor.serverCpuMicrosPerReq ?? 0, 0), "µs");
  line("load client CPU per request", round(floor.clientCpuMicrosPerReq, 0), "µs");
  const flat = (p: Profiled) => ({
    reqPerSec: round(p.figures.reqPerSec),
    ...Object.fromEntries(Object.entries(p.threadsMicrosPerReq).map(([k, v]) => [`thread ${k}`, v])),
    ...p.categoriesMicrosPerReq,
  });
  return {
    profileSign: flat(sign),
    profileRenew: flat(renew),
    bareSignFloor: {
      reqPerSec: round(signFloor.reqPerSec),
      serverCpuMicrosPerReq: round(signFloor.serverCpuMicrosPerReq ?? 0, 0),
      clientCpuMicrosPerReq: round(signFloor.clientCpuMicrosPerReq, 0),
    },
    bareTlsFloor: {
      reqPerSec: round(floor.reqPerSec),
      serverCpuMicrosPerReq: round(floor.serverCpuMicrosPerReq ?? 0, 0),
      clientCpuMicrosPerReq: round(floor.clientCpuMicrosPerReq, 0),
    },
  };
}
