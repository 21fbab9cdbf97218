import { formatDuration } from "../../../../shared/duration.js";
import { malformed } from "../../../../shared/problem.js";
import { backdateFor, DEFAULT_VALIDITY_MS } from "../policy.js";

/**
 * newOrder's notBefore and notAfter (RFC 8555 7.4), honoured in the manner of step-ca. Pure: strings and a
 * clock value in, times out. Every refusal is "malformed": the identifiers are acceptable, it is
 * the request's validity fields the CA will not honour (7.4: the server "MUST return an error if
 * it cannot fulfill the request as specified"), and rejectedIdentifier would send the client
 * looking at the wrong field.
 */

/**
 * How far a requested notBefore may lie behind the CA's clock: room for clock skew and for the
 * time between newOrder and finalize, within the contract's "backdated by at most a few minutes".
 */
export const MAX_BACKDATE_MS = 5 * 60_000;

/** The window as the order asked for it, epoch milliseconds in whole seconds; null where absent. */
export interface RequestedWindow {
  notBefore: number | null;
  notAfter: number | null;
}

// RFC 3339 5.6 date-time; "T" and "Z" in either case (5.6, NOTE). Fractions are accepted and
// dropped: certificate times carry whole seconds (RFC 5280 4.1.2.5).
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 date-time as epoch milliseconds (whole seconds), or a malformed problem naming the field. */
export function parseRfc3339(field: string, text: string): number {
  const m = DATE_TIME.exec(text);
  const bad = (why: string) =>
    malformed(`${field} "${text}" is not an RFC 3339 date-time (${why}), e.g. 2030-01-31T12:00:00Z`);
  if (!m) throw bad("expected YYYY-MM-DDThh:mm:ss and Z or an offset such as +02:00");
  const n = (i: number) => Number(m[i] ?? 0);
  const [y, mo, d, h, mi, s, oh, om] = [n(1), n(2), n(3), n(4), n(5), n(6), n(8), n(9)];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (days === undefined) throw bad("month out of range");
  if (d < 1 || d > days) throw bad("day out of range");
  if (h > 23 || mi > 59 || oh > 23 || om > 59) throw bad("time out of range");
  // 5.7 allows a leap second; a certificate cannot carry one (RFC 5280 4.1.2.5: seconds 00-59).
  if (s > 59) throw bad("second out of range");
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  t.setUTCHours(h, mi, s, 0);
  return t.getTime() - (m[7] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
}

export function parseRequestedWindow(req: { notBefore?: string; notAfter?: string }): RequestedWindow {
  return {
    notBefore: req.notBefore === undefined ? null : parseRfc3339("notBefore", req.notBefore),
    notAfter: req.notAfter === undefined ? null : parseRfc3339("notAfter", req.notAfter),
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

/**
 * The validity a certificate for the order gets when issued at `now`, or null when the order
 * asked for none (the authority's default then applies). Checked at newOrder, so a client learns
 * at once, and again at finalize, when time has passed:
 * - notAfter must be later than notBefore, and still ahead;
 * - notBefore may be at most MAX_BACKDATE_MS behind now, and at most one maximum lifetime ahead
 *   (enough to line up a successor certificate; no further than the credential's horizon);
 * - notAfter - notBefore may not exceed the EAB's maximum validity.
 * Without notBefore, the certificate starts as any other (backdated, see backdateFor), later when
 * notAfter needs it to stay within the maximum; without notAfter, it lasts the default lifetime.
 */
export function issuanceWindow(
  w: RequestedWindow,
  maxValidityMs: number,
  now: number,
): { notBefore: Date; notAfter: Date } | null {
  const max = formatDuration(maxValidityMs);
  let notBefore: number;
  let notAfter: number;
  if (w.notBefore === null) {
    if (w.notAfter === null) return null;
    notAfter = w.notAfter;
    // as validityFor does, in whole seconds, but never so early that the lifetime exceeds the maximum
    notBefore = Math.max(
      Math.floor(now / 1000) * 1000 - backdateFor(notAfter - now),
      notAfter - maxValidityMs,
    );
  } else {
    notBefore = w.notBefore;
    notAfter = w.notAfter ?? notBefore + Math.min(DEFAULT_VALIDITY_MS, maxValidityMs);
  }
  if (w.notBefore !== null && w.notAfter !== null && notAfter <= notBefore) {
    throw malformed(`notAfter ${iso(notAfter)} must be later than notBefore ${iso(notBefore)}`);
  }
  if (notAfter <= now) throw malformed(`notAfter ${iso(notAfter)} has already passed`);
  if (w.notBefore !== null && notBefore < now - MAX_BACKDATE_MS) {
    throw malformed(
      `notBefore ${iso(notBefore)} is more than ${formatDuration(MAX_BACKDATE_MS)} before the CA's time ${iso(now)}: certificates are backdated by at most that much`,
    );
  }
  if (w.notBefore !== null && notBefore > now + maxValidityMs) {
    throw malformed(
      `notBefore ${iso(notBefore)} is more than ${max} (the external account binding's maximum validity) ahead`,
    );
  }
  if (w.notBefore === null && notBefore > now) {
    throw malformed(
      `notAfter ${iso(notAfter)} is more than ${max} (the external account binding's maximum validity) from now; send a notBefore to start later`,
    );
  }
  if (notAfter - notBefore > maxValidityMs) {
    throw malformed(
      `the requested validity ${formatDuration(notAfter - notBefore)} exceeds the external account binding's maximum ${max}`,
    );
  }
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}
