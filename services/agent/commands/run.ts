import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LineLogger } from "../../../shared/line-log.js";
import type { LogFormat } from "../../../shared/log-format.js";
import { homeLayout } from "../config.js";
import {
  afterRenewal,
  afterRootCheck,
  type DaemonState,
  type Hold,
  nextStep,
  ROOT_CHECK_MS,
  type ScheduleEntry,
  scheduleEntry,
} from "../schedule.js";

/**
 * The daemon is a scheduler and nothing more: it reads each record's name and renewal time as
 * plain JSON and runs the work itself as short-lived child processes (`renew --name N`,
 * `check-root`), which load the schemas, the HTTP client and the X.509 code, log to the same
 * stderr and exit. So the long-lived process stays near a bare node's memory, and a renewal
 * that leaks or crashes takes nothing down with it.
 *
 * SIGTERM or SIGINT: no new work starts; a renewal under way finishes (it runs in its own
 * process group, so a terminal's Ctrl-C does not cut it off between writing files and
 * verifying them), then the daemon exits 0. A second signal passes SIGTERM on to it.
 */

const AGENT_MAIN = fileURLToPath(new URL("../main.js", import.meta.url));
/** Beyond --verify-timeout: the CA round trip, a container restart, rolling back. */
const RENEW_GRACE_MS = 10 * 60_000;
const ROOT_CHECK_TIMEOUT_MS = 2 * 60_000;
/** A report per certificate, each at most 15 s (the CA and the --verify target). */
const REPORT_TIMEOUT_MS = 5 * 60_000;

export interface DaemonOptions {
  home: string;
  log: LineLogger;
  logLevel: string;
  /** the daemon's own --log-format, which its renewals write in too */
  logFormat: LogFormat;
  /** as given on the command line, passed on to each renewal */
  verifyTimeout: string;
  verifyTimeoutMs: number;
  /** --metrics-listen, checked: GET /metrics there (run-metrics.ts, loaded only then) */
  metricsListen?: { host: string; port: number };
  /**
   * Called when the daemon goes to sleep after work (its start, a check, a renewal): one full
   * garbage collection, so the hours of sleep are not spent holding that work's garbage.
   */
  collect?: () => void;
}

interface Exit {
  code: number | null;
  signal: string | null;
  error?: string;
}

export async function runDaemon(o: DaemonOptions): Promise<void> {
  const { log } = o;
  const layout = homeLayout(o.home);
  const common = ["--home", o.home, "--log-level", o.logLevel, "--log-format", o.logFormat];
  const stop = new AbortController();
  let running: { child: ChildProcess; what: string } | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      stop.abort();
      if (running) log.info({ signal, running: running.what }, "stopping once the running task ends");
    } else if (running) {
      log.warn({ signal, running: running.what }, "second signal: stopping the running task");
      running.child.kill("SIGTERM");
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const run = async (what: string, args: string[], timeoutMs: number): Promise<Exit> => {
    const child = spawn(process.execPath, [AGENT_MAIN, ...args, ...common], {
      stdio: ["ignore", "ignore", "inherit"],
      detached: true,
    });
    running = { child, what };
    try {
      return await exited(child, timeoutMs, log, what);
    } finally {
      running = null;
    }
  };

  const metrics = o.metricsListen
    ? await import("./run-metrics.js").then((m) =>
        m.daemonMetrics(layout.certs, o.metricsListen?.host ?? "", o.metricsListen?.port ?? 0),
      )
    : null;
  if (metrics && o.metricsListen) {
    const h = o.metricsListen.host;
    log.info({ url: `http://${h.includes(":") ? `[${h}]` : h}:${metrics.port}/metrics` }, "serving metrics");
  }
  const holds = new Map<string, Hold>();
  let root: Pick<DaemonState, "rootCheckAt" | "rootFailures"> = { rootCheckAt: Date.now(), rootFailures: 0 };
  const unreadable = new Set<string>();
  // The daily report to the CA (`report`, a child like the others) rides on the root check's
  // turn, which comes at start and then daily; renewals report themselves.
  let reportAt = Date.now();
  const reportIfDue = async () => {
    if (Date.now() < reportAt || stop.signal.aborted) return;
    reportAt = Date.now() + ROOT_CHECK_MS;
    const exit = await run("report", ["report"], REPORT_TIMEOUT_MS);
    if (exit.code === 0) log.info({ nextInMs: ROOT_CHECK_MS }, "reported to the CA");
    else log.warn({ exit: describe(exit) }, "reporting to the CA failed; next try tomorrow");
  };
  log.info({ home: o.home }, "agent started");
  let worked = true;
  try {
    while (!stop.signal.aborted) {
      const entries = readEntries(layout.certs, log, unreadable);
      for (const name of holds.keys()) if (!entries.some((e) => e.name === name)) holds.delete(name);
      const step = nextStep(Date.now(), entries, { holds, ...root });
      if (step.kind === "sleep") {
        if (worked) o.collect?.();
        worked = false;
        await sleepUntil(step.until, stop.signal);
        continue;
      }
      worked = true;
      if (step.kind === "check-root") {
        if (!existsSync(layout.caJson) || !existsSync(layout.rootPem)) {
          log.info("not bootstrapped yet: no root to check");
          root = { rootCheckAt: Date.now() + ROOT_CHECK_MS, rootFailures: 0 };
          if (entries.length > 0) await reportIfDue();
          continue;
        }
        const exit = await run("check-root", ["check-root"], ROOT_CHECK_TIMEOUT_MS);
        root = afterRootCheck({ holds, ...root }, exit.code === 0, Date.now());
        metrics?.rootCheck(exit.code === 0);
        if (entries.length > 0) await reportIfDue();
        if (exit.code === 0) log.info({ nextInMs: ROOT_CHECK_MS }, "root checked");
        else
          log.warn(
            { exit: describe(exit), attempt: root.rootFailures, retryInMs: root.rootCheckAt - Date.now() },
            "root check did not pass; retrying",
          );
      } else {
        const entry = entries.find((e) => e.name === step.name);
        log.info(
          { cert: step.name, renewAt: new Date(entry?.renewAt ?? 0).toISOString(), attempt: step.attempt },
          "renewal due",
        );
        const exit = await run(
          `renew ${step.name}`,
          ["renew", "--name", step.name, "--verify-timeout", o.verifyTimeout],
          o.verifyTimeoutMs + RENEW_GRACE_MS,
        );
        const hold = afterRenewal(holds.get(step.name), exit.code === 0, Date.now());
        holds.set(step.name, hold);
        metrics?.renewal(step.name, exit.code === 0, hold.failures);
        // The child has logged the renewal, or why it failed, itself.
        if (exit.code !== 0) {
          const abnormal = exit.code !== 1;
          log[abnormal ? "error" : "warn"](
            {
              cert: step.name,
              attempt: hold.failures,
              retryInMs: hold.until - Date.now(),
              exit: describe(exit),
            },
            "renewal to be retried",
          );
        }
      }
    }
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await metrics?.close();
  }
  log.info("agent stopped");
}

/** The records' names and renewal times; a file that is not a record is reported once. */
function readEntries(dir: string, log: LineLogger, unreadable: Set<string>): ScheduleEntry[] {
  if (!existsSync(dir)) return [];
  const entries: ScheduleEntry[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    let entry: ScheduleEntry | null = null;
    let why = "no name or renewAt";
    try {
      entry = scheduleEntry(JSON.parse(readFileSync(join(dir, file), "utf8")));
    } catch (err) {
      why = (err as Error).message;
    }
    if (entry) {
      unreadable.delete(file);
      entries.push(entry);
    } else if (!unreadable.has(file)) {
      unreadable.add(file);
      log.error({ file: join(dir, file), err: why }, "skipping a record that cannot be read");
    }
  }
  return entries;
}

function exited(child: ChildProcess, timeoutMs: number, log: LineLogger, what: string): Promise<Exit> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      log.error({ running: what, timeoutMs }, "the task took too long; stopping it");
      child.kill("SIGTERM");
    }, timeoutMs);
    const done = (exit: Exit) => {
      clearTimeout(timer);
      resolve(exit);
    };
    child.once("error", (err) => done({ code: null, signal: null, error: err.message }));
    child.once("exit", (code, signal) => done({ code, signal }));
  });
}

const describe = (e: Exit) =>
  e.error ? `could not start: ${e.error}` : e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;

function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, at - Date.now()));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
