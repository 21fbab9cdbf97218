import type { Logger } from "../../../shared/log.js";
import { rateLimited } from "../../../shared/problem.js";
import { WindowCounter } from "../core/limiter.js";
import { TokenRefused } from "../core/tokens.js";

/** After this many failed authentications from one client address within the window: 429. */
export const FAILED_AUTH_LIMIT = { limit: 10, windowMs: 60_000 };

/**
 * Failed token authentications, per client address: each is logged at warn (the token's name or
 * id, the address, the reason), and an address with FAILED_AUTH_LIMIT failures in a minute gets
 * 429 with Retry-After for any token, a right one included, until the minute is over. Counted in
 * memory, per process; `counted` hears of each failure (certyard_auth_failures_total).
 */
export function authFailures(log: Logger, limits = FAILED_AUTH_LIMIT, counted: () => void = () => {}) {
  const counter = new WindowCounter(limits.limit, limits.windowMs);
  return {
    /** 429 when the address is over the limit. */
    check(address: string, now: number): void {
      const wait = counter.waitFor(address, now);
      if (wait > 0) {
        throw rateLimited(
          `too many failed authentications from ${address}: at most ${limits.limit} a minute`,
          wait,
        );
      }
    },
    /** Counts and logs a failure, when `err` is one (a refused or missing token), and gives it back. */
    note(err: unknown, address: string, now: number): unknown {
      if (err instanceof TokenRefused) {
        counter.hit(address, now);
        counted();
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
