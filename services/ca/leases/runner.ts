import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "../../../shared/log.js";

/** What leases need from storage (store/ports.ts LeasesPort). */
export interface LeaseStore {
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  renew(name: string, holder: string, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

export interface LeaseTimes {
  /** how long a lease lasts unless renewed: another replica takes over this long after a holder dies */
  ttlMs: number;
  /** how often a holder renews, and the others try to take, each lease */
  renewMs: number;
}

/** Lease for 30 s, renewed every 10 s: a dead holder's work moves within 40 s. */
export const LEASE_TIMES: LeaseTimes = { ttlMs: 30_000, renewMs: 10_000 };

/** This process's name as a lease holder: host, pid and a random part (pids repeat across hosts and restarts). */
export function leaseHolder(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString("hex")}`;
}

/**
 * Periodic work done by one replica at a time. `runUnderLease(name, fn)` runs `fn` when this
 * process holds the lease `name`, and otherwise does nothing and returns false. From its first
 * call for a name on, the runner keeps trying to take that lease every `renewMs` (renewing it
 * while it holds it), so when its holder dies (stops renewing), another replica has it within
 * `ttlMs + renewMs` and runs the work at its next turn. A lease is counted held only until a
 * margin before it would expire by the last renewal, so a holder that cannot reach the database
 * stops doing the work before another can take it.
 */
export function leaseRunner(store: LeaseStore, log: Logger, o: { holder?: string; times?: LeaseTimes } = {}) {
  const holder = o.holder ?? leaseHolder();
  const { ttlMs, renewMs } = o.times ?? LEASE_TIMES;
  /** per lease: until when (this process's clock) it counts as held, 0 when it is not */
  const leases = new Map<string, { heldUntil: number; attempt: Promise<void> | null }>();
  let closed = false;

  function attempt(name: string): Promise<void> {
    const lease = leases.get(name);
    if (!lease) return Promise.resolve();
    lease.attempt ??= (async () => {
      const asked = Date.now();
      try {
        const had = lease.heldUntil > asked;
        const held = await store.tryLease(name, holder, ttlMs);
        // held until a renewal's worth before its expiry, counted from when it was asked for
        lease.heldUntil = held ? asked + ttlMs - renewMs : 0;
        if (held !== had) log.info({ lease: name, holder }, held ? "lease taken" : "lease lost");
        else if (held) log.debug({ lease: name, holder }, "lease renewed");
      } catch (err) {
        log.error({ err, lease: name }, "taking or renewing a lease failed");
      } finally {
        lease.attempt = null;
      }
    })();
    return lease.attempt;
  }

  const timer = setInterval(() => {
    for (const name of leases.keys()) void attempt(name);
  }, renewMs);
  timer.unref();

  return {
    holder,
    /** Runs `fn` if this process holds (or can now take) the lease `name`; whether it ran. */
    async runUnderLease(name: string, fn: () => Promise<void> | void): Promise<boolean> {
      if (closed) return false;
      if (!leases.has(name)) {
        leases.set(name, { heldUntil: 0, attempt: null });
        await attempt(name);
      }
      if ((leases.get(name)?.heldUntil ?? 0) <= Date.now()) return false;
      await fn();
      return true;
    },
    /** Whether this process holds the lease `name` now. */
    holds(name: string): boolean {
      return (leases.get(name)?.heldUntil ?? 0) > Date.now();
    },
    /** Stops renewing and gives up every lease held, so that another replica takes over at once. */
    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      const held = [...leases].filter(([, l]) => l.heldUntil > Date.now()).map(([name]) => name);
      leases.clear();
      await Promise.all(
        held.map((name) =>
          store
            .release(name, holder)
            .catch((err) => log.error({ err, lease: name }, "releasing a lease failed")),
        ),
      );
    },
  };
}
export type LeaseRunner = ReturnType<typeof leaseRunner>;
