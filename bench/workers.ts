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
import { type Cleanup, freePort, heading, line, makeCsr, round } from "./util.js";

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

export async function workersBench(
  cleanup: Cleanup,
  root: string,
  s: Settings,
  counts: number[],
): Promise<Record<string, Record<string, number | string | null>>> {
  const csr = await makeCsr(root);
  const body = JSON.stringify({ csr: csr.pem });
  const cfssl = await startCfssl(join(root, "cfssl"), await freePort());
  const release = cleanup.add("stop cfssl", () => cfssl.stop());
  const cfsslPid = await ownChildNamed("cfssl");
  const tokens = new Map<number, string>();
  const turns = new Map<number, Turn[]>(counts.map((n) => [n, []]));
  const theirs: LoadFigures[] = [];
  try {
    heading(
      `serve's layouts against cfssl: --workers ${counts.join(", ")}, ${s.rounds} rounds of ${s.load} s`,
    );
    for (let r = 1; r <= s.rounds; r++) {
      const order: (number | "cfssl")[] = [...counts, "cfssl"];
      if (r % 2 === 0) order.reverse();
      for (const which of order) {
        if (which === "cfssl") {
          const f = await load(
            {
              url: cfssl.url,
              body: cfsslSignBody(csr.pem),
              seconds: s.load,
              serverCpu: cfsslPid === null ? undefined : () => treeCpuSeconds(cfsslPid),
            },
            s.warmup,
          );
          theirs.push(f);
          printTurn(`round ${r}: cfssl`, f);
          continue;
        }
        const turn = await layoutTurn(cleanup, join(root, `workers-${which}`), which, body, tokens, s);
        turns.get(which)?.push(turn);
        printTurn(`round ${r}: --workers ${which}`, turn.sign, turn);
      }
    }
  } finally {
    release();
    await cfssl.stop();
  }
  const cfsslReq = median(theirs.map((f) => f.reqPerSec));
  const cfsslP99 = median(theirs.map((f) => f.p99Ms));
  heading(`medians of ${s.rounds} rounds (${CONNECTIONS} connections)`);
  line("cfssl req/s | p99 ms | server CPU µs", summary(theirs));
  const out: Record<string, Record<string, number | string | null>> = {
    cfssl: { reqPerSec: round(cfsslReq), p99Ms: round(cfsslP99) },
  };
  for (const [n, list] of turns) {
    const signs = list.map((t) => t.sign);
    const req = median(signs.map((f) => f.reqPerSec));
    const p99 = median(signs.map((f) => f.p99Ms));
    const idle = median(list.map((t) => t.idleMiB));
    const after = median(list.map((t) => t.afterMiB));
    line(`--workers ${n} req/s | p99 ms | server CPU µs`, summary(signs));
    line(`  / cfssl req/s | p99`, `${round(req / cfsslReq)} | ${round(p99 / cfsslP99)}`, "x");
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
