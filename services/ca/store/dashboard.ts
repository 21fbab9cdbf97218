import type { InventoryState } from "../core/inventory.js";
import type { Db } from "./db.js";

export const DAY_MS = 86_400_000;

/** What the dashboard's overview shows of the inventory. */
export interface OverviewFigures {
  /** certificates in each state (core/inventory.ts stateOf) at `now` */
  counts: Record<InventoryState, number>;
  /**
   * Valid certificates (in force, not renewed, not revoked) by the UTC day they expire, from
   * today (index 0, only those still in force at `now`) to `days - 1`.
   */
  expiringByDay: number[];
  /** valid ones expiring on a later day than the timeline shows */
  expiringLater: number;
}

/**
 * The overview's figures. Every query runs on an index: the revoked on their partial index, the
 * rest as ranges of certificates_not_after (expiry, then the columns that tell the state), so
 * nothing reads the table's rows (their PEM).
 */
export function dashboardStore(db: Db) {
  const sqlite = db.$client;
  const revoked = sqlite.prepare("select count(*) from certificates where revoked_at is not null").pluck();
  const expired = sqlite
    .prepare("select count(*) from certificates where not_after <= ? and revoked_at is null")
    .pluck();
  // In force, grouped by the day of expiry counted from the start of today (UTC); superseded
  // ones in a group of their own (-1). The group key rises with not_after, so SQLite counts in
  // the index's order.
  const live = sqlite
    .prepare(
      `select case when renewed_by is not null then -1 else cast((not_after - @day0) / ${DAY_MS} as integer) end as k,
              count(*) as n
         from certificates
        where not_after > @now and revoked_at is null
        group by k`,
    )
    .raw();
  return {
    async overview(now: number, days: number): Promise<OverviewFigures> {
      const day0 = Math.floor(now / DAY_MS) * DAY_MS;
      const expiringByDay = new Array<number>(days).fill(0);
      let superseded = 0;
      let valid = 0;
      let expiringLater = 0;
      for (const [k, n] of live.all({ now, day0 }) as [number, number][]) {
        if (k === -1) {
          superseded += n;
          continue;
        }
        valid += n;
        if (k < days) expiringByDay[k] = (expiringByDay[k] ?? 0) + n;
        else expiringLater += n;
      }
      return {
        counts: {
          valid,
          superseded,
          expired: expired.get(now) as number,
          revoked: revoked.get() as number,
        },
        expiringByDay,
        expiringLater,
      };
    },
  };
}
export type DashboardStore = ReturnType<typeof dashboardStore>;
