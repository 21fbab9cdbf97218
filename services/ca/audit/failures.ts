import { type FailureTally, TALLY_KEPT } from "../core/audit.js";
import type { FailureTalliesPort } from "../store/failure-tallies.js";

/**
 * Failed authentications as audit events, aggregated: one `auth.failed` event per client address
 * and window (a minute, the limiter's), with the count, the 429s the limiter answered, and the
 * first few token names and reasons. A flood of a thousand attempts a second is one row a
 * minute, however many processes, workers and replicas it reaches.
 *
 * Each process counts in memory and adds its counts to the database's tally of the address every
 * quarter window (store/failure-tallies.ts); the tally becomes the event once its first attempt
 * is a window old, written by whichever process sweeps first. At shutdown a process adds what it
 * holds and writes only the tallies that are due: the rest are the other replicas' still, or the
 * next start's (start() writes what is due), so a stop does not cut a window in two.
 */
export function failureAudit(
  tallies: FailureTalliesPort,
  onError: (err: unknown) => void,
  windowMs = 60_000,
) {
  const buckets = new Map<string, FailureTally>();

  function bucketFor(address: string, now: number): FailureTally {
    let b = buckets.get(address);
    if (!b) {
      b = { address, firstAt: now, lastAt: now, failures: 0, limited: 0, tokens: [], reasons: [] };
      buckets.set(address, b);
    }
    b.firstAt = Math.min(b.firstAt, now);
    b.lastAt = Math.max(b.lastAt, now);
    return b;
  }
  const keep = (list: string[], v: string) => {
    if (list.length < TALLY_KEPT && !list.includes(v)) list.push(v);
  };

  /** Adds every bucket to the database's tallies, then writes the tallies due by `now`. */
  async function sweep(now: number): Promise<void> {
    const held = [...buckets.values()];
    buckets.clear();
    try {
      for (const b of held) await tallies.add(b);
      await tallies.writeDue(now - windowMs);
    } catch (err) {
      onError(err);
    }
  }

  return {
    failed(address: string, now: number, token: string | null, reason: string): void {
      const b = bucketFor(address, now);
      b.failures++;
      if (token !== null) keep(b.tokens, token);
      keep(b.reasons, reason);
    },
    limited(address: string, now: number): void {
      bucketFor(address, now).limited++;
    },
    /** Adds what this process counted to the database, and writes the tallies a window old. */
    sweep,
    windowMs,
  };
}
export type FailureAudit = ReturnType<typeof failureAudit>;
