import type { HostRecord, NewestCertificate } from "../../core/hosts.js";
import { and, asc, desc, eq, isNull, sql } from "../drizzle.cjs";
import type { PgDb } from "./db.js";
import { alerts, certificateNames, certificates, hosts } from "./schema.js";

/** As store/hosts.ts: how many of a name's latest-expiring certificates are looked through. */
const NEWEST_SCAN = 50;

/** The hosts' reports and the alerts' states on PostgreSQL: what store/hosts.ts does on SQLite. */
export function pgHostStore(db: PgDb) {
  return {
    async saveReport(rec: HostRecord): Promise<void> {
      const { name: _n, host: _h, ...rest } = rec;
      await db
        .insert(hosts)
        .values(rec)
        .onConflictDoUpdate({ target: [hosts.name, hosts.host], set: rest });
    },

    async hostReport(name: string, host: string): Promise<HostRecord | null> {
      const [row] = await db
        .select()
        .from(hosts)
        .where(and(eq(hosts.name, name), eq(hosts.host, host)));
      return row ?? null;
    },

    async hostReports(): Promise<HostRecord[]> {
      return db.select().from(hosts).orderBy(asc(hosts.name), asc(hosts.host));
    },

    async newestCertificate(names: readonly string[]): Promise<NewestCertificate | null> {
      const first = names[0];
      if (first === undefined) return null;
      const rows = await db
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
        .limit(NEWEST_SCAN);
      const wanted = [...new Set(names)].sort().join("\n");
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

    async alertStates(): Promise<{ key: string; firing: boolean; changedAt: number; summary: string }[]> {
      return (await db.select().from(alerts)).map((a) => ({ ...a, firing: a.firing === 1 }));
    },

    /** Compare-and-set in one statement: true when this call changed the alert's state. */
    async setAlert(key: string, firing: boolean, summary: string, now: number): Promise<boolean> {
      if (firing) {
        const made = await db
          .insert(alerts)
          .values({ key, firing: 1, changedAt: now, summary })
          .onConflictDoUpdate({
            target: alerts.key,
            set: { firing: 1, changedAt: now, summary },
            setWhere: sql`${alerts.firing} = 0`,
          })
          .returning({ key: alerts.key });
        return made.length === 1;
      }
      const flipped = await db
        .update(alerts)
        .set({ firing: 0, changedAt: now })
        .where(and(eq(alerts.key, key), eq(alerts.firing, 1)))
        .returning({ key: alerts.key });
      return flipped.length === 1;
    },
  };
}

function later(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return false;
}
