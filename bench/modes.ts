/** The BENCH_ONLY modes that run serve under a load of their own: metrics, agent, memory, pages, inventory. */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { type AgentIdle, agentIdle } from "./agent.js";
import { auditStoreCost } from "./audit-store.js";
import { createToken, type ProcessMemory, serveMemory } from "./ca-process.js";
import { dashboardBench } from "./dashboard.js";
import { fillInventory, fillSample } from "./fill.js";
import { inventoryBench } from "./inventory.js";
import { CONNECTIONS, type LoadFigures } from "./load.js";
import { metricsBench } from "./metrics.js";
import { metricsParts } from "./metrics-parts.js";
import { pageLines, pagesDir, pagesPerIssuance } from "./pages.js";
import { loadFigures, memoryFigures, report, reportMemory, roundAll } from "./report.js";
import {
  loadavg1,
  loadRenew,
  loadSign,
  medianRun,
  memoryRecovery,
  RECOVERED_PSS_MIB,
  RECOVERY_SECONDS,
  renewChains,
  type Settings,
  TOKEN_NAME,
  withCa,
} from "./serve-loads.js";
import { type Cleanup, envCount, type Figures, heading, line, makeCsr, median, round } from "./util.js";

export function reportAgent(agent: AgentIdle, s: Settings): number {
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

export function agentFigures(agent: AgentIdle) {
  return roundAll({
    agentPssMiB: agent.agent.pssMiB ?? 0,
    bareNodePssMiB: agent.bareNode.pssMiB ?? 0,
    agentRssMiB: agent.agent.rssMiB,
    bareNodeRssMiB: agent.bareNode.rssMiB,
  });
}

/** BENCH_ONLY=metrics: POST /v1/sign with the metrics and the audit trail on and off (bench/metrics.ts). */
export async function metricsOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
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
export async function agentOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
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
export async function memoryOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
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
export async function pagesOnly(root: string, s: Settings): Promise<Figures> {
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
export async function inventoryOnly(cleanup: Cleanup, root: string, s: Settings): Promise<Figures> {
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
