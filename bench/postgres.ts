/**
 * BENCH_ONLY=postgres (issue 17): POST /v1/sign on SQLite, on PostgreSQL over its local socket, and
 * on two replicas on that PostgreSQL behind HAProxy (round robin, TCP: TLS passes through), taking
 * turns in BENCH_ROUNDS rounds, the order turning every round; medians compared. The server's CPU
 * per request counts every process that serves: the serve trees, and PostgreSQL's (postmaster and
 * its backends) and HAProxy's where they take part, the CA's part split by thread (event loop,
 * threadpool, V8's), and how many certificates each PostgreSQL transaction recorded (group
 * commit's batch, from the rows' xmin). Two replicas warm up twice as long as one, so that each
 * has served about as many requests as one alone before it is measured. Then BENCH_FILL_ROWS
 * certificates put into PostgreSQL (pg-fill.ts) and the inventory's figures there (inventory.ts):
 * `certs list --expiring 7d --json` (target under 1 s at 1,000,000) and every filter of
 * GET /v1/certs (under 100 ms), and the dashboard's overview and searches (dashboard.ts, under
 * 200 ms).
 * Needs root, PostgreSQL 15 and HAProxy from Debian (test/e2e/setup.sh installs them).
 */
import { X509Certificate } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { startHaproxy } from "../test/helpers/haproxy.js";
import { startPostgres } from "../test/helpers/postgres.js";
import {
  type CaProcess,
  createToken,
  issueOnce,
  ownChildNamed,
  startCa,
  type ThreadCpu,
  threadCpuSeconds,
  treeCpuSeconds,
} from "./ca-process.js";
import { dashboardBench } from "./dashboard.js";
import { fillSample } from "./fill.js";
import { inventoryBench } from "./inventory.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { fillInventoryPg } from "./pg-fill.js";
import { type Cleanup, type Figures, freePort, heading, line, makeCsr, median, round, sum } from "./util.js";

export interface PostgresBenchSettings {
  seconds: number;
  warmup: number;
  rounds: number;
  fillRows: number;
}

const TOKEN_NAME = "bench";
type Setup = "sqlite" | "postgres" | "postgres x2";
const SETUPS: readonly Setup[] = ["sqlite", "postgres", "postgres x2"];

/** What one turn under load started: where to send requests and whose CPU to count. */
interface Target {
  url: string;
  rootPem: string;
  /** CPU seconds so far of the CA's processes, of PostgreSQL's and of HAProxy's */
  cpu(): Promise<{ ca: number; db: number; lb: number }>;
  /** the CA processes' CPU seconds so far by kind of thread, all replicas summed */
  caThreads(): Promise<ThreadCpu>;
  stop(): Promise<void>;
}

interface Turn {
  load: LoadFigures;
  /** µs of CPU per 2xx response, by who spent it */
  caMicros: number;
  dbMicros: number;
  lbMicros: number;
  /** the CA's µs per 2xx by kind of thread */
  threads: ThreadCpu;
  /** certificates recorded per PostgreSQL transaction in the measured run (group commit's batch) */
  perTransaction: number;
}

export async function postgresBench(
  cleanup: Cleanup,
  root: string,
  s: PostgresBenchSettings,
): Promise<Figures> {
  heading("machine");
  line("cores", availableParallelism());
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  line("load average (1 min) at the start", loadAtStart);

  const pg = await startPostgres({ database: "certyard_bench" });
  cleanup.add("stop PostgreSQL", () => pg.stop());
  const pgPid = Number((await readFile(join(pg.dir, "data", "postmaster.pid"), "utf8")).split("\n")[0]);
  const pgCpu = () => treeCpuSeconds(pgPid);
  const sumThreads = async (pids: number[]): Promise<ThreadCpu> => {
    const all = await Promise.all(pids.map(threadCpuSeconds));
    return {
      main: all.reduce((a, t) => a + t.main, 0),
      libuv: all.reduce((a, t) => a + t.libuv, 0),
      v8: all.reduce((a, t) => a + t.v8, 0),
      thread: all.reduce((a, t) => a + t.thread, 0),
    };
  };
  const dbArgs = ["--db", pg.socketUrl];
  line("PostgreSQL", `${(await pg.sql("show server_version")).trim()}, Unix socket, its default settings`);

  const csr = await makeCsr(root);
  const body = JSON.stringify({ csr: csr.pem });
  const sqliteData = join(root, "sqlite");
  const pgData = join(root, "postgres");
  await Promise.all([mkdir(sqliteData), mkdir(pgData)]);
  const auth = new Map<string, Record<string, string>>();

  /** One serve on `data`; the first start of a data directory initialises it and makes the token. */
  const serve = async (data: string, args: string[]): Promise<CaProcess> => {
    const ca = await startCa(data, await freePort(), undefined, args);
    if (!auth.has(data))
      auth.set(data, { authorization: `Bearer ${await createToken(data, TOKEN_NAME, args)}` });
    return ca;
  };
  const stopAll = async (cas: CaProcess[]) => {
    await Promise.all(cas.map((ca) => ca.stop()));
  };

  const start = async (setup: Setup): Promise<Target> => {
    if (setup === "sqlite" || setup === "postgres") {
      const ca = await (setup === "sqlite" ? serve(sqliteData, []) : serve(pgData, dbArgs));
      const release = cleanup.add("stop serve", () => ca.stop());
      const db = setup === "postgres" ? pgCpu : async () => 0;
      return {
        url: `${ca.baseUrl}/v1/sign`,
        rootPem: ca.rootPem,
        cpu: async () => ({ ca: await treeCpuSeconds(ca.pid), db: await db(), lb: 0 }),
        caThreads: () => sumThreads([ca.pid]),
        stop: async () => {
          release();
          await ca.stop();
        },
      };
    }
    // the first replica alone (it may initialise the data directory), then the second
    const cas = [await serve(pgData, dbArgs)];
    const release = cleanup.add("stop the replicas", () => stopAll(cas));
    try {
      cas.push(await serve(pgData, dbArgs));
      const lb = await startHaproxy(
        cas.map((ca, i) => ({
          name: `r${i + 1}`,
          host: "127.0.0.1",
          port: Number(new URL(ca.baseUrl).port),
        })),
      );
      const releaseLb = cleanup.add("stop HAProxy", () => lb.stop());
      await lb.waitUp();
      const lbPid = await ownChildNamed("haproxy");
      const rootPem = cas[0]?.rootPem ?? "";
      return {
        url: `https://${lb.address}/v1/sign`,
        rootPem,
        cpu: async () => ({
          ca: (await Promise.all(cas.map((ca) => treeCpuSeconds(ca.pid)))).reduce((a, b) => a + b, 0),
          db: await pgCpu(),
          lb: lbPid === null ? 0 : await treeCpuSeconds(lbPid),
        }),
        caThreads: () => sumThreads(cas.map((ca) => ca.pid)),
        stop: async () => {
          releaseLb();
          await lb.stop();
          release();
          await stopAll(cas);
        },
      };
    } catch (err) {
      release();
      await stopAll(cas);
      throw err;
    }
  };

  /** Certificates recorded between two times, per transaction that wrote them (xmin tells). */
  const perTransaction = async (from: number, to: number): Promise<number> => {
    const [certs, xacts] = (
      await pg.sql(
        `select count(*), count(distinct xmin::text) from certificates where created_at >= ${from} and created_at < ${to}`,
      )
    )
      .trim()
      .split("|")
      .map(Number);
    return (certs ?? 0) / Math.max(1, xacts ?? 0);
  };

  const turn = async (setup: Setup): Promise<Turn> => {
    const target = await start(setup);
    try {
      const data = setup === "sqlite" ? sqliteData : pgData;
      const headers = auth.get(data) ?? {};
      // one issuance checked first, so a misconfigured setup cannot pass for a fast one
      await issueOnce(target.url, {
        method: "POST",
        ca: target.rootPem,
        headers: { "content-type": "application/json", ...headers },
        body,
      });
      const reads: { ca: number; db: number; lb: number; threads: ThreadCpu; at: number }[] = [];
      const f = await load(
        {
          url: target.url,
          body,
          headers,
          seconds: s.seconds,
          // read before and after the measured run: the sum, and each part kept apart
          serverCpu: async () => {
            const now = { ...(await target.cpu()), threads: await target.caThreads(), at: Date.now() };
            reads.push(now);
            return now.ca + now.db + now.lb;
          },
        },
        // two replicas warm up twice as long: each then has served about as many requests before
        // the measured run as one replica alone has (the JIT's and PostgreSQL's caches are per
        // process: with the same warm-up each of two replicas was measured colder)
        setup === "postgres x2" ? 2 * s.warmup : s.warmup,
      );
      const [before, after] = reads;
      const per = (k: "ca" | "db" | "lb") =>
        before && after ? ((after[k] - before[k]) * 1e6) / Math.max(1, f.ok) : Number.NaN;
      const perThread = (k: keyof ThreadCpu) =>
        before && after ? ((after.threads[k] - before.threads[k]) * 1e6) / Math.max(1, f.ok) : Number.NaN;
      return {
        load: f,
        caMicros: per("ca"),
        dbMicros: per("db"),
        lbMicros: per("lb"),
        threads: {
          main: perThread("main"),
          libuv: perThread("libuv"),
          v8: perThread("v8"),
          thread: perThread("thread"),
        },
        perTransaction:
          setup === "sqlite" || !before || !after ? Number.NaN : await perTransaction(before.at, after.at),
      };
    } finally {
      await target.stop();
    }
  };

  heading(`POST /v1/sign, ${CONNECTIONS} connections, ${s.rounds} rounds of ${s.seconds} s each`);
  const turns = new Map<Setup, Turn[]>(SETUPS.map((k) => [k, []]));
  for (let i = 0; i < s.rounds; i++) {
    // the order turns every round, so no setup always runs first on a cooler machine
    const order = SETUPS.map((_, j) => SETUPS[(i + j) % SETUPS.length] as Setup);
    for (const setup of order) {
      const t = await turn(setup);
      turns.get(setup)?.push(t);
      line(
        `round ${i + 1}, ${setup}: req/s (p99 ms), non-2xx; server µs/req; per transaction`,
        `${round(t.load.reqPerSec)} (${round(t.load.p99Ms)}), ${t.load.non2xx + t.load.errors}; ` +
          `${round(t.caMicros + t.dbMicros + t.lbMicros)}; ${Number.isNaN(t.perTransaction) ? "-" : round(t.perTransaction, 1)}`,
      );
    }
  }

  const figures: Figures = {
    machine: { cores: availableParallelism(), loadavg1Start: loadAtStart, loadSeconds: s.seconds },
  };
  const med = (setup: Setup, f: (t: Turn) => number) => median((turns.get(setup) ?? []).map(f));
  for (const setup of SETUPS) {
    const reqPerSec = med(setup, (t) => t.load.reqPerSec);
    const ca = med(setup, (t) => t.caMicros);
    const db = med(setup, (t) => t.dbMicros);
    const lb = med(setup, (t) => t.lbMicros);
    heading(`POST /v1/sign, ${setup}: medians`);
    line("req/s (2xx)", round(reqPerSec));
    line("latency p99", round(med(setup, (t) => t.load.p99Ms)), "ms");
    line(
      "non-2xx and errors, all rounds",
      sum((turns.get(setup) ?? []).map((t) => t.load.non2xx + t.load.errors)),
    );
    const main = med(setup, (t) => t.threads.main);
    const libuv = med(setup, (t) => t.threads.libuv);
    const v8 = med(setup, (t) => t.threads.v8);
    const batch = med(setup, (t) => t.perTransaction);
    line("server CPU per request: the CA's processes", round(ca), "µs");
    line("  of which their event loops (main threads)", round(main), "µs");
    line("  their threadpools (CSR checks, signing)", round(libuv), "µs");
    line("  V8's threads (GC, compiler) and the others", round(v8), "µs");
    line("  PostgreSQL's", round(db), "µs");
    line("  HAProxy's", round(lb), "µs");
    line("  all of them", round(ca + db + lb), "µs");
    if (setup !== "sqlite") line("certificates per PostgreSQL transaction (group commit)", round(batch, 1));
    figures[setup] = {
      reqPerSec: round(reqPerSec),
      p99Ms: round(med(setup, (t) => t.load.p99Ms)),
      caCpuMicrosPerReq: round(ca),
      dbCpuMicrosPerReq: round(db),
      lbCpuMicrosPerReq: round(lb),
      caMainMicrosPerReq: round(main),
      caThreadpoolMicrosPerReq: round(libuv),
      caV8MicrosPerReq: round(v8),
      ...(setup === "sqlite" ? {} : { certificatesPerTransaction: round(batch, 1) }),
    };
  }
  const rate = (setup: Setup) => med(setup, (t) => t.load.reqPerSec);
  const ratios = {
    postgresOverSqlite: round(rate("postgres") / rate("sqlite"), 2),
    twoReplicasOverOne: round(rate("postgres x2") / rate("postgres"), 2),
  };
  heading("ratios of the median req/s");
  line("PostgreSQL / SQLite, one replica", ratios.postgresOverSqlite, "x");
  line("two replicas / one, on PostgreSQL behind HAProxy", ratios.twoReplicasOverOne, "x");
  figures.ratios = ratios;

  heading(`filling PostgreSQL with ${s.fillRows.toLocaleString("en-US")} certificates (serve stopped)`);
  const fill = await fillInventoryPg(
    { host: pg.dir, port: pg.port, user: "postgres", database: pg.database },
    TOKEN_NAME,
    s.fillRows,
  );
  line("seconds", round(fill.seconds, 1));
  const ca = await serve(pgData, dbArgs);
  const release = cleanup.add("stop serve", () => ca.stop());
  try {
    figures.inventory = await inventoryBench(
      ca,
      pgData,
      TOKEN_NAME,
      fill.totalRows,
      fillSample(s.fillRows),
      dbArgs,
    );
    const issued = await issueOnce(`${ca.baseUrl}/v1/sign`, {
      method: "POST",
      ca: ca.rootPem,
      headers: { "content-type": "application/json", ...auth.get(pgData) },
      body,
    });
    figures.dashboard = await dashboardBench(ca, pgData, fill.totalRows, {
      ...fillSample(s.fillRows),
      token: TOKEN_NAME,
      serial: new X509Certificate(issued.certificate).serialNumber.toLowerCase(),
    });
  } finally {
    release();
    await ca.stop();
  }
  const loadAtEnd = round(loadavg()[0] ?? 0, 2);
  line("load average (1 min) at the end", loadAtEnd);
  (figures.machine as Record<string, number>).loadavg1End = loadAtEnd;
  return figures;
}
