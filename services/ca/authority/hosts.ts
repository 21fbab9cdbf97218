import { forbidden } from "../../../shared/problem.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { type HostRecord, type HostView, hostView, type NewestCertificate } from "../core/hosts.js";
import { namesOf } from "../core/inventory.js";
import type { CertificateRecord } from "../core/types.js";

/** What the fleet view needs from storage; the SQLite store implements it (store/hosts.ts). */
export interface HostPorts {
  saveReport(rec: HostRecord): Promise<void>;
  hostReport(name: string, host: string): Promise<HostRecord | null>;
  hostReports(): Promise<HostRecord[]>;
  newestCertificate(names: readonly string[]): Promise<NewestCertificate | null>;
}

/** A host's report as POST /v1/hosts/report takes it, checked. */
export interface HostReport {
  name: string;
  host: string;
  servedSha256?: string;
  renewAt?: string;
  error?: string;
}

/**
 * The fleet view: hosts report the certificate they serve, authenticated by one this CA issued
 * (`client`), and are listed against the newest certificate issued for their names.
 */
export function hostService(store: HostPorts, clock: () => number) {
  /** The SHA-256 of the newest certificate for each set of names, looked up once per call. */
  function newestLookup(): (names: readonly string[]) => Promise<string | null> {
    const seen = new Map<string, Promise<string | null>>();
    return (names) => {
      const key = [...names].sort().join("\n");
      let found = seen.get(key);
      if (!found) {
        found = store.newestCertificate(names).then((c) => {
          const der = c ? certificatesFromPem(c.pem)[0] : undefined;
          return der ? fingerprint(der) : null;
        });
        seen.set(key, found);
      }
      return found;
    };
  }

  return {
    /**
     * Records a report. A row belongs to the names of the certificates that report it: one whose
     * names share none with the row's is refused, so one host's certificate cannot overwrite
     * another's row.
     */
    async report(client: CertificateRecord, r: HostReport): Promise<void> {
      const names = namesOf(client);
      const before = await store.hostReport(r.name, r.host);
      if (before && !before.names.some((n) => names.includes(n))) {
        throw forbidden(
          `${r.name}@${r.host} is reported by certificates for ${before.names.join(", ")}; this one is for ${names.join(", ")}`,
        );
      }
      await store.saveReport({
        name: r.name,
        host: r.host,
        lastSeen: clock(),
        serial: client.serial,
        names,
        notBefore: client.notBefore,
        notAfter: client.notAfter,
        servedSha256: r.servedSha256 ?? null,
        renewAt: r.renewAt === undefined ? null : Date.parse(r.renewAt),
        error: r.error ?? null,
      });
    },

    /** Every host as GET /v1/hosts shows it. */
    async list(): Promise<HostView[]> {
      const rows = await this.withNewest();
      return rows.map(({ record, newestSha256 }) => hostView(record, newestSha256));
    },

    /** Every host's stored report with the SHA-256 of the newest certificate for its names. */
    async withNewest(): Promise<{ record: HostRecord; newestSha256: string | null }[]> {
      const newest = newestLookup();
      const records = await store.hostReports();
      return Promise.all(
        records.map(async (record) => ({ record, newestSha256: await newest(record.names) })),
      );
    },
  };
}
export type HostService = ReturnType<typeof hostService>;
