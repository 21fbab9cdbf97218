/**
 * BENCH_ONLY=workers: serve's process layouts side by side in one run, beside cfssl under the
 * same load: `--workers N` for each N in BENCH_WORKERS (default "1,2"), each on a data
 * directory of its own, started fresh for every round and stopped after it. Per layout and
 * round: PSS of the whole process tree idle after start, POST /v1/sign under load (req/s, p99,
 * server CPU per request), PSS idle after the load. The layouts' order turns every round
 * (A B cfssl, then cfssl B A, ...), so a drift of the machine's speed falls on each in turn.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  createToken,
  issueOnce,
  ownChildNamed,
  type ServeMemory,
  serveMemory,
  startCa,
  treeCpuSeconds,
} from "./ca-process.js";
import { cfsslSignBody, startCfssl } from "./cfssl.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { type Cleanup, freePort, heading, line, makeCsr, median, round } from "./util.js";

interface Settings {
  load: number;
  warmup: number;
  settle: number;
  rounds: number;
}

interface Turn {
  sign: LoadFigures;
  idleMiB: number;
  afterMiB: number;
}

/** BENCH_WORKERS: a comma-separated list of --workers values. */
export function workerCounts(text: string | undefined): number[] {
  const counts = (text ?? "1,2").split(",").map((t) => Number(t.trim()));
  if (counts.length === 0 || !counts.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`BENCH_WORKERS takes positive integers separated by commas, e.g. "1,2"`);
  }
  return counts;
}

/** A cfssl taking its turns: its sign URL and the pid whose CPU is counted. */
interface Baseline {
  name: string;
  url: string;
  pid: number | null;
  runs: LoadFigures[];
}

/**
 * `certdb`: two more cfssl in the turns that record what they sign in cfssl's certificate
 * database on SQLite, as serve records every certificate in its inventory (BENCH_ONLY=certdb):
 * one with SQLite's defaults as cfssl leaves them, one in WAL mode.
 */
export async function workersBench(
  cleanup: Cleanup,
  root: string,
  s: Settings,
  counts: number[],
  certdb = false,
): Promise<Record<string, Record<string, number | string | null>>> {
  const csr = await makeCsr(root);
  const body = JSON.stringify({ csr: csr.pem });
  const baselines: Baseline[] = [];
  const stops: (() => Promise<void>)[] = [];
  const releases: (() => void)[] = [];
  const kinds = certdb ? ([undefined, "defaults", "wal"] as const) : ([undefined] as const);
  for (const kind of kinds) {
    const name = kind === undefined ? "cfssl" : kind === "wal" ? "cfssl+certdb(WAL)" : "cfssl+certdb";
    const server = await startCfssl(join(root, name), await freePort(), { certdb: kind });
    stops.push(() => server.stop());
    releases.push(cleanup.add(`stop ${name}`, () => server.stop()));
    const pid = await ownChildNamed(
      "cfssl",
      baselines.map((b) => b.pid),
    );
    baselines.push({ name, url: server.url, pid, runs: [] });
  }
  const tokens = new Map<number, string>();
  const turns = new Map<number, Turn[]>(counts.map((n) => [n, []]));
  try {
    heading(
      `serve's layouts against ${baselines.map((b) => b.name).join(" and ")}: --workers ${counts.join(", ")}, ${s.rounds} rounds of ${s.load} s`,
    );
    for (let r = 1; r <= s.rounds; r++) {
      const order: (number | Baseline)[] = [...counts, ...baselines];
      if (r % 2 === 0) order.reverse();
      for (const which of order) {
        if (typeof which !== "number") {
          const pid = which.pid;
          const f = await load(
            {
              url: which.url,
              body: cfsslSignBody(csr.pem),
              seconds: s.load,
              serverCpu: pid === null ? undefined : () => treeCpuSeconds(pid),
            },
            s.warmup,
          );
          which.runs.push(f);
          printTurn(`round ${r}: ${which.name}`, f);
          continue;
        }
        const turn = await layoutTurn(cleanup, join(root, `workers-${which}`), which, body, tokens, s);
        turns.get(which)?.push(turn);
        printTurn(`round ${r}: --workers ${which}`, turn.sign, turn);
      }
    }
  } finally {
    for (const release of releases) release();
    for (const stop of stops) await stop();
  }
  const theirs = baselines[0]?.runs ?? [];
  const cfsslReq = median(theirs.map((f) => f.reqPerSec));
  const cfsslP99 = median(theirs.map((f) => f.p99Ms));
  heading(`medians of ${s.rounds} rounds (${CONNECTIONS} connections)`);
  const out: Record<string, Record<string, number | string | null>> = {};
  for (const b of baselines) {
    line(`${b.name} req/s | p99 ms | server CPU µs`, summary(b.runs));
    out[b.name] = {
      reqPerSec: round(median(b.runs.map((f) => f.reqPerSec))),
      p99Ms: round(median(b.runs.map((f) => f.p99Ms))),
      serverCpuMicrosPerReq: round(median(b.runs.map((f) => f.serverCpuMicrosPerReq ?? 0))),
    };
  }
  for (const [n, list] of turns) {
    const signs = list.map((t) => t.sign);
    const req = median(signs.map((f) => f.reqPerSec));
    const p99 = median(signs.map((f) => f.p99Ms));
    const idle = median(list.map((t) => t.idleMiB));
    const after = median(list.map((t) => t.afterMiB));
    line(`--workers ${n} req/s | p99 ms | server CPU µs`, summary(signs));
    for (const b of baselines) {
      const theirReq = median(b.runs.map((f) => f.reqPerSec));
      const theirP99 = median(b.runs.map((f) => f.p99Ms));
      line(`  / ${b.name} req/s | p99`, `${round(req / theirReq)} | ${round(p99 / theirP99)}`, "x");
    }
    line(`  PSS idle after start | after the load`, `${round(idle, 1)} | ${round(after, 1)}`, "MiB");
    out[`workers${n}`] = {
      reqPerSec: round(req),
      p99Ms: round(p99),
      serverCpuMicrosPerReq: round(median(signs.map((f) => f.serverCpuMicrosPerReq ?? 0))),
      vsCfsslReq: round(req / cfsslReq),
      vsCfsslP99: round(p99 / cfsslP99),
      pssIdleMiB: round(idle, 1),
      pssAfterLoadMiB: round(after, 1),
    };
  }
  return out;
}

/** serve --workers N on its own data directory: idle memory, one sign load, idle memory again. */
async function layoutTurn(
  cleanup: Cleanup,
  data: string,
  workers: number,
  body: string,
  tokens: Map<number, string>,
  s: Settings,
): Promise<Turn> {
  await mkdir(data, { recursive: true });
  const ca = await startCa(data, await freePort(), workers);
  const release = cleanup.add("stop serve", () => ca.stop());
  try {
    let token = tokens.get(workers);
    if (token === undefined) {
      token = await createToken(data, "bench");
      tokens.set(workers, token);
    }
    const headers = { authorization: `Bearer ${token}` };
    await delay(s.settle * 1000);
    const idle = await serveMemory(ca.pid);
    const url = `${ca.baseUrl}/v1/sign`;
    await issueOnce(url, {
      method: "POST",
      ca: ca.rootPem,
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    const sign = await load(
      { url, body, headers, seconds: s.load, serverCpu: () => treeCpuSeconds(ca.pid) },
      s.warmup,
    );
    await delay(s.settle * 1000);
    const after = await serveMemory(ca.pid);
    return { sign, idleMiB: pss(idle), afterMiB: pss(after) };
  } finally {
    release();
    await ca.stop();
  }
}

const pss = (m: ServeMemory): number => m.totalPssMiB ?? 0;

function printTurn(title: string, f: LoadFigures, turn?: Turn): void {
  const memory = turn ? `, PSS ${round(turn.idleMiB, 1)} -> ${round(turn.afterMiB, 1)} MiB` : "";
  const bad = f.non2xx + f.errors;
  line(
    title,
    `${round(f.reqPerSec, 0)} req/s, p99 ${round(f.p99Ms, 0)} ms, ${round(f.serverCpuMicrosPerReq ?? 0, 0)} µs CPU/req${memory}${bad ? `, ${bad} failed` : ""}`,
  );
}

function summary(runs: LoadFigures[]): string {
  const req = median(runs.map((f) => f.reqPerSec));
  const p99 = median(runs.map((f) => f.p99Ms));
  const cpu = median(runs.map((f) => f.serverCpuMicrosPerReq ?? 0));
  return `${round(req, 0)} | ${round(p99, 0)} | ${round(cpu, 0)}`;
}
