import type { Db } from "./db.js";

/**
 * Leases on periodic work (the leases table): a lease is held by one holder until it expires;
 * its holder renews it, anyone takes it once it has expired. Each call is one statement. The
 * time is this process's clock: replicas on one SQLite file share one machine's.
 */
export function leaseStore(db: Db, clock: () => number = Date.now) {
  const sqlite = db.$client;
  // Taken when free, expired, or already this holder's (then renewed).
  const take = sqlite.prepare<{ name: string; holder: string; now: number; until: number }>(
    `insert into leases (name, holder, expires_at) values (:name, :holder, :until)
     on conflict (name) do update set holder = :holder, expires_at = :until
     where leases.holder = :holder or leases.expires_at <= :now`,
  );
  const renew = sqlite.prepare<{ name: string; holder: string; until: number }>(
    "update leases set expires_at = :until where name = :name and holder = :holder",
  );
  const release = sqlite.prepare<{ name: string; holder: string }>(
    "delete from leases where name = :name and holder = :holder",
  );
  return {
    tryLease(name: string, holder: string, ttlMs: number): boolean {
      const now = clock();
      return take.run({ name, holder, now, until: now + ttlMs }).changes === 1;
    },
    renew(name: string, holder: string, ttlMs: number): boolean {
      return renew.run({ name, holder, until: clock() + ttlMs }).changes === 1;
    },
    release(name: string, holder: string): void {
      release.run({ name, holder });
    },
  };
}
