import type { HostRecord, NewestCertificate } from "../core/hosts.js";
import type { Db } from "./db.js";
import { and, asc, desc, eq, isNull, sql } from "./drizzle.cjs";
import { alerts, certificateNames, certificates, hosts } from "./schema.js";

/**
 * How many of a name's certificates, latest expiry first, are looked through for the newest one
 * with the same names: a name renewed every few weeks for years has hundreds, the newest is first.
 */
const NEWEST_SCAN = 50;

/** The hosts' reports and the alerts' states. Every function returns a Promise (issue 17's ports). */
export function hostStore(db: Db) {
  return {
    /** One host's report: the row of (name, host) is made or replaced. */
    async saveReport(rec: HostRecord): Promise<void> {
      const { name, host, ...rest } = rec;
      db.insert(hosts)
        .values(rec)
        .onConflictDoUpdate({ target: [hosts.name, hosts.host], set: rest })
        .run();
    },

    async hostReport(name: string, host: string): Promise<HostRecord | null> {
      const row = db
        .select()
        .from(hosts)
        .where(and(eq(hosts.name, name), eq(hosts.host, host)))
        .get();
      return row ?? null;
    },

    /** Every host's last report, by name then host. */
    async hostReports(): Promise<HostRecord[]> {
      return db.select().from(hosts).orderBy(asc(hosts.name), asc(hosts.host)).all();
    },

    /**
     * The newest unrevoked certificate carrying exactly `names` (as the inventory writes them):
     * the latest issued among the latest-expiring ones of the first name. Null when there is none.
     */
    async newestCertificate(names: readonly string[]): Promise<NewestCertificate | null> {
      const first = names[0];
      if (first === undefined) return null;
      const rows = db
        .select({
          serial: certificates.serial,
          pem: certificates.pem,
          dnsNames: certificates.dnsNames,
          ipAddresses: certificates.ipAddresses,
          notBefore: certificates.notBefore,
          notAfter: certificates.notAfter,
          renewedBy: certificates.renewedBy,
          createdAt: certificates.createdAt,
        })
        .from(certificateNames)
        .innerJoin(certificates, eq(certificates.serial, certificateNames.serial))
        .where(and(eq(certificateNames.name, first), isNull(certificates.revokedAt)))
        .orderBy(desc(certificateNames.notAfter))
        .limit(NEWEST_SCAN)
        .all();
      const wanted = [...new Set(names)].sort().join("\n");
      // One not renewed yet comes first (a renewal in the same second has the same notBefore),
      // then the latest issued.
      const rank = (r: (typeof rows)[number]) => [r.renewedBy === null ? 1 : 0, r.notBefore, r.createdAt];
      let newest: (typeof rows)[number] | null = null;
      for (const r of rows) {
        const own = [...new Set([...r.dnsNames.map((n) => n.toLowerCase()), ...r.ipAddresses])];
        if (own.sort().join("\n") !== wanted) continue;
        if (newest === null || later(rank(r), rank(newest))) newest = r;
      }
      return (
        newest && {
          serial: newest.serial,
          pem: newest.pem,
          notBefore: newest.notBefore,
          notAfter: newest.notAfter,
        }
      );
    },

    /** Every alert condition's state. */
    async alertStates(): Promise<{ key: string; firing: boolean; changedAt: number; summary: string }[]> {
      return db
        .select()
        .from(alerts)
        .all()
        .map((a) => ({ ...a, firing: a.firing === 1 }));
    },

    /**
     * Sets an alert's state unless it has it already: true when this call changed it, so that
     * of several processes (or a restart) only one sends the webhook. A compare-and-set in one
     * statement: the row is made firing, or flipped where its state differs.
     */
    async setAlert(key: string, firing: boolean, summary: string, now: number): Promise<boolean> {
      if (firing) {
        const res = db
          .insert(alerts)
          .values({ key, firing: 1, changedAt: now, summary })
          .onConflictDoUpdate({
            target: alerts.key,
            set: { firing: 1, changedAt: now, summary },
            setWhere: sql`${alerts.firing} = 0`,
          })
          .run();
        return res.changes === 1;
      }
      const res = db
        .update(alerts)
        .set({ firing: 0, changedAt: now })
        .where(and(eq(alerts.key, key), eq(alerts.firing, 1)))
        .run();
      return res.changes === 1;
    },
  };
}
function later(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return false;
}

export type HostStore = ReturnType<typeof hostStore>;
