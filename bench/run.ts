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
import { type AgentIdle, agentIdle } from "./agent.js";
import { auditStoreCost } from "./audit-store.js";
import {
  type CaProcess,
  createToken,
  httpsRequest,
  issueOnce,
  ownChildNamed,
  type ProcessMemory,
  type ServeMemory,
  serveMemory,
  startCa,
  treeCpuSeconds,
} from "./ca-process.js";
import { cfsslSignBody, startCfssl } from "./cfssl.js";
import { dashboardBench } from "./dashboard.js";
import { fillInventory, fillSample } from "./fill.js";
import { garbageBench } from "./garbage.js";
import { inventoryBench } from "./inventory.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { metricsBench } from "./metrics.js";
import { metricsParts } from "./metrics-parts.js";
import { BATCH, inProcess, rawSignRate } from "./micro.js";
import { pageLines, pagesDir, pagesPerIssuance } from "./pages.js";
import { postgresBench } from "./postgres.js";
import { profileBench } from "./profile.js";
import { renewLoad } from "./renew-load.js";
import { renewRoads } from "./renew-roads.js";
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
import { workerCounts, workersBench } from "./workers.js";

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

/** One round: our sign, cfssl's sign and our renewal under the same number of connections. */
interface Round {
  ours: LoadFigures;
  theirs: LoadFigures;
  renew: LoadFigures;
}

async function main(cleanup: Cleanup, s: Settings): Promise<Figures> {
  const root = await mkdtemp(join(tmpdir(), "certyard-bench-"));
  cleanup.add("remove the temporary directory", () => rm(root, { recursive: true, force: true }));
  const acme = () => acmeBench(cleanup, root, { seconds: s.load, accounts: s.acmeAccounts });
  if (s.only === "acme") return { acme: await acme() };
  if (s.only === "memory") return memoryOnly(cleanup, root, s);
  if (s.only === "inventory") return inventoryOnly(cleanup, root, s);
  if (s.only === "agent") return agentOnly(cleanup, root, s);
  if (s.only === "profile") return profileBench(cleanup, root, s);
  if (s.only === "garbage") return garbageBench(cleanup, root, s);
  if (s.only === "metrics") return metricsOnly(cleanup, root, s);
  if (s.only === "pages") return pagesOnly(root, s);
  if (s.only === "renew") return renewRoads(cleanup, root, s);
  if (s.only === "workers") return workersBench(cleanup, root, s, workerCounts(process.env.BENCH_WORKERS));
  if (s.only === "postgres")
    return postgresBench(cleanup, root, {
      seconds: s.load,
      warmup: s.warmup,
      rounds: s.rounds,
      fillRows: s.fillRows,
    });
  if (s.only !== "")
    throw new RangeError(
      `BENCH_ONLY takes "acme", "memory", "inventory", "agent", "profile", "garbage", "metrics", "pages", "renew", "workers" or "postgres" (or nothing for the whole run)`,
    );
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
    const chains = await renewChains(ca, signBody, auth, csr);
    const rounds: Round[] = [];
    for (let r = 1; r <= s.rounds; r++) {
      const ours = () => loadSign(ca, signBody, auth, s);
      const renew = () => loadRenew(ca, chains, csr, s);
      // the order turns every round, so a drift of the machine's speed falls on each in turn
      const order: (keyof Round)[] = [
        ["ours", "theirs", "renew"],
        ["theirs", "renew", "ours"],
        ["renew", "ours", "theirs"],
      ][(r - 1) % 3] as (keyof Round)[];
      const got: Partial<Round> = {};
      for (const which of order)
        got[which] = await (which === "ours" ? ours() : which === "theirs" ? cfssl.load() : renew());
      const pair = got as Round;
      report(
        `round ${r}: POST /v1/sign, ${CONNECTIONS} connections, ${s.load} s`,
        pair.ours,
        ratio(pair.ours.reqPerSec),
      );
      report(`round ${r}: cfssl /api/v1/cfssl/sign, same load`, pair.theirs, ratio(pair.theirs.reqPerSec));
      report(
        `round ${r}: POST /v1/renew over mutual TLS, ${CONNECTIONS} chains, a new connection each`,
        pair.renew,
        ratio(pair.renew.reqPerSec),
      );
      rounds.push(pair);
    }
    const recovery = await memoryRecovery(ca.pid, s);
    return { rounds, fresh, afterLoad: recovery.settled, recovery };
  });
  const sign = medianRun(first.rounds.map((r) => r.ours));
  const theirs = medianRun(first.rounds.map((r) => r.theirs));
  const renew = medianRun(first.rounds.map((r) => r.renew));
  figures.sign = loadFigures(sign, ratio(sign.reqPerSec));
  figures.cfssl = loadFigures(theirs, ratio(theirs.reqPerSec));
  figures.renew = loadFigures(renew, ratio(renew.reqPerSec));
  reportMemory(
    `idle memory of serve (${first.fresh.workers.length === 0 ? "one process" : `primary + ${first.fresh.workers.length} workers`}), ${s.settle} s after start on an empty directory`,
    first.fresh,
  );
  reportMemory(`idle memory of serve, ${s.settle} s after the loads`, first.afterLoad);
  line(
    `seconds of idling until the PSS was under ${RECOVERED_PSS_MIB} MiB`,
    first.recovery.secondsToRecover ?? `not within ${RECOVERY_SECONDS}`,
  );
  line("PSS then (or at the end of the wait)", round(first.recovery.last.totalPssMiB ?? 0, 1), "MiB");
  figures.memoryFresh = memoryFigures(first.fresh);
  figures.memory = memoryFigures(first.afterLoad);
  figures.memoryRecovery = {
    secondsToRecover: first.recovery.secondsToRecover,
    pssMiB: round(first.recovery.last.totalPssMiB ?? 0, 1),
  };

  heading(`filling the inventory with ${s.fillRows.toLocaleString("en-US")} certificates (serve stopped)`);
  const fill = fillInventory(join(data, "certyard.db"), TOKEN_NAME, s.fillRows);
  line("rows inserted", fill.rows);
  line("seconds", fill.seconds);
  line("certificates in the inventory", fill.totalRows);

  const second = await withCa(cleanup, data, undefined, async (ca) => {
    await delay(s.settle * 1000);
    const restarted = await serveMemory(ca.pid);
    const ours = await loadSign(ca, signBody, auth, s);
    const theirs = await cfssl.load();
    return { restarted, ours, theirs, agent: await agentIdle(ca, data, join(root, "agent"), s.settle) };
  });
  const full = second.ours;
  reportMemory(`idle memory of serve restarted on its data, ${s.settle} s after start`, second.restarted);
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
  reportMemory(`idle memory of serve --workers 1, after a short load`, single);
  figures.memoryOneWorker = memoryFigures(single);

  figures.acme = await acme();

  const agent = second.agent;
  const agentVsBare = reportAgent(agent, s);
  figures.agentIdle = agentFigures(agent);

  heading(`certyard against cfssl and the targets (medians of ${s.rounds} rounds, the order turning)`);
  const byRound = (f: (r: Round) => number) => first.rounds.map((r) => round(f(r))).join(", ");
  const vsReq = sign.reqPerSec / theirs.reqPerSec;
  const vsP99 =
    median(first.rounds.map((r) => r.ours.p99Ms)) / median(first.rounds.map((r) => r.theirs.p99Ms));
  const renewVsReq = renew.reqPerSec / theirs.reqPerSec;
  const vsReqFull = full.reqPerSec / second.theirs.reqPerSec;
  const acmePerSec = Number(figures.acme?.issuancesPerSec ?? 0);
  const pssFresh = first.fresh.totalPssMiB ?? 0;
  line("sign req/s, certyard | cfssl", `${round(sign.reqPerSec)} | ${round(theirs.reqPerSec)}`);
  line("sign req/s / cfssl req/s", vsReq, "x   (target >= 1.5)");
  line(
    "  round by round",
    byRound((r) => r.ours.reqPerSec / r.theirs.reqPerSec),
  );
  line("sign p99 / cfssl p99", vsP99, "x   (target <= 0.5)");
  line(
    "  round by round",
    byRound((r) => r.ours.p99Ms / r.theirs.p99Ms),
  );
  line("sign non-2xx + errors", sum(first.rounds.map((r) => r.ours.non2xx + r.ours.errors)), "(target 0)");
  line(
    "server CPU per request, certyard / cfssl",
    (sign.serverCpuMicrosPerReq ?? 0) / (theirs.serverCpuMicrosPerReq ?? 1),
    "x",
  );
  line("renew (mTLS) req/s / cfssl sign req/s", renewVsReq, "x   (target >= 1.0)");
  line(
    "  round by round",
    byRound((r) => r.renew.reqPerSec / r.theirs.reqPerSec),
  );
  line("renew non-2xx + errors", sum(first.rounds.map((r) => r.renew.non2xx + r.renew.errors)), "(target 0)");
  line(`ACME issuances/s, ${s.acmeAccounts} accounts in parallel`, acmePerSec);
  line("  / cfssl sign req/s", acmePerSec / theirs.reqPerSec, "x");
  line("  / certyard sign req/s", acmePerSec / sign.reqPerSec, "x");
  line("sign req/s (full inventory) / cfssl req/s", vsReqFull, "x");
  line("serve PSS idle after start, all processes", round(pssFresh, 1), "MiB (target <= 80)");
  line("  / 80 MiB", pssFresh / 80, "x");
  line("  per process (PSS)", perProcessPss(first.fresh), "MiB");
  line(
    `serve PSS after the loads, once idle (<= ${RECOVERY_SECONDS} s)`,
    round(first.recovery.last.totalPssMiB ?? 0, 1),
    `MiB (target < ${RECOVERED_PSS_MIB} within ${RECOVERY_SECONDS} s)`,
  );
  line("  / 120 MiB", (first.recovery.last.totalPssMiB ?? 0) / RECOVERED_PSS_MIB, "x");
  line("agent daemon idle PSS / bare node PSS", agentVsBare, "x   (target <= 1.3)");
  line("load average (1 min) at the start", loadAtStart);
  line("load average (1 min) at the end", loadavg1());
  figures.machine = { ...figures.machine, loadavg1End: loadavg1() };
  figures.comparison = roundAll({
    signVsCfsslReq: vsReq,
    signVsCfsslP99: vsP99,
    renewVsCfsslSignReq: renewVsReq,
    acmeIssuancesPerSec: acmePerSec,
    signFullVsCfsslReq: vsReqFull,
    pssFreshMiB: pssFresh,
    pssAfterLoadsMiB: first.recovery.last.totalPssMiB ?? 0,
    agentVsBareNodePss: agentVsBare,
  });
  return figures;
}

const loadavg1 = (): number => round(loadavg()[0] ?? 0);

function reportAgent(agent: AgentIdle, s: Settings): number {
  heading(`the agent daemon idle, ${s.settle} s after start, beside a bare node`);
  const pss = (m: ProcessMemory) => round(m.pssMiB ?? 0, 1);
  line("certyard-agent run (PSS)", pss(agent.agent), `MiB (RSS ${round(agent.agent.rssMiB, 1)})`);
  line(
    "node -e 'setInterval(()=>{},1e9)' (PSS)",
    pss(agent.bareNode),
    `MiB (RSS ${round(agent.bareNode.rssMiB, 1)})`,
  );
  const ratio = (agent.agent.pssMiB ?? 0) / (agent.bareNode.pssMiB ?? 1);
  line("agent / bare node (PSS)", ratio, "x   (target <= 1.3)");
  return ratio;
}

function agentFigures(agent: AgentIdle) {
  return roundAll({
    agentPssMiB: agent.agent.pssMiB ?? 0,
    bareNodePssMiB: agent.bareNode.pssMiB ?? 0,
    agentRssMiB: agent.agent.rssMiB,
    bareNodeRssMiB: agent.bareNode.rssMiB,
  });
}

/** BENCH_ONLY=metrics: POST /v1/sign with the metrics and the audit trail on and off (bench/metrics.ts). */
async function metricsOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
  const csr = await makeCsr(root);
  const data = join(root, "ca");
  await mkdir(data);
  heading(
    `POST /v1/sign, metrics and audit trail off and on, ${s.rounds} rounds of ${s.load} s, ${CONNECTIONS} connections`,
  );
  line("load average (1 min) at the start", loadavg1());
  const m = await metricsBench(cleanup, data, csr.pem, {
    seconds: s.load,
    warmup: s.warmup,
    rounds: s.rounds,
  });
  heading(`the audit event in the store alone, in process: recordIssued in waves of 16, ${s.rounds} rounds`);
  const a = await auditStoreCost(join(root, "audit-store"), s.rounds);
  line(
    "CPU per issuance without the audit event (rounds)",
    `${round(a.offMicros)} (${a.offRounds.map((x) => round(x)).join(", ")})`,
    "µs",
  );
  line(
    "CPU per issuance with it (rounds)",
    `${round(a.onMicros)} (${a.onRounds.map((x) => round(x)).join(", ")})`,
    "µs",
  );
  line("the audit event's CPU per issuance (medians' difference)", round(a.onMicros - a.offMicros), "µs");
  line(
    "wall time per issuance without / with it",
    `${round(a.offWallMicros)} / ${round(a.onWallMicros)}`,
    "µs",
  );
  line(
    "wall time with / without, each round's (median)",
    `${a.wallRatios.map((r) => round(r, 2)).join(", ")} (${round(a.wallRatio, 3)})`,
    "x",
  );
  heading("the metrics and the audit trail piece by piece, against serve's CPU per request both off");
  const p = await metricsParts(data);
  // the bench scrapes once a second: a scrape's CPU over the requests answered in that second
  const scrapeShare = p.scrapeMicros / m.onMedian;
  const auditEvent = Math.max(0, a.onMicros - a.offMicros);
  const accounted = p.countingMicros + scrapeShare + auditEvent;
  line("counting one request (in process)", round(p.countingMicros, 2), "µs");
  line("one GET /metrics in serve, idle", round(p.scrapeMicros), "µs");
  line("its share per request (1 scrape/s, both on median req/s)", round(scrapeShare, 2), "µs");
  line("sealing one audit event (in process; in the figure above)", round(p.sealMicros, 2), "µs");
  line("accounted per request: counting + scrape + event", round(accounted, 1), "µs");
  line("as a share of CPU per request both off", round((100 * accounted) / m.offCpuMedian, 1), "%");
  line("load average (1 min) at the end", loadavg1());
  return {
    auditStore: {
      offMicrosPerIssuance: round(a.offMicros),
      onMicrosPerIssuance: round(a.onMicros),
      offWallMicrosPerIssuance: round(a.offWallMicros),
      onWallMicrosPerIssuance: round(a.onWallMicros),
      wallOnOffRatio: round(a.wallRatio, 3),
    },
    metrics: {
      onOffRatio: round(m.ratio, 3),
      cpuOnOffRatio: round(m.cpuRatio, 3),
      pairedCpuOnOffRatio: round(m.pairedCpuRatio, 3),
      countingMicros: round(p.countingMicros, 2),
      scrapeMicros: round(p.scrapeMicros),
      sealMicros: round(p.sealMicros, 2),
      accountedMicrosPerRequest: round(accounted, 1),
      offReqPerSec: round(m.offMedian),
      onReqPerSec: round(m.onMedian),
      metricsOnlyReqPerSec: round(m.metricsOnlyMedian),
      auditOnMetricsRatio: round(m.auditRatio, 3),
      auditCpuOnMetricsRatio: round(m.auditCpuRatio, 3),
      scrapes: m.scrapes,
      scrapeFailures: m.scrapeFailures,
    },
  };
}

/** BENCH_ONLY=agent: the agent daemon's idle memory beside a bare node, against a fresh CA. */
async function agentOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
  const data = join(root, "ca");
  await mkdir(data);
  const agent = await withCa(cleanup, data, undefined, (ca) =>
    agentIdle(ca, data, join(root, "agent"), s.settle),
  );
  return { agentIdle: { ...agentFigures(agent), ratio: round(reportAgent(agent, s)) } };
}

/**
 * BENCH_ONLY=memory: the memory of the whole serve process tree (PSS of every process), idle after
 * start, then after the whole run's kind of loads done as a fixed amount of work (BENCH_ROUNDS
 * rounds of BENCH_MEMORY_SIGNS signs and BENCH_MEMORY_RENEWALS renewals, no warm-up), so a quiet
 * machine and a loaded one measure the same thing: right after the loads, BENCH_SETTLE_SECONDS
 * later, the seconds of idling until it was under RECOVERED_PSS_MIB, and RECOVERY_SECONDS after.
 */
async function memoryOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
  const csr = await makeCsr(root);
  const data = join(root, "ca");
  await mkdir(data);
  const signs = envCount("BENCH_MEMORY_SIGNS", 5000);
  const renewals = envCount("BENCH_MEMORY_RENEWALS", 300);
  heading(`memory of serve, node ${process.version}, ${s.rounds} x (${signs} signs, ${renewals} renewals)`);
  line("load average (1 min) at the start", loadavg1());
  const m = await withCa(cleanup, data, undefined, async (ca) => {
    const auth = { authorization: `Bearer ${await createToken(data, TOKEN_NAME)}` };
    const body = JSON.stringify({ csr: csr.pem });
    await delay(s.settle * 1000);
    const fresh = await serveMemory(ca.pid);
    const chains = await renewChains(ca, body, auth, csr);
    const fixed = { ...s, warmup: 0 };
    for (let r = 1; r <= s.rounds; r++) {
      const signed = await loadSign(ca, body, auth, fixed, signs);
      const renewed = await loadRenew(ca, chains, csr, fixed, renewals);
      line(
        `round ${r}: signs, renewals (req/s)`,
        `${signed.ok}, ${renewed.ok}`,
        `(${round(signed.reqPerSec)}, ${round(renewed.reqPerSec)})`,
      );
    }
    const loaded = await serveMemory(ca.pid);
    const ended = performance.now();
    const recovery = await memoryRecovery(ca.pid, s);
    // and where it stands once the whole RECOVERY_SECONDS have passed, recovered or not
    await delay(Math.max(0, ended + RECOVERY_SECONDS * 1000 - performance.now()));
    return { fresh, loaded, recovery, atEnd: await serveMemory(ca.pid) };
  });
  reportMemory(`idle, ${s.settle} s after start on an empty directory`, m.fresh);
  reportMemory("right after the loads", m.loaded);
  reportMemory(`idle, ${s.settle} s after the loads`, m.recovery.settled);
  line(
    `seconds of idling until the PSS was under ${RECOVERED_PSS_MIB} MiB`,
    m.recovery.secondsToRecover ?? `not within ${RECOVERY_SECONDS}`,
  );
  line("PSS then (or at the end of the wait)", round(m.recovery.last.totalPssMiB ?? 0, 1), "MiB");
  reportMemory(`idle, ${RECOVERY_SECONDS} s after the loads`, m.atEnd);
  line("load average (1 min) at the end", loadavg1());
  return {
    machine: { loadavg1End: loadavg1() },
    memoryFresh: memoryFigures(m.fresh),
    memoryLoaded: memoryFigures(m.loaded),
    memory: memoryFigures(m.recovery.settled),
    memoryAfter30s: memoryFigures(m.atEnd),
    memoryRecovery: {
      secondsToRecover: m.recovery.secondsToRecover,
      pssMiB: round(m.recovery.last.totalPssMiB ?? 0, 1),
    },
  };
}

/**
 * BENCH_ONLY=pages: the pages SQLite writes per issuance, by table and index (bench/pages.ts), on
 * an empty inventory and on one of BENCH_FILL_ROWS rows.
 */
async function pagesOnly(root: string, s: Settings): Promise<Figures> {
  const csr = await makeCsr(root);
  const figures: Figures = {};
  for (const rows of [0, s.fillRows]) {
    heading(`pages written per issuance, ${rows.toLocaleString("en-US")} certificates stored`);
    const f = await pagesPerIssuance(pagesDir(root, rows), csr, rows, 40);
    for (const l of pageLines(f)) console.log(l);
    figures[`pages${rows}`] = {
      issuances: f.issuances,
      commits: f.commits,
      perIssuance: f.perIssuance,
      ...Object.fromEntries(f.byTree.map((t) => [t.tree, t.perIssuance])),
    };
  }
  return figures;
}

/**
 * BENCH_ONLY=inventory: POST /v1/sign on an empty inventory against a filled one (BENCH_FILL_ROWS),
 * in BENCH_ROUNDS rounds that alternate between two CAs (A B, B A, ...), one left empty and one
 * filled, so both see the same machine; then the inventory's own figures at that size
 * (bench/inventory.ts) and the dashboard's overview and searches (bench/dashboard.ts). One run
 * of each, minutes apart across the fill, had put 0.84x on what alternating pairs measure as 1.0.
 */
async function inventoryOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
  const csr = await makeCsr(root);
  const body = JSON.stringify({ csr: csr.pem });
  const cas = { empty: join(root, "ca-empty"), full: join(root, "ca") };
  const auth: Record<string, Record<string, string>> = {};
  for (const [side, data] of Object.entries(cas)) {
    await mkdir(data);
    const secret = await withCa(cleanup, data, undefined, () => createToken(data, TOKEN_NAME));
    auth[side] = { authorization: `Bearer ${secret}` };
  }
  heading(`filling the inventory with ${s.fillRows.toLocaleString("en-US")} certificates (serve stopped)`);
  const fill = fillInventory(join(cas.full, "certyard.db"), TOKEN_NAME, s.fillRows);
  line("seconds", fill.seconds);
  heading(
    `POST /v1/sign, empty and with ${fill.totalRows.toLocaleString("en-US")} certificates, alternating`,
  );
  const runs: Record<"empty" | "full", LoadFigures[]> = { empty: [], full: [] };
  for (let r = 0; r < s.rounds; r++) {
    for (const side of r % 2 === 0 ? (["empty", "full"] as const) : (["full", "empty"] as const)) {
      const f = await withCa(cleanup, cas[side], undefined, (ca) => loadSign(ca, body, auth[side] ?? {}, s));
      runs[side].push(f);
      line(
        `round ${r + 1}, ${side}: req/s; server CPU per request, µs`,
        `${round(f.reqPerSec)}; ${f.serverCpuMicrosPerReq === null ? "n/a" : round(f.serverCpuMicrosPerReq, 0)}`,
      );
    }
  }
  const kept = median(runs.full.map((f, i) => f.reqPerSec / (runs.empty[i]?.reqPerSec ?? Number.NaN)));
  const cpu = median(
    runs.full.map(
      (f, i) =>
        (f.serverCpuMicrosPerReq ?? Number.NaN) / (runs.empty[i]?.serverCpuMicrosPerReq ?? Number.NaN),
    ),
  );
  const empty = medianRun(runs.empty);
  const signed = medianRun(runs.full);
  report("POST /v1/sign, empty inventory (the median round)", empty, 1);
  report(
    `POST /v1/sign with ${fill.totalRows.toLocaleString("en-US")} certificates stored (the median round)`,
    signed,
    kept,
  );
  line(
    "req/s kept with the inventory full, of empty, median of the rounds' pairs (target >= 0.9)",
    round(kept, 2),
    "x",
  );
  line("server CPU per request full / empty, median of the pairs", round(cpu, 2), "x");
  const full = await withCa(cleanup, cas.full, undefined, async (ca) => {
    const inventory = await inventoryBench(ca, cas.full, TOKEN_NAME, fill.totalRows, fillSample(s.fillRows));
    const dashboard = await dashboardBench(ca, cas.full, fill.totalRows, {
      ...fillSample(s.fillRows),
      token: TOKEN_NAME,
    });
    return { inventory, dashboard };
  });
  return {
    signEmpty: loadFigures(empty, 1),
    signFullInventory: {
      ...loadFigures(signed, kept),
      inventory: fill.totalRows,
      keptOfEmpty: round(kept, 2),
      serverCpuFullOfEmpty: round(cpu, 2),
      rounds: s.rounds,
    },
    inventory: full.inventory,
    dashboard: full.dashboard,
  };
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

async function loadSign(
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
async function renewChains(
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
function loadRenew(ca: CaProcess, chains: string[], csr: BenchCsr, s: Settings, amount?: number) {
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
const RECOVERED_PSS_MIB = 120;
const RECOVERY_SECONDS = 30;

/**
 * The serve tree's memory after the loads: measured once BENCH_SETTLE_SECONDS have passed, then
 * every second until its PSS is under RECOVERED_PSS_MIB or RECOVERY_SECONDS have passed.
 */
async function memoryRecovery(pid: number, s: Settings) {
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

function perProcessPss(m: ServeMemory): string {
  return [m.primary, ...m.workers].map((p) => round(p.pssMiB ?? 0, 1)).join(" + ");
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

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
  // BENCH_ONLY=postgres: a million rows into PostgreSQL, and listing them all, take minutes here
  const postgres = s.only === "postgres" ? s.fillRows / 1000 + 120 : 0;
  // BENCH_ONLY=inventory: fill.ts wrote 1,000,000 rows in 149 s on a quiet machine, 357 s at load 10-15
  const fill = s.only === "inventory" ? s.fillRows / 2000 : 0;
  return (
    s.raw + s.inProcess * 2 + (3 * s.rounds + 6) * (s.load + s.warmup) + 5 * s.settle + 330 + postgres + fill
  );
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
    void cleanup.run().finally(() => process.exit(code));
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
