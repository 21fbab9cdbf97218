/**
 * The real CA as a child process: `certyard-ca serve` from dist/, its token CLI, one-off HTTPS
 * requests, and the resident memory of the primary and its cluster workers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { open, readdir, readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { run } from "./util.js";

/** dist/services/ca/main.js, next to dist/bench/ once built. */
export const CA_MAIN = fileURLToPath(new URL("../services/ca/main.js", import.meta.url));
const HOST = "127.0.0.1";
const READY_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface CaProcess {
  pid: number;
  baseUrl: string;
  rootPem: string;
  stop(): Promise<void>;
}

/**
 * Starts `serve` in its own process group (so stopping it reaches the workers too) and waits until
 * GET /healthz answers over TLS verified against DIR/root.crt.
 */
export async function startCa(
  data: string,
  port: number,
  workers?: number,
  extraArgs: readonly string[] = [],
  /** another build's services/ca/main.js (BENCH_BASE) */
  main: string = CA_MAIN,
  /** the node that runs it (BENCH_BASE_NODE: another version of node for that build) */
  node: string = process.execPath,
): Promise<CaProcess> {
  const logPath = join(data, `serve-${port}.log`);
  const log = await open(logPath, "a");
  let child: ChildProcess;
  try {
    const args = [main, "serve", "--data", data, "--listen", `${HOST}:${port}`, "--log-level", "warn"];
    if (workers !== undefined) args.push("--workers", String(workers));
    args.push(...extraArgs);
    child = spawn(node, args, { detached: true, stdio: ["ignore", log.fd, log.fd] });
    await once(child, "spawn");
  } finally {
    await log.close();
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error("serve did not start");
  const killGroup = (): void => signalGroup(pid, "SIGKILL");
  process.once("exit", killGroup);

  const stop = async (): Promise<void> => {
    process.removeListener("exit", killGroup);
    if (!exited(child)) {
      const gone = once(child, "exit");
      signalGroup(pid, "SIGTERM");
      const outcome = await Promise.race([gone, delay(STOP_DEADLINE_MS, "timeout" as const)]);
      if (outcome === "timeout") {
        signalGroup(pid, "SIGKILL");
        await gone;
      }
    }
    // Workers that outlived their primary would keep the port.
    signalGroup(pid, "SIGKILL");
  };

  const baseUrl = `https://${HOST}:${port}`;
  try {
    const rootPem = await waitHealthy(baseUrl, join(data, "root.crt"), child, logPath);
    return { pid, baseUrl, rootPem, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitHealthy(baseUrl: string, rootPath: string, child: ChildProcess, logPath: string) {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let last = "no attempt";
  while (Date.now() < deadline) {
    if (exited(child)) {
      throw new Error(`serve exited (${child.exitCode ?? child.signalCode}):\n${await tail(logPath)}`);
    }
    try {
      const rootPem = await readFile(rootPath, "utf8");
      const res = await httpsRequest(`${baseUrl}/healthz`, { method: "GET", ca: rootPem });
      if (res.status === 200) return rootPem;
      last = `healthz answered ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await delay(100);
  }
  throw new Error(`serve not healthy after ${READY_DEADLINE_MS} ms (${last}):\n${await tail(logPath)}`);
}

async function tail(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

/** `certyard-ca token create`, which prints the secret alone on stdout; `dbArgs`: --db URL or none. */
export async function createToken(
  data: string,
  name: string,
  dbArgs: readonly string[] = [],
): Promise<string> {
  const { stdout } = await run(process.execPath, [
    CA_MAIN,
    "token",
    "create",
    "--data",
    data,
    ...dbArgs,
    "--name",
    name,
    "--dns",
    "registry.lan",
    "--ip",
    "10.0.0.0/24",
    "--rate",
    "100000000/1s",
  ]);
  const secret = stdout.trim();
  if (!secret || secret.includes("\n")) throw new Error(`token create printed an unexpected: ${stdout}`);
  return secret;
}

export interface HttpsOptions {
  method: string;
  ca: string;
  headers?: Record<string, string>;
  body?: string;
  cert?: string;
  key?: string;
}

export interface HttpsResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One bounded HTTPS request on a fresh connection. */
export function httpsRequest(url: string, o: HttpsOptions): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method,
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        headers: o.headers,
        timeout: REQUEST_TIMEOUT_MS,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${o.method} ${url} timed out`)));
    req.on("error", reject);
    req.end(o.body);
  });
}

/** The fields of an issued certificate the bench uses. */
export interface IssuedPems {
  certificate: string;
  fullchain: string;
}

/** Checks that a request succeeds before it is put under load, and returns what it issued. */
export async function issueOnce(url: string, o: HttpsOptions): Promise<IssuedPems> {
  const res = await httpsRequest(url, o);
  if (res.status !== 201) throw new Error(`${o.method} ${url} answered ${res.status}: ${res.body}`);
  const parsed: unknown = JSON.parse(res.body);
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !("certificate" in parsed) ||
    !("fullchain" in parsed) ||
    typeof parsed.certificate !== "string" ||
    typeof parsed.fullchain !== "string"
  ) {
    throw new Error(`${url} answered without certificate/fullchain: ${res.body.slice(0, 300)}`);
  }
  return { certificate: parsed.certificate, fullchain: parsed.fullchain };
}

export interface ProcessMemory {
  pid: number;
  rssMiB: number;
  /** proportional set size: shared pages (node's code) counted once across the processes */
  pssMiB: number | null;
}

export interface ServeMemory {
  primary: ProcessMemory;
  workers: ProcessMemory[];
  totalRssMiB: number;
  totalPssMiB: number | null;
}

/** RSS and PSS of the primary and of each child it forked, from /proc (Linux). */
export async function serveMemory(pid: number): Promise<ServeMemory> {
  const primary = await processMemory(pid);
  const workers = await Promise.all((await childPids(pid)).map(processMemory));
  const all = [primary, ...workers];
  const pss = all.map((p) => p.pssMiB);
  return {
    primary,
    workers,
    totalRssMiB: all.reduce((sum, p) => sum + p.rssMiB, 0),
    totalPssMiB: pss.every((v) => v !== null) ? pss.reduce((sum: number, v) => sum + (v ?? 0), 0) : null,
  };
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/PID/stat; 100 on every common kernel. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) used so far by a process and the children it forked. */
export async function treeCpuSeconds(pid: number): Promise<number> {
  const pids = [pid, ...(await childPids(pid))];
  const ticks = await Promise.all(pids.map(cpuTicks));
  return ticks.reduce((sum, t) => sum + t, 0) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds by kind of thread: "main" (the event loop), "libuv" (the threadpool: signing), "v8"
 * (GC, compiler), "thread" (worker_threads threads: serve --crypto-thread's).
 */
export type ThreadCpu = Record<"main" | "libuv" | "v8" | "thread", number>;

/** CPU seconds so far of a process tree's threads, summed by kind (ThreadCpu), from /proc. */
export async function threadCpuSeconds(pid: number): Promise<ThreadCpu> {
  const sums: ThreadCpu = { main: 0, libuv: 0, v8: 0, thread: 0 };
  for (const p of [pid, ...(await childPids(pid))]) {
    let tasks: string[];
    try {
      tasks = await readdir(`/proc/${p}/task`);
    } catch {
      continue; // exited in the meantime
    }
    for (const t of tasks) {
      try {
        const stat = await readFile(`/proc/${p}/task/${t}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const kind =
          t === String(p)
            ? "main"
            : comm.startsWith("libuv")
              ? "libuv"
              : comm === "WorkerThread"
                ? "thread"
                : "v8";
        sums[kind] += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      } catch {
        // the thread ended in the meantime
      }
    }
  }
  return sums;
}

async function cpuTicks(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces; fields are counted after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // exited in the meantime
  }
}

/**
 * The pid of a direct child of this process by its command name (cfssl's module keeps its own),
 * other than those in `besides`.
 */
export async function ownChildNamed(
  name: string,
  besides: readonly (number | null)[] = [],
): Promise<number | null> {
  for (const pid of await childPids(process.pid)) {
    if (besides.includes(pid)) continue;
    try {
      if ((await readFile(`/proc/${pid}/comm`, "utf8")).trim() === name) return pid;
    } catch {
      // exited in the meantime
    }
  }
  return null;
}

async function childPids(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const lists = await Promise.all(tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, "utf8")));
  return lists
    .join(" ")
    .split(/\s+/)
    .filter((s) => s !== "")
    .map(Number);
}

export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  if (!Number.isFinite(rssKiB)) throw new Error(`no VmRSS for pid ${pid}`);
  let pssMiB: number | null = null;
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
    const pssKiB = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1]);
    if (Number.isFinite(pssKiB)) pssMiB = pssKiB / 1024;
  } catch {
    // smaps_rollup needs Linux 4.14 and permission; RSS is what the target names anyway
  }
  return { pid, rssMiB: rssKiB / 1024, pssMiB };
}
