/**
 * When renewal is due: at two thirds of the lifetime (a third left), moved earlier by up to a
 * twentieth of the lifetime at random, so many hosts issued together do not renew together.
 * Pure: the random draw is passed in.
 */
export function renewalTime(notBefore: number, notAfter: number, random: number): number {
  const lifetime = notAfter - notBefore;
  return Math.round(notBefore + (lifetime * 2) / 3 - random * (lifetime / 20));
}

/** Within an ACME renewal window (RFC 9773 4.2): a uniformly random time inside it. */
export function renewalTimeInWindow(start: number, end: number, random: number): number {
  return Math.round(start + (end - start) * random);
}

export const isDue = (renewAt: number, now: number) => now >= renewAt;

/** Capped exponential backoff for retries after a failed renewal: 1 min, 2, 4 ... at most 1 h. */
export function backoffMs(failures: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, failures - 1), 3_600_000);
}
