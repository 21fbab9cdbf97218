/**
 * `npm run bench`: raw ECDSA rate, in-process issuance, then the real CA under load (sign, renew
 * over mutual TLS, sign with 100,000 certificates in the inventory), cfssl under the same load, and
 * the idle memory of `serve`. Plain table lines as it goes, one JSON line with every figure at the end.
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
    only: process.env.BENCH_ONLY ?? "",
  };
}
type Settings = ReturnType<typeof settings>;

async function main(cleanup: Cleanup, s: Settings): Promise<Figures> {
  const root = await mkdtemp(join(tmpdir(), "certyard-bench-"));
  cleanup.add("remove the temporary directory", () => rm(root, { recursive: true, force: true }));
  const acme = () => acmeBench(cleanup, root, { seconds: s.load, accounts: s.acmeAccounts });
  if (s.only === "acme") return { acme: await acme() };
  if (s.only !== "") throw new RangeError(`BENCH_ONLY takes "acme" (or nothing for the whole run)`);
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

  const first = await withCa(cleanup, data, undefined, async (ca) => {
    auth = { authorization: `Bearer ${await createToken(data, TOKEN_NAME)}` };
    const sign = await loadSign(ca, signBody, auth, s);
    report(`POST /v1/sign, ${CONNECTIONS} connections, ${s.load} s`, sign, ratio(sign.reqPerSec));

    const renew = await loadRenew(ca, signBody, auth, csr, s);
    report(`POST /v1/renew over mutual TLS, ${CONNECTIONS} connections`, renew, ratio(renew.reqPerSec));

    await delay(s.settle * 1000);
    return { sign, renew, memory: await serveMemory(ca.pid) };
  });
  figures.sign = loadFigures(first.sign, ratio(first.sign.reqPerSec));
  figures.renew = loadFigures(first.renew, ratio(first.renew.reqPerSec));
  reportMemory(`idle RSS of serve (${cores} workers), ${s.settle} s after the loads`, first.memory);
  figures.memory = memoryFigures(first.memory);

  heading(`filling the inventory with ${s.fillRows.toLocaleString("en-US")} certificates (serve stopped)`);
  const fill = fillInventory(join(data, "certyard.db"), TOKEN_NAME, s.fillRows);
  line("rows inserted", fill.rows);
  line("seconds", fill.seconds);
  line("certificates in the inventory", fill.totalRows);

  const full = await withCa(cleanup, data, undefined, (ca) => loadSign(ca, signBody, auth, s));
  report(
    `POST /v1/sign with ${fill.totalRows.toLocaleString("en-US")} certificates stored`,
    full,
    ratio(full.reqPerSec),
  );
  figures.signFullInventory = { ...loadFigures(full, ratio(full.reqPerSec)), inventory: fill.totalRows };

  const single = await withCa(cleanup, data, 1, async (ca) => {
    await loadSign(ca, signBody, auth, { ...s, load: Math.min(2, s.load), warmup: 0 });
    await delay(s.settle * 1000);
    return serveMemory(ca.pid);
  });
  reportMemory(`idle RSS of serve --workers 1, after a short load`, single);
  figures.memoryOneWorker = memoryFigures(single);

  const cfssl = await loadCfssl(cleanup, join(root, "cfssl"), csr, s);
  report(
    `cfssl serve /api/v1/cfssl/sign, ${CONNECTIONS} connections, ${s.load} s`,
    cfssl,
    ratio(cfssl.reqPerSec),
  );
  figures.cfssl = loadFigures(cfssl, ratio(cfssl.reqPerSec));

  figures.acme = await acme();

  heading("certyard against cfssl and the targets");
  const vsReq = first.sign.reqPerSec / cfssl.reqPerSec;
  const vsP99 = first.sign.p99Ms / cfssl.p99Ms;
  const vsReqFull = full.reqPerSec / cfssl.reqPerSec;
  line("sign req/s / cfssl req/s", vsReq, "x   (target >= 1.0, aim 1.5)");
  line("sign p99 / cfssl p99", vsP99, "x   (target <= 1.0, aim 0.5)");
  line("sign req/s (full inventory) / cfssl req/s", vsReqFull, "x");
  line("idle RSS of serve, total", first.memory.totalRssMiB, "MiB (target <= 80)");
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

async function loadCfssl(cleanup: Cleanup, dir: string, csr: BenchCsr, s: Settings): Promise<LoadFigures> {
  const cfssl = await startCfssl(dir, await freePort());
  const release = cleanup.add("stop cfssl", () => cfssl.stop());
  try {
    const body = cfsslSignBody(csr.pem);
    await checkCfsslSigns(cfssl.url, cfssl.caCertPem, body);
    const pid = await ownChildNamed("cfssl");
    const serverCpu = pid === null ? undefined : () => treeCpuSeconds(pid);
    return await load({ url: cfssl.url, body, seconds: s.load, serverCpu }, s.warmup);
  } finally {
    release();
    await cfssl.stop();
  }
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
  return s.raw + s.inProcess * 2 + 6 * (s.load + s.warmup) + 2 * s.settle + 300;
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
