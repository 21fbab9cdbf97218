import type { Server } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives memory back once `serve` goes idle after a load (issue 16).
 *
 * Under load V8's old generation fills with promoted garbage (request objects, and the
 * ArrayBuffers of TLS reads and certificates, whose memory is malloc's), and nothing collects it
 * while the process idles: V8 collects when allocating, and an idle server allocates nothing.
 * Measured here after the bench's sign and renew loads (load average 14), one process held 137
 * MiB PSS and kept it; a "last-resort" collection (V8's memory-reducing full GC, as under memory
 * pressure) took 31 MiB of V8 heap pages and up to 37 MiB of ArrayBuffers back.
 *
 * So: every CHECK_MS, when no connection or request came since the last check, and the V8 heap
 * plus external memory has grown by GROWTH_BYTES since the last collection, collect once. A
 * collection costs tens of ms of one core; it never runs while requests keep coming, and a trickle
 * of requests that allocates little does not trigger one after each.
 */
export const CHECK_MS = 3000;
export const GROWTH_BYTES = 8 * 1024 * 1024;

/** The bytes a collection can give back: V8's heap pages and the memory of external objects. */
export const collectableBytes = (): number => {
  const m = process.memoryUsage();
  return m.heapTotal + m.external;
};

/** When to collect: the decision alone, driven by tick(), so it is tested without timers. */
export class IdlePolicy {
  private seen = 0;
  private seenAtTick = 0;
  private seenAtCollection = 0;

  constructor(private baseline: number) {}

  /** A connection or a request arrived. */
  activity(): void {
    this.seen++;
  }

  /** Called every CHECK_MS with collectableBytes(): whether to collect now. */
  tick(bytes: number): boolean {
    const busy = this.seen !== this.seenAtTick;
    this.seenAtTick = this.seen;
    if (busy || this.seen === this.seenAtCollection) return false;
    return bytes - this.baseline >= GROWTH_BYTES;
  }

  /** A collection ran; `bytes` is collectableBytes() after it, the next growth's start. */
  collected(bytes: number): void {
    this.seenAtCollection = this.seen;
    this.baseline = bytes;
  }
}

/**
 * V8's gc(): `--expose-gc` set at run time only installs the gc function in contexts made after
 * it, so the process's own global gets none and child processes inherit no flag; a new context
 * hands the function out (the function collects the whole isolate).
 */
export function isolateGc(): NodeJS.GCFunction {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as NodeJS.GCFunction;
}

export interface IdleCollection {
  beforeBytes: number;
  afterBytes: number;
  ms: number;
}

/** Watches `server` and collects once it idles after a load; stop() ends the timer. */
export function collectWhenIdle(
  server: Server,
  onCollected: (c: IdleCollection) => void,
  checkMs = CHECK_MS,
): { stop(): void } {
  const policy = new IdlePolicy(collectableBytes());
  const gc = isolateGc();
  const seen = () => policy.activity();
  server.on("connection", seen);
  server.on("request", seen);
  const timer = setInterval(() => {
    const beforeBytes = collectableBytes();
    if (!policy.tick(beforeBytes)) return;
    const started = performance.now();
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    const afterBytes = collectableBytes();
    policy.collected(afterBytes);
    onCollected({ beforeBytes, afterBytes, ms: performance.now() - started });
  }, checkMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      server.off("connection", seen);
      server.off("request", seen);
    },
  };
}
