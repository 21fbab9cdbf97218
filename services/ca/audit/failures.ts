import type { AuditEntry } from "../core/audit.js";

/** One address's failed authentications within one window. */
interface Bucket {
  from: number;
  to: number;
  failures: number;
  /** requests refused with 429 because the address had failed too often */
  limited: number;
  tokens: Set<string>;
  reasons: Set<string>;
}

/** At most this many token names and reasons are kept per event (a flood may try thousands). */
const KEPT = 10;

/**
 * Failed authentications as audit events, aggregated: one `auth.failed` event per client address
 * per window (a minute, the limiter's), with the count, the 429s the limiter answered, and the
 * first few token names and reasons, written when the window is over (a sweep every quarter
 * window) or at `flush` (serve's shutdown). A flood of a thousand attempts a second from one
 * address is one row a minute, not a thousand a second.
 */
export function failureAudit(
  append: (e: AuditEntry) => Promise<void>,
  onError: (err: unknown) => void,
  windowMs = 60_000,
) {
  const buckets = new Map<string, Bucket>();
  const write = (address: string, b: Bucket) =>
    append({
      at: b.to,
      type: "auth.failed",
      actor: { kind: "address", id: address },
      subject: null,
      details: {
        failures: b.failures,
        limited: b.limited,
        from: new Date(b.from).toISOString(),
        to: new Date(b.to).toISOString(),
        tokens: [...b.tokens],
        reasons: [...b.reasons],
      },
    }).catch(onError);

  function bucketFor(address: string, now: number): Bucket {
    let b = buckets.get(address);
    if (b && now - b.from >= windowMs) {
      buckets.delete(address);
      void write(address, b);
      b = undefined;
    }
    if (!b) {
      b = { from: now, to: now, failures: 0, limited: 0, tokens: new Set(), reasons: new Set() };
      buckets.set(address, b);
    }
    b.to = Math.max(b.to, now);
    return b;
  }

  return {
    failed(address: string, now: number, token: string | null, reason: string): void {
      const b = bucketFor(address, now);
      b.failures++;
      if (token !== null && b.tokens.size < KEPT) b.tokens.add(token);
      if (b.reasons.size < KEPT) b.reasons.add(reason);
    },
    limited(address: string, now: number): void {
      bucketFor(address, now).limited++;
    },
    /** Writes the windows that are over by `now`. */
    sweep(now: number): Promise<unknown> {
      const done: Promise<unknown>[] = [];
      for (const [address, b] of buckets) {
        if (now - b.from < windowMs) continue;
        buckets.delete(address);
        done.push(write(address, b));
      }
      return Promise.all(done);
    },
    /** Writes every window, over or not. */
    flush(): Promise<unknown> {
      const done = [...buckets].map(([address, b]) => write(address, b));
      buckets.clear();
      return Promise.all(done);
    },
    windowMs,
  };
}
export type FailureAudit = ReturnType<typeof failureAudit>;
