import { writeSync } from "node:fs";
import { type LogFormat, textLine } from "./log-format.js";

/**
 * A logger for the agent daemon, which logs a few lines a day and otherwise sleeps: the same
 * lines pino writes (`{"level":30,"time":…,"pid":…,"name":…,…fields,"msg":…}`, or as text
 * through textLine), without loading pino, which cost the idle daemon about 3 MiB. Lines are
 * written synchronously to stderr, one write each.
 */
export interface LineLogger {
  debug(fields: Record<string, unknown> | string, msg?: string): void;
  info(fields: Record<string, unknown> | string, msg?: string): void;
  warn(fields: Record<string, unknown> | string, msg?: string): void;
  error(fields: Record<string, unknown> | string, msg?: string): void;
}

/** pino's level numbers. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export function lineLogger(name: string, level: string, format: LogFormat): LineLogger {
  const threshold = level === "silent" ? Number.POSITIVE_INFINITY : (LEVELS[level] ?? 30);
  const at =
    (n: number) =>
    (fields: Record<string, unknown> | string, msg?: string): void => {
      if (n < threshold) return;
      const own = typeof fields === "string" ? {} : serialised(fields);
      const text = typeof fields === "string" ? fields : msg;
      const line = JSON.stringify({
        level: n,
        time: Date.now(),
        pid: process.pid,
        name,
        ...own,
        ...(text === undefined ? {} : { msg: text }),
      });
      writeSync(2, `${format === "text" ? textLine(line) : line}\n`);
    };
  return { debug: at(20), info: at(30), warn: at(40), error: at(50) };
}

/** Errors as pino's standard serializer writes them: type, message, stack. */
function serialised(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { type: v.name, message: v.message, stack: v.stack } : v;
  }
  return out;
}
