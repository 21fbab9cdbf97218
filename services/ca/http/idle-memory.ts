import type { Server } from "node:net";
import { collectAll, isolateGc } from "../../../shared/gc.js";

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
 * So: every CHECK_MS, when no connection or request came since the last check, and the resident
 * memory has grown by GROWTH_BYTES since the last collection (or the start), collect once. A
 * collection costs tens of ms of one core; it never runs while requests keep coming, and a trickle
 * of requests that grows nothing does not trigger one after each. The resident size, not V8's own
 * heap figures: right after a load V8 may have just collected, its heapTotal back near the start's,
 * while the process still holds freed pages (with heapTotal + external as the measure, one run
 * here ended its loads at 91 MiB PSS, 42 above the start, and never collected).
 */
export const CHECK_MS = 3000;
export const GROWTH_BYTES = 8 * 1024 * 1024;

/** The process's resident bytes (process.memoryUsage.rss(): one read of /proc, no heap walk). */
export const residentBytes = (): number => process.memoryUsage.rss();

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

  /** Called every CHECK_MS with residentBytes(): whether to collect now. */
  tick(bytes: number): boolean {
    const busy = this.seen !== this.seenAtTick;
    this.seenAtTick = this.seen;
    if (busy || this.seen === this.seenAtCollection) return false;
    return bytes - this.baseline >= GROWTH_BYTES;
  }

  /** A collection ran; `bytes` is residentBytes() after it, the next growth's start. */
  collected(bytes: number): void {
    this.seenAtCollection = this.seen;
    this.baseline = bytes;
  }
}

export interface IdleCollection {
  beforeBytes: number;
  afterBytes: number;
  ms: number;
}

/**
 * Watches `server` and collects once it idles after a load; stop() ends the timer. `rest` runs
 * first each time: other parts let go of what they can start again (serve's crypto thread).
 */
export function collectWhenIdle(
  server: Server,
  onCollected: (c: IdleCollection) => void,
  checkMs = CHECK_MS,
  rest: () => void = () => {},
): { stop(): void } {
  const policy = new IdlePolicy(residentBytes());
  const gc = isolateGc();
  const seen = () => policy.activity();
  server.on("connection", seen);
  server.on("request", seen);
  const timer = setInterval(() => {
    const beforeBytes = residentBytes();
    if (!policy.tick(beforeBytes)) return;
    const started = performance.now();
    rest();
    collectAll(gc);
    const afterBytes = residentBytes();
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
