import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * V8's gc(): `--expose-gc` set at run time only installs the gc function in contexts made after
 * it, so the process's own global gets none and child processes inherit no flag; a new context
 * hands the function out (the function collects the whole isolate).
 */
export function isolateGc(): NodeJS.GCFunction {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as NodeJS.GCFunction;
}

/**
 * One memory-reducing full collection (V8's "last-resort" one, as under memory pressure): for a
 * process that goes idle after work, since V8 collects only when JavaScript allocates (issue 16).
 */
export function collectAll(gc: NodeJS.GCFunction = isolateGc()): void {
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
}
