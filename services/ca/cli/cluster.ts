import cluster, { type Worker } from "node:cluster";
import { isMetricsAsk } from "../metrics/protocol.js";
import { onSignal, type Ready } from "./lifecycle.js";
import { missingServeFlags } from "./v8-flags.js";

/** What a worker is for, as its primary forked it (in the worker's environment, the only way in). */
export type WorkerRole = { kind: "init" } | { kind: "serve"; index: number };

const ROLE_VARIABLE = "CERTYARD_WORKER_ROLE";
const INDEX_VARIABLE = "CERTYARD_WORKER_INDEX";

/** The role a primary gave this worker, read from the environment it was forked with. */
export function workerRoleFrom(env: Record<string, string | undefined>): WorkerRole {
  if (env[ROLE_VARIABLE] === "init") return { kind: "init" };
  return { kind: "serve", index: Number(env[INDEX_VARIABLE] ?? "0") };
}

/**
 * Runs `init` in a worker of its own, which exits when done: what init leaves behind in a
 * process (key generation, bcrypt: about 12 MiB) is then nobody's. Resolves with its exit code;
 * a failed init has printed its own one-line error.
 */
export function initInWorker(): Promise<number> {
  return new Promise<number>((resolve) =>
    cluster.fork({ [ROLE_VARIABLE]: "init" }).on("exit", (c) => resolve(c ?? 1)),
  );
}

/**
 * The cluster's primary: on an empty directory runs `init` in a worker that exits when done;
 * then starts worker 0 (it issues the serving certificate), then the others; restarts a worker
 * that dies after it was serving; stops them all on SIGTERM. A worker that fails before serving
 * has printed why; the primary then stops the rest and exits 1.
 */
export async function runPrimary(
  n: number,
  host: string,
  announce: (r: Ready) => void,
  o: {
    initFirst: boolean;
    nodeOptions: string | undefined;
    /** --metrics-listen: serves the exposition it is given; resolves once it listens */
    metrics?: (exposition: () => Promise<string>) => Promise<{ url: string; close(): Promise<void> }>;
  },
): Promise<void> {
  let stopping = false;
  // prom-client is loaded in the primary only when metrics are first asked for.
  const exposition = () => import("../metrics/cluster.js").then((m) => m.clusterExposition());
  // Listening first: a busy address fails serve before any worker starts.
  const metrics = o.metrics ? await o.metrics(exposition) : null;
  const serving = new Set<Worker>();
  cluster.setupPrimary({ execArgv: workerExecArgv(o.nodeOptions) });

  const start = (index: number): Promise<Ready> =>
    new Promise((resolve) => {
      const worker = cluster.fork({ [INDEX_VARIABLE]: String(index) });
      worker.on("message", (msg: { type?: string } & Ready) => {
        if (isMetricsAsk(msg)) {
          void import("../metrics/cluster.js").then((m) => m.answerWorker(worker, msg));
          return;
        }
        if (msg?.type !== "ready") return;
        serving.add(worker);
        resolve(msg);
      });
      worker.on("exit", (code, signal) => {
        if (stopping) return;
        if (!serving.has(worker)) {
          // It printed its own one-line error; nothing more to add.
          void stopAll().then(() => process.exit(code || 1));
          return;
        }
        serving.delete(worker);
        // pino is loaded only now: an idle primary stays small.
        void import("../../../shared/log.js").then(({ createLogger }) =>
          createLogger("certyard-ca").error({ index, code, signal }, "worker exited; starting another"),
        );
        void start(index);
      });
    });

  const stopAll = async () => {
    stopping = true;
    await metrics?.close();
    await Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w || w.isDead()) return resolve();
            w.once("exit", () => resolve());
            w.process.kill("SIGTERM");
          }),
      ),
    );
  };
  onSignal(stopAll);

  if (o.initFirst) {
    // A worker of its own initialises the directory and exits: what init leaves behind in a
    // process (about 12 MiB) is then nobody's.
    const code = await initInWorker();
    // A failed init printed its own one-line error; a stop during init exits on its own.
    if (stopping) return;
    if (code !== 0) process.exit(code);
  }
  const first = await start(0);
  await Promise.all(Array.from({ length: n - 1 }, (_, i) => start(i + 1)));
  announce({ ...first, host, metricsUrl: metrics?.url });
}

/** The workers' node flags: the primary's own, and the V8 settings of v8-flags.ts. */
function workerExecArgv(nodeOptions: string | undefined): string[] {
  return [...process.execArgv, ...missingServeFlags(process.execArgv, nodeOptions)];
}
