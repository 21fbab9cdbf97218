import type { Logger } from "../../../shared/log.js";
import { rateLimited } from "../../../shared/problem.js";
import type { FailureAudit } from "../audit/failures.js";
import { TokenRefused } from "../core/tokens.js";

/** After this many failed authentications from one client address within the window: 429. */
export const FAILED_AUTH_LIMIT = { limit: 10, windowMs: 60_000 };

/** Where the failures are counted: the database (store/auth-failures.ts), shared by every replica. */
export interface FailureWindows {
  window(address: string): Promise<{ windowStart: number; count: number } | null>;
  hit(address: string, now: number, windowMs: number): Promise<void>;
}

/**
 * Failed token authentications, per client address: each is logged at warn (the token's name or
 * id, the address, the reason), and an address with FAILED_AUTH_LIMIT failures in a minute gets
 * 429 with Retry-After for any token, a right one included, until the minute is over. Counted in
 * `windows` (the database, so that replicas behind a balancer count a client together), else in
 * memory, per process; `counted` hears of each failure (certyard_auth_failures_total).
 */
export function authFailures(
  log: Logger,
  limits = FAILED_AUTH_LIMIT,
  counted: () => void = () => {},
  windows: FailureWindows = memoryWindows(),
  /** the audit trail's aggregation of failures (audit/failures.ts) */
  audit?: Pick<FailureAudit, "failed" | "limited">,
) {
  return {
    /** 429 when the address is over the limit. */
    async check(address: string, now: number): Promise<void> {
      const w = await windows.window(address);
      if (!w || now - w.windowStart >= limits.windowMs || w.count < limits.limit) return;
      const wait = Math.max(1, Math.ceil((w.windowStart + limits.windowMs - now) / 1000));
      audit?.limited(address, now);
      throw rateLimited(
        `too many failed authentications from ${address}: at most ${limits.limit} a minute`,
        wait,
      );
    },
    /** Counts and logs a failure, when `err` is one (a refused or missing token), and gives it back. */
    async note(err: unknown, address: string, now: number): Promise<unknown> {
      if (err instanceof TokenRefused) {
        await windows.hit(address, now, limits.windowMs);
        counted();
        audit?.failed(address, now, err.token.name ?? err.token.id ?? null, err.reason);
        log.warn(
          { token: err.token.name ?? err.token.id ?? null, address, reason: err.reason },
          "token authentication failed",
        );
      }
      return err;
    },
  };
}
export type AuthFailures = ReturnType<typeof authFailures>;

/** Windows in this process's memory (tests, and a CA without a store). */
function memoryWindows(): FailureWindows {
  const map = new Map<string, { windowStart: number; count: number }>();
  return {
    async window(address) {
      return map.get(address) ?? null;
    },
    async hit(address, now, windowMs) {
      const w = map.get(address);
      if (!w || now - w.windowStart >= windowMs) {
        if (map.size >= 10_000) for (const [k, v] of map) if (now - v.windowStart >= windowMs) map.delete(k);
        map.set(address, { windowStart: now, count: 1 });
      } else w.count++;
    },
  };
}
