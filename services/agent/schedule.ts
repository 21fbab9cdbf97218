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

/*
 * The daemon's decisions. It keeps, per certificate, when it may next try (a hold: after a
 * failure the backoff, after a success a short gap so a certificate whose lifetime is shorter
 * than the loop cannot spin it) and, for the root, when the next check is due. Pure: the
 * clock and the records are passed in.
 */

/** What the daemon needs of a managed record; read from its JSON without the full schema. */
export interface ScheduleEntry {
  name: string;
  renewAt: number;
}

export interface Hold {
  failures: number;
  until: number;
}

export interface DaemonState {
  holds: ReadonlyMap<string, Hold>;
  rootCheckAt: number;
  rootFailures: number;
}

export type Step =
  | { kind: "check-root" }
  | { kind: "renew"; name: string; attempt: number }
  | { kind: "sleep"; until: number };

export const ROOT_CHECK_MS = 24 * 3_600_000;
/** The longest the daemon sleeps without reading the records again (new certificates, clock jumps). */
export const MAX_SLEEP_MS = 3_600_000;
export const RENEW_GAP_MS = 1000;

/** The name and renewal time of a record, or null when the file is not one. */
export function scheduleEntry(record: unknown): ScheduleEntry | null {
  if (typeof record !== "object" || record === null) return null;
  const { name, renewAt } = record as Record<string, unknown>;
  if (typeof name !== "string" || name === "" || typeof renewAt !== "string") return null;
  const at = Date.parse(renewAt);
  return Number.isFinite(at) ? { name, renewAt: at } : null;
}

/**
 * What to do now: the root check when due, else the renewal that has been due longest, else
 * sleep until the next of these (at most MAX_SLEEP_MS).
 */
export function nextStep(now: number, entries: readonly ScheduleEntry[], state: DaemonState): Step {
  if (now >= state.rootCheckAt) return { kind: "check-root" };
  let wake = Math.min(now + MAX_SLEEP_MS, state.rootCheckAt);
  let chosen: { name: string; due: number; failures: number } | null = null;
  for (const e of entries) {
    // A hold that ends before the recorded renewal time is history: the certificate has been
    // renewed since (perhaps by hand), so its failures no longer count.
    const held = state.holds.get(e.name);
    const hold = held && held.until > e.renewAt ? held : undefined;
    const due = hold?.until ?? e.renewAt;
    if (!isDue(due, now)) wake = Math.min(wake, due);
    else if (!chosen || due < chosen.due) chosen = { name: e.name, due, failures: hold?.failures ?? 0 };
  }
  if (chosen) return { kind: "renew", name: chosen.name, attempt: chosen.failures + 1 };
  return { kind: "sleep", until: wake };
}

/** The hold after a renewal attempt: the backoff after a failure, a short gap after a success. */
export function afterRenewal(previous: Hold | undefined, ok: boolean, now: number): Hold {
  if (ok) return { failures: 0, until: now + RENEW_GAP_MS };
  const failures = (previous?.failures ?? 0) + 1;
  return { failures, until: now + backoffMs(failures) };
}

/** The root is checked daily; a failed check (unreachable CA or another root) backs off. */
export function afterRootCheck(
  state: DaemonState,
  ok: boolean,
  now: number,
): Pick<DaemonState, "rootCheckAt" | "rootFailures"> {
  if (ok) return { rootCheckAt: now + ROOT_CHECK_MS, rootFailures: 0 };
  const rootFailures = state.rootFailures + 1;
  return { rootCheckAt: now + backoffMs(rootFailures), rootFailures };
}
