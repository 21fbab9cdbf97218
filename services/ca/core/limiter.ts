/**
 * Counts events per key in fixed windows: `hit` records one and says whether the key is over
 * its limit, and for how many seconds. In memory, per process; keys whose window has passed are
 * dropped as the map grows, so a flood of keys cannot grow it for long.
 */
export class WindowCounter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until `key` may try again (0: within the limit), without counting anything. */
  waitFor(key: string, now: number): number {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs || w.count < this.limit) return 0;
    return Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
  }

  /** Counts one event for `key`. */
  hit(key: string, now: number): void {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      if (this.windows.size >= 10_000) this.prune(now);
      this.windows.set(key, { start: now, count: 1 });
    } else w.count++;
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
  }
}
