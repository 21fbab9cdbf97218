import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type RootCert, storeNickname } from "./root-certs.js";
import { runToolOrFail, type ToolStep } from "./trust-tool.js";

/**
 * `trust --nss`: the root into the NSS databases that Firefox and Chromium (and Chrome) read for
 * the invoking user, with Debian's certutil (libnss3-tools), as a CA trusted for TLS servers
 * ("C,,"). Each database is found by its cert9.db (the sql: format; the old dbm format is gone
 * from both browsers).
 */

/** Where the browsers keep them, relative to the user's home; `*` is one profile folder. */
export const NSS_LOCATIONS = [
  ".pki/nssdb",
  ".mozilla/firefox/*",
  "snap/chromium/current/.pki/nssdb",
  "snap/firefox/common/.mozilla/firefox/*",
  ".var/app/org.mozilla.firefox/.mozilla/firefox/*",
  ".var/app/org.chromium.Chromium/.pki/nssdb",
];

/** The folders under `home` that hold a cert9.db, in NSS_LOCATIONS order. */
export function findNssDbs(home: string): string[] {
  const found: string[] = [];
  for (const location of NSS_LOCATIONS) {
    const [parent, star] = location.endsWith("/*") ? [location.slice(0, -2), true] : [location, false];
    const base = join(home, parent);
    const dirs = !star
      ? [base]
      : existsSync(base)
        ? readdirSync(base, { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .map((d) => join(base, d.name))
            .sort()
        : [];
    found.push(...dirs.filter((d) => existsSync(join(d, "cert9.db"))));
  }
  return found;
}

export interface NssDb {
  dir: string;
  /** nickname -> trust attributes ("C,,"), as certutil -L lists them */
  certs: Record<string, string>;
}

/** certutil -L: a two-line header, then "NICKNAME<spaces>SSL,S/MIME,JAR" per certificate. */
export function parseCertutilList(out: string): Record<string, string> {
  const certs: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = /^(.*\S)\s+([a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*)\s*$/.exec(line);
    if (m?.[1] && m[2] !== undefined && !/^Certificate Nickname/.test(m[1])) certs[m[1]] = m[2];
  }
  return certs;
}

export function readNssDb(certutil: string, dir: string): NssDb {
  return { dir, certs: parseCertutilList(runToolOrFail([certutil, "-L", "-d", `sql:${dir}`])) };
}

/** TLS server CA, and nothing for e-mail or code signing. */
export const NSS_TRUST = "C,,";

export function planNss(certutil: string, dbs: NssDb[], roots: RootCert[], remove: boolean): ToolStep[] {
  const steps: ToolStep[] = [];
  for (const db of dbs) {
    const d = `sql:${db.dir}`;
    for (const root of roots) {
      const nick = storeNickname(root);
      const trust = db.certs[nick];
      if (remove) {
        steps.push(
          trust === undefined
            ? { label: `unchanged ${d} (no "${nick}")`, command: [], changed: false }
            : {
                label: `removed "${nick}" from ${d}`,
                command: [certutil, "-D", "-d", d, "-n", nick],
                changed: true,
              },
        );
      } else if (trust === NSS_TRUST) {
        steps.push({ label: `unchanged ${d} ("${nick}")`, command: [], changed: false });
      } else {
        const command =
          trust === undefined
            ? [certutil, "-A", "-d", d, "-n", nick, "-t", NSS_TRUST]
            : [certutil, "-M", "-d", d, "-n", nick, "-t", NSS_TRUST];
        steps.push({ label: `added "${nick}" to ${d}`, command, input: root.pem, changed: true });
      }
    }
  }
  return steps;
}
