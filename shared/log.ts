import pino, { type Logger } from "pino";
import { defaultLogFormat, type LogFormat, textLine } from "./log-format.js";

/**
 * Events on stderr, so stdout stays for what a command prints: one JSON line each (pino), or
 * with format "text" one line a person reads, such as
 * `certyard-agent: warning: the container registry does not exist yet (name=registry)`.
 */
export function createLogger(name: string, level = "info", format: LogFormat = defaultLogFormat()): Logger {
  const options = { name, level, base: { pid: process.pid } };
  if (format === "json") return pino(options, pino.destination({ dest: 2, sync: false }));
  return pino(options, { write: (line: string) => void process.stderr.write(`${textLine(line)}\n`) });
}
export type { Logger };
