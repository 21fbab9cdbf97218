/**
 * `npm run bench`: raw ECDSA rate, in-process issuance, then the real CA under load (sign, in
 * rounds that alternate with cfssl under the same load; renew over mutual TLS; sign with 100,000
 * certificates in the inventory), and the idle memory of `serve` after start and after the loads. Plain table lines as it goes, one JSON line with every figure at the end.
 * Durations: BENCH_SECONDS (each load, default 10) and the overrides in settings() below.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { acmeBench } from "./acme.js";
import {
  type CaProcess,
  createToken,
  httpsRequest,
  issueOnce,
  ownChildNamed,
  type ServeMemory,
  serveMemory,
  startCa,
  treeCpuSeconds,
} from "./ca-process.js";
import { cfsslSignBody, startCfssl } from "./cfssl.js";
import { fillInventory } from "./fill.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { BATCH, inProcess, rawSignRate } from "./micro.js";
import { loadFigures, memoryFigures, report, reportMemory, roundAll } from "./report.js";
import {
  type BenchCsr,
  Cleanup,
  describe,
  envCount,
  envSeconds,
  type Figures,
  freePort,
  heading,
  line,
  makeCsr,
  round,
} from "./util.js";

const TOKEN_NAME = "bench";

function settings() {
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
type Settings = ReturnType<typeof settings>;

async function main(cleanup: Cleanup, s: Settings): Promise<Figures> {
  const root = await mkdtemp(join(tmpdir(), "certyard-bench-"));
  cleanup.add("remove the temporary directory", () => rm(root, { recursive: true, force: true }));
  const acme = () => acmeBench(cleanup, root, { seconds: s.load, accounts: s.acmeAccounts });
  if (s.only === "acme") return { acme: await acme() };
  if (s.only === "memory") return memoryOnly(cleanup, root, s);
  if (s.only !== "")
    throw new RangeError(`BENCH_ONLY takes "acme" or "memory" (or nothing for the whole run)`);
  const csr = await makeCsr(root);
  const cores = availableParallelism();
  const loadAtStart = loadavg1();
  const figures: Figures = {
    machine: { cores, loadavg1Start: loadAtStart, loadSeconds: s.load, connections: CONNECTIONS },
  };
  heading("machine");
  line("cores", cores);
  line("load average (1 min) at the start", loadAtStart);

  heading("raw ECDSA P-256 sign, node:crypto, one core");
  const raw = rawSignRate(s.raw);
  const ceiling = raw.signPerSecond * cores;
  line("signs/s per core", raw.signPerSecond);
  line("µs per sign", raw.microsPerSign);
  line("cores (os.availableParallelism)", cores);
  line("raw signs/s x cores", ceiling);
  line("µs per verify (reference)", raw.microsPerVerify);
  line("µs per public key import, JWK (reference)", raw.microsPerImportJwk);
  line("µs per public key import, SPKI DER (reference)", raw.microsPerImportSpki);
  figures.raw = roundAll({ ...raw, cores });
  const ratio = (reqPerSec: number) => reqPerSec / ceiling;

  heading(`in-process issuance, one core (Authority.sign, ${BATCH} in flight)`);
  const inproc = await inProcess(join(root, "inproc"), csr, s.inProcess, raw.microsPerSign);
  line("certificates/s", inproc.signPerSecond);
  line("  as a ratio to raw signs/s (one core)", inproc.signPerSecond / raw.signPerSecond, "x");
  line("µs per certificate, batched", inproc.signMicrosBatched);
  line("  parseCsr (parse + import key + verify)", inproc.parseCsrMicros, "µs");
  line("  ECDSA signature (raw, above)", raw.microsPerSign, "µs");
  line("  store.recordIssued (group commit)", inproc.recordMicrosBatched, "µs");
  line("  the rest (policy, TBS, assemble, PEM)", inproc.restMicros, "µs");
  line("µs per certificate, one at a time", inproc.signMicrosSequential);
  line("Authority.renew (no TLS), certificates/s", inproc.renewPerSecond);
  figures.inProcess = roundAll({ ...inproc });

  const data = join(root, "ca");
  await mkdir(data);
  const signBody = JSON.stringify({ csr: csr.pem });
  let auth: Record<string, string> = {};
  // cfssl and certyard run side by side and take turns under the same load, the order swapped
  // every round: this machine's speed drifts by a fifth from minute to minute, and a comparison
  // of one run each measured the drift as much as the servers.
  const cfssl = await startCfsslTarget(cleanup, join(root, "cfssl"), csr, s);

  const first = await withCa(cleanup, data, undefined, async (ca) => {
    auth = { authorization: `Bearer ${await createToken(data, TOKEN_NAME)}` };
    await delay(s.settle * 1000);
    const fresh = await serveMemory(ca.pid);
    const rounds: { ours: LoadFigures; theirs: LoadFigures }[] = [];
    for (let r = 1; r <= s.rounds; r++) {
      const ours = () => loadSign(ca, signBody, auth, s);
      const pair =
        r % 2 === 1
          ? { ours: await ours(), theirs: await cfssl.load() }
          : { theirs: await cfssl.load(), ours: await ours() };
      report(
        `round ${r}: POST /v1/sign, ${CONNECTIONS} connections, ${s.load} s`,
        pair.ours,
        ratio(pair.ours.reqPerSec),
      );
      report(`round ${r}: cfssl /api/v1/cfssl/sign, same load`, pair.theirs, ratio(pair.theirs.reqPerSec));
      rounds.push(pair);
    }
    const renew = await loadRenew(ca, signBody, auth, csr, s);
    report(`POST /v1/renew over mutual TLS, ${CONNECTIONS} connections`, renew, ratio(renew.reqPerSec));
    await delay(s.settle * 1000);
    return { rounds, renew, fresh, afterLoad: await serveMemory(ca.pid) };
  });
  const sign = medianRun(first.rounds.map((r) => r.ours));
  const theirs = medianRun(first.rounds.map((r) => r.theirs));
  figures.sign = loadFigures(sign, ratio(sign.reqPerSec));
  figures.cfssl = loadFigures(theirs, ratio(theirs.reqPerSec));
  figures.renew = loadFigures(first.renew, ratio(first.renew.reqPerSec));
  reportMemory(
    `idle RSS of serve (${cores} workers), ${s.settle} s after start on an empty directory`,
    first.fresh,
  );
  reportMemory(`idle RSS of serve (${cores} workers), ${s.settle} s after the loads`, first.afterLoad);
  figures.memoryFresh = memoryFigures(first.fresh);
  figures.memory = memoryFigures(first.afterLoad);

  heading(`filling the inventory with ${s.fillRows.toLocaleString("en-US")} certificates (serve stopped)`);
  const fill = fillInventory(join(data, "certyard.db"), TOKEN_NAME, s.fillRows);
  line("rows inserted", fill.rows);
  line("seconds", fill.seconds);
  line("certificates in the inventory", fill.totalRows);

  const second = await withCa(cleanup, data, undefined, async (ca) => {
    await delay(s.settle * 1000);
    const restarted = await serveMemory(ca.pid);
    const ours = await loadSign(ca, signBody, auth, s);
    return { restarted, ours, theirs: await cfssl.load() };
  });
  const full = second.ours;
  reportMemory(
    `idle RSS of serve (${cores} workers) restarted on its data, ${s.settle} s after start`,
    second.restarted,
  );
  figures.memoryRestarted = memoryFigures(second.restarted);
  report(
    `POST /v1/sign with ${fill.totalRows.toLocaleString("en-US")} certificates stored`,
    full,
    ratio(full.reqPerSec),
  );
  report(`cfssl right after it, same load`, second.theirs, ratio(second.theirs.reqPerSec));
  figures.signFullInventory = { ...loadFigures(full, ratio(full.reqPerSec)), inventory: fill.totalRows };
  await cfssl.stop();

  const single = await withCa(cleanup, data, 1, async (ca) => {
    await loadSign(ca, signBody, auth, { ...s, load: Math.min(2, s.load), warmup: 0 });
    await delay(s.settle * 1000);
    return serveMemory(ca.pid);
  });
  reportMemory(`idle RSS of serve --workers 1, after a short load`, single);
  figures.memoryOneWorker = memoryFigures(single);

  figures.acme = await acme();

  heading(`certyard against cfssl and the targets (medians of ${s.rounds} alternating rounds)`);
  const vsReq = sign.reqPerSec / theirs.reqPerSec;
  const vsP99 =
    median(first.rounds.map((r) => r.ours.p99Ms)) / median(first.rounds.map((r) => r.theirs.p99Ms));
  const vsReqFull = full.reqPerSec / second.theirs.reqPerSec;
  const paired = first.rounds.map((r) => round(r.ours.reqPerSec / r.theirs.reqPerSec));
  line("sign req/s / cfssl req/s", vsReq, "x   (target >= 1.0, aim 1.5)");
  line("  the same, round by round", paired.join(", "));
  line("sign p99 / cfssl p99", vsP99, "x   (target <= 1.0, aim 0.5)");
  line(
    "server CPU per request, certyard / cfssl",
    (sign.serverCpuMicrosPerReq ?? 0) / (theirs.serverCpuMicrosPerReq ?? 1),
    "x",
  );
  line("sign req/s (full inventory) / cfssl req/s", vsReqFull, "x");
  line("idle RSS of serve after start, per process", perProcess(first.fresh), "MiB (target <= 80)");
  line("idle RSS of serve after the loads, per process", perProcess(first.afterLoad), "MiB");
  line(
    "idle RSS of serve, all processes (PSS)",
    `${round(first.afterLoad.totalRssMiB, 1)} (${round(first.afterLoad.totalPssMiB ?? 0, 1)})`,
    "MiB",
  );
  line("load average (1 min) at the end", loadavg1());
  figures.machine = { ...figures.machine, loadavg1End: loadavg1() };
  figures.comparison = roundAll({
    signVsCfsslReq: vsReq,
    signVsCfsslP99: vsP99,
    signFullVsCfsslReq: vsReqFull,
  });
  return figures;
}

const loadavg1 = (): number => round(loadavg()[0] ?? 0);

/**
 * BENCH_ONLY=memory: the memory of the whole serve process tree (PSS of every process), idle
 * after start and idle after one sign load, for comparing runtimes and V8 settings quickly.
 */
async function memoryOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
  const csr = await makeCsr(root);
  const data = join(root, "ca");
  await mkdir(data);
  const cores = availableParallelism();
  heading(`memory of serve (${cores} workers), node ${process.version}`);
  const m = await withCa(cleanup, data, undefined, async (ca) => {
    const auth = { authorization: `Bearer ${await createToken(data, TOKEN_NAME)}` };
    await delay(s.settle * 1000);
    const fresh = await serveMemory(ca.pid);
    const signed = await loadSign(ca, JSON.stringify({ csr: csr.pem }), auth, s);
    line(`POST /v1/sign, ${CONNECTIONS} connections, ${s.load} s: req/s`, signed.reqPerSec);
    await delay(s.settle * 1000);
    return { fresh, afterLoad: await serveMemory(ca.pid) };
  });
  reportMemory(`idle, ${s.settle} s after start on an empty directory`, m.fresh);
  reportMemory(`idle, ${s.settle} s after the load`, m.afterLoad);
  return { memoryFresh: memoryFigures(m.fresh), memory: memoryFigures(m.afterLoad) };
}

/** Starts serve on a fresh port, runs `fn`, and always stops it (clean-up also knows about it). */
async function withCa<T>(
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

async function loadSign(ca: CaProcess, body: string, auth: Record<string, string>, s: Settings) {
  const url = `${ca.baseUrl}/v1/sign`;
  const headers = { "content-type": "application/json", ...auth };
  await issueOnce(url, { method: "POST", ca: ca.rootPem, headers, body });
  return load(
    { url, body, headers: auth, seconds: s.load, serverCpu: () => treeCpuSeconds(ca.pid) },
    s.warmup,
  );
}

/** Gets one certificate with the token, then renews with it as the TLS client certificate. */
async function loadRenew(
  ca: CaProcess,
  signBody: string,
  auth: Record<string, string>,
  csr: BenchCsr,
  s: Settings,
) {
  const headers = { "content-type": "application/json" };
  const issued = await issueOnce(`${ca.baseUrl}/v1/sign`, {
    method: "POST",
    ca: ca.rootPem,
    headers: { ...headers, ...auth },
    body: signBody,
  });
  const tls = { cert: issued.fullchain, key: csr.keyPem };
  const url = `${ca.baseUrl}/v1/renew`;
  await issueOnce(url, { method: "POST", ca: ca.rootPem, headers, body: "{}", ...tls });
  return load({ url, body: "{}", seconds: s.load, tls, serverCpu: () => treeCpuSeconds(ca.pid) }, s.warmup);
}

/** cfssl serve, started once and kept running between its turns under load. */
async function startCfsslTarget(cleanup: Cleanup, dir: string, csr: BenchCsr, s: Settings) {
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The run whose req/s is the median (the lower middle one for an even count). */
function medianRun(runs: LoadFigures[]): LoadFigures {
  const sorted = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  const run = sorted[Math.floor((sorted.length - 1) / 2)];
  if (!run) throw new Error("no runs");
  return run;
}

function perProcess(m: ServeMemory): string {
  return [m.primary, ...m.workers].map((p) => round(p.rssMiB, 1)).join(" + ");
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

/** Everything is bounded: a watchdog well past the planned durations stops the run and cleans up. */
function budgetSeconds(s: Settings): number {
  return s.raw + s.inProcess * 2 + (2 * s.rounds + 6) * (s.load + s.warmup) + 4 * s.settle + 300;
}

async function entry(): Promise<void> {
  const s = settings();
  const cleanup = new Cleanup();
  let exiting = false;
  const abort = (why: string, code: number) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\nbench stopping: ${why}\n`);
    const hard = setTimeout(() => process.exit(code), 20_000);
    hard.unref();
    cleanup.run().finally(() => process.exit(code));
  };
  const watchdog = setTimeout(
    () => abort(`over its time budget of ${budgetSeconds(s)} s`, 1),
    budgetSeconds(s) * 1000,
  );
  watchdog.unref();
  process.once("SIGINT", () => abort("interrupted", 130));
  process.once("SIGTERM", () => abort("terminated", 143));

  try {
    const figures = await main(cleanup, s);
    process.stdout.write(`\n${JSON.stringify(figures)}\n`);
  } catch (err) {
    process.stderr.write(`bench failed: ${describe(err)}\n`);
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    if (!exiting) await cleanup.run();
  }
}

await entry();
