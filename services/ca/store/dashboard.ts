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
 * The overview's figures: certificate_days summed (a few thousand rows, whatever the number of
 * certificates), and today's expired counted on the narrow certificates_expiry index (alone) and
 * the superseded's partial index: a range of at most one day's certificates.
 */
export function dashboardStore(db: Db) {
  const sqlite = db.$client;
  const groups = sqlite.prepare(groupsSql("@d0", "@days")).raw();
  const expiredToday = sqlite
    .prepare(
      `select count(*) from certificates indexed by certificates_expiry
        where not_after > ? and not_after <= ? and revoked_at is null`,
    )
    .pluck();
  const supersededExpiredToday = sqlite
    .prepare(
      `select count(*) from certificates indexed by certificates_superseded_order
        where renewed_by is not null and not_after > ? and not_after <= ? and revoked_at is null`,
    )
    .pluck();
  const read = sqlite.transaction((now: number, days: number) => {
    const { d0, day0 } = today(now);
    return assembleTimeline(
      groups.all({ d0, days }) as [number, number, number][],
      {
        all: expiredToday.get(day0, now) as number,
        superseded: supersededExpiredToday.get(day0, now) as number,
      },
      days,
    );
  });
  return {
    async expiryTimeline(now: number, days: number): Promise<ExpiryTimeline> {
      // one read transaction: the summary and today's rows from one snapshot
      return read.deferred(now, days);
    },
  };
}
export type DashboardStore = ReturnType<typeof dashboardStore>;
