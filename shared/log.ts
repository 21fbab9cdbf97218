import pino, { type Logger } from "pino";

/** One JSON line per event on stderr, so stdout stays for what a command prints. */
export function createLogger(name: string, level = "info"): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}
export type { Logger };
