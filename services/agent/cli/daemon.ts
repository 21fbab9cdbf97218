/**
 * The daemon's own entry: `certyard-agent run` parses and checks its flags with the full CLI,
 * then replaces itself with this (same pid, process.execve), which loads only the scheduler and
 * a line logger. commander and pino stay out of the long-lived process (about 7 MiB of its
 * memory idle); the renewals it starts are full CLI processes as before. Its arguments are
 * internal: --home, --log-level, --log-format, --verify-timeout and --metrics-listen, already checked.
 */
import { parseDuration } from "../../../shared/duration.js";
import { collectAll, isolateGc } from "../../../shared/gc.js";
import { lineLogger } from "../../../shared/line-log.js";
import type { LogFormat } from "../../../shared/log-format.js";
import { hostPort } from "../../../shared/port.js";
import { runDaemon } from "../commands/run.js";

interface DaemonArgs {
  home: string;
  logLevel: string;
  logFormat: LogFormat;
  verifyTimeout: string;
  metricsListen?: string;
}

const FLAGS = ["--home", "--log-level", "--log-format", "--verify-timeout", "--metrics-listen"] as const;

/** Flag and value pairs, as `run` wrote them (a value may itself start with --). */
function parse(argv: string[]): DaemonArgs {
  const given = new Map<string, string>();
  for (let i = 0; i + 1 < argv.length; i += 2) given.set(argv[i] ?? "", argv[i + 1] ?? "");
  const value = (flag: (typeof FLAGS)[number]): string => {
    const v = given.get(flag);
    if (v === undefined) throw new Error(`daemon entry: ${flag} missing (start it with certyard-agent run)`);
    return v;
  };
  return {
    home: value("--home"),
    logLevel: value("--log-level"),
    logFormat: value("--log-format") === "text" ? "text" : "json",
    verifyTimeout: value("--verify-timeout"),
    metricsListen: given.get("--metrics-listen"),
  };
}

const o = parse(process.argv.slice(2));
const gc = isolateGc();
runDaemon({
  ...o,
  verifyTimeoutMs: parseDuration(o.verifyTimeout),
  metricsListen:
    o.metricsListen === undefined
      ? undefined
      : hostPort("--metrics-listen", o.metricsListen, "127.0.0.1:9465", true),
  log: lineLogger("certyard-agent", o.logLevel, o.logFormat),
  collect: () => collectAll(gc),
}).catch((err: unknown) => {
  process.stderr.write(`certyard-agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
