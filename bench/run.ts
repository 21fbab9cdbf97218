/**
 * `npm run bench`: raw ECDSA rate, in-process issuance, then the real CA under load (sign, in
 * rounds that alternate with cfssl under the same load; renew over mutual TLS; sign with 100,000
 * certificates in the inventory), and the idle memory of `serve` after start and after the loads. Plain table lines as it goes, one JSON line with every figure at the end.
 * Durations: BENCH_SECONDS (each load, default 10) and the overrides in settings() (serve-loads.ts).
 * The BENCH_ONLY modes are in modes.ts and the files each names.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { acmeBench } from "./acme.js";
import { agentIdle } from "./agent.js";
import { createToken, serveMemory } from "./ca-process.js";
import { cryptoThreadBench } from "./crypto-thread.js";
import { fillInventory } from "./fill.js";
import { garbageBench } from "./garbage.js";
import { CONNECTIONS, type LoadFigures } from "./load.js";
import { BATCH, inProcess, rawSignRate } from "./micro.js";
import {
  agentFigures,
  agentOnly,
  inventoryOnly,
  memoryOnly,
  metricsOnly,
  pagesOnly,
  reportAgent,
} from "./modes.js";
import { postgresBench } from "./postgres.js";
import { profileBench } from "./profile.js";
import { renewRoads } from "./renew-roads.js";
import { loadFigures, memoryFigures, report, reportMemory, roundAll } from "./report.js";
import {
  loadavg1,
  loadRenew,
  loadSign,
  medianRun,
  memoryRecovery,
  perProcessPss,
  RECOVERED_PSS_MIB,
  RECOVERY_SECONDS,
  renewChains,
  type Settings,
  settings,
  startCfsslTarget,
  TOKEN_NAME,
  withCa,
} from "./serve-loads.js";
import { Cleanup, describe, type Figures, heading, line, makeCsr, median, round, sum } from "./util.js";
import { workerCounts, workersBench } from "./workers.js";

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
  if (s.only === "crypto-thread") return cryptoThreadBench(cleanup, root, s);
  if (s.only === "workers") return workersBench(cleanup, root, s, workerCounts(process.env.BENCH_WORKERS));
  if (s.only === "certdb") return workersBench(cleanup, root, s, [1], true);
  if (s.only === "postgres")
    return postgresBench(cleanup, root, {
      seconds: s.load,
      warmup: s.warmup,
      rounds: s.rounds,
      fillRows: s.fillRows,
    });
  if (s.only !== "")
    throw new RangeError(
      `BENCH_ONLY takes "acme", "memory", "inventory", "agent", "profile", "garbage", "metrics", "pages", "renew", "workers", "certdb", "crypto-thread" or "postgres" (or nothing for the whole run)`,
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
