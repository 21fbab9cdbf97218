import type { InventoryState } from "../core/inventory.js";
import type { Db } from "./db.js";

export const DAY_MS = 86_400_000;

/** The overview's figures: counts by state and the expiry timeline. */
export interface ExpiryTimeline {
  /** certificates in each state (core/inventory.ts stateOf) at `now` */
  counts: Record<InventoryState, number>;
  /** index 0: today (only those still in force at `now`), up to `days - 1` */
  perDay: number[];
  /** valid ones expiring on a later day than the timeline shows */
  later: number;
}

/** stateCounts: certificates per state, and the valid ones expiring within each window asked for. */
export interface StateCounts {
  states: Record<InventoryState, number>;
  expiring: number[];
}

/** certificate_days' groups, relative to today: revoked, expired before today, after the timeline. */
export const GROUP = { revoked: -3, before: -2, later: -1 } as const;

/**
 * The SQL (both dialects) that sums certificate_days into at most (days + 3) x 2 rows: [group,
 * renewed, n], group being a day of the timeline (0 = today) or one of GROUP. `@d0` is today's
 * day number, `@days` the timeline's length. certificate_days' `day` is the one whose (start,
 * end] holds not_after, (not_after - 1) / 86400000, so today's day holds both the certificates
 * that expired earlier today and those still in force: todayExpired tells them apart.
 */
export function groupsSql(d0: string, days: string): string {
  return `select case when revoked = 1 then ${GROUP.revoked} when day < ${d0} then ${GROUP.before}
            when day >= ${d0} + ${days} then ${GROUP.later} else day - ${d0} end as k, renewed, sum(n) as n
       from certificate_days group by 1, 2`;
}

/**
 * The figures from the summed groups and the not revoked that expired today before `now` (all
 * of them, and the superseded among them): what "expired" means moves with the clock, the
 * summary does not, so only today's day is looked at in certificates themselves.
 */
export function assembleTimeline(
  groups: readonly (readonly [number, number, number])[],
  todayExpired: { all: number; superseded: number },
  days: number,
): ExpiryTimeline {
  const perDay = new Array<number>(days).fill(0);
  const today = [0, 0];
  let later = 0;
  let superseded = 0;
  let expired = todayExpired.all;
  let revoked = 0;
  for (const [k, renewed, n] of groups) {
    if (k === GROUP.revoked) revoked += n;
    else if (k === GROUP.before) expired += n;
    else if (k === 0) today[renewed] = (today[renewed] ?? 0) + n;
    else if (renewed === 1) superseded += n;
    else if (k === GROUP.later) later += n;
    else perDay[k] = n;
  }
  perDay[0] = (today[0] ?? 0) - (todayExpired.all - todayExpired.superseded);
  superseded += (today[1] ?? 0) - todayExpired.superseded;
  const valid = perDay.reduce((a, b) => a + b, later);
  return { counts: { valid, superseded, expired, revoked }, perDay, later };
}

/** Today's day number, as certificate_days counts days, and today's start. */
export function today(now: number): { d0: number; day0: number } {
  const d0 = Math.floor(now / DAY_MS);
  return { d0, day0: d0 * DAY_MS };
}

/**
 * Where each of the metrics' windows (now, now + w] ends, as the timeline counts days: `k`, the
 * day of its last instant from today. The timeline's days 0 to k - 1 lie wholly inside it (day 0
 * from `now` on); of day k only (lo, hi] does, counted in certificates themselves: at most a
 * day's certificates, on an index. `days`: how long a timeline they need.
 */
export function windowParts(now: number, windowsMs: readonly number[]) {
  const { d0 } = today(now);
  const parts = windowsMs.map((w) => {
    const hi = now + w;
    const k = Math.floor((hi - 1) / DAY_MS) - d0;
    return { k, lo: k <= 0 ? now : (d0 + k) * DAY_MS, hi };
  });
  return { parts, days: Math.max(1, ...parts.map((p) => p.k)) };
}

/** The metrics' counts from the timeline and, for each window, the valid ones in its last part. */
export function countsOf(
  t: ExpiryTimeline,
  parts: readonly { k: number }[],
  lastPart: readonly number[],
): StateCounts {
  return {
    states: t.counts,
    expiring: parts.map((p, i) =>
      t.perDay.slice(0, Math.max(0, p.k)).reduce((a, b) => a + b, lastPart[i] ?? 0),
    ),
  };
}

/**
 * The overview's figures: certificate_days summed (a few thousand rows, whatever the number of
 * certificates), and today's expired counted on the inventory's index (alone: it holds
 * revoked_at) and the superseded's partial index: a range of at most one day's certificates.
 * A narrow index on (not_after, revoked_at) counted that day 1.2x faster (0.033 against 0.039 ms
 * for 1,082 rows), but cost every issuance a b-tree insert and 0.24 pages (migration 0018).
 */
export function dashboardStore(db: Db) {
  const sqlite = db.$client;
  const groups = sqlite.prepare(groupsSql("@d0", "@days")).raw();
  const expiredToday = sqlite
    .prepare(
      `select count(*) from certificates indexed by certificates_not_after
        where not_after > ? and not_after <= ? and revoked_at is null`,
    )
    .pluck();
  const supersededExpiredToday = sqlite
    .prepare(
      `select count(*) from certificates indexed by certificates_superseded_order
        where renewed_by is not null and not_after > ? and not_after <= ? and revoked_at is null`,
    )
    .pluck();
  /** the certificates not revoked with notAfter in (lo, hi], all and the superseded among them */
  const inRange = (lo: number, hi: number) => ({
    all: expiredToday.get(lo, hi) as number,
    superseded: supersededExpiredToday.get(lo, hi) as number,
  });
  const timeline = (now: number, days: number) => {
    const { d0, day0 } = today(now);
    return assembleTimeline(groups.all({ d0, days }) as [number, number, number][], inRange(day0, now), days);
  };
  // one read transaction each: the summary and the rows counted from one snapshot
  const read = sqlite.transaction(timeline);
  const counts = sqlite.transaction((now: number, windowsMs: readonly number[]) => {
    const { parts, days } = windowParts(now, windowsMs);
    const valid = parts.map((p) => {
      const r = inRange(p.lo, p.hi);
      return r.all - r.superseded;
    });
    return countsOf(timeline(now, days), parts, valid);
  });
  return {
    async expiryTimeline(now: number, days: number): Promise<ExpiryTimeline> {
      return read.deferred(now, days);
    },
    /**
     * certificates.stateCounts' figures (the metrics' gauges), from the summary: that one counts
     * over whole indexes at every scrape.
     */
    async stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts> {
      return counts.deferred(now, windowsMs);
    },
  };
}
export type DashboardStore = ReturnType<typeof dashboardStore>;
