import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * DATA/previous: what a rotation retired, kept so that nothing issued before stops working.
 * `intermediate-SERIAL.crt|.key`: an intermediate whose leaves still chain, renew and are listed
 * on a CRL it signs; `root-SERIAL.crt|.key`: an earlier root, served in /roots.pem until it
 * expires; `cross-SERIAL.crt`: the later root (serial SERIAL) certified by the earlier one.
 * Expired ones are skipped: nothing they vouch for is valid any more.
 */
export const PREVIOUS_DIR = "previous";

export interface Previous {
  intermediates: { cert: string; key: string }[];
  /** PEM, newest first */
  roots: string[];
  /** PEM, newest first */
  cross: string[];
}

export function loadPrevious(dataDir: string, now: number): Previous {
  const dir = join(dataDir, PREVIOUS_DIR);
  const found: Previous = { intermediates: [], roots: [], cross: [] };
  if (!existsSync(dir)) return found;
  const valid: { kind: string; file: string; pem: string; notBefore: number }[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(intermediate|root|cross)-[0-9a-f]+\.crt$/.exec(file);
    if (!m?.[1]) continue;
    const pem = readFileSync(join(dir, file), "utf8");
    const cert = new X509Certificate(pem);
    if (Date.parse(cert.validTo) <= now) continue;
    valid.push({ kind: m[1], file, pem, notBefore: Date.parse(cert.validFrom) });
  }
  valid.sort((a, b) => b.notBefore - a.notBefore);
  for (const v of valid) {
    if (v.kind === "root") found.roots.push(v.pem);
    else if (v.kind === "cross") found.cross.push(v.pem);
    else {
      const key = join(dir, v.file.replace(/\.crt$/, ".key"));
      if (!existsSync(key)) throw new Error(`${key} is missing: the retired intermediate's leaves need it`);
      found.intermediates.push({ cert: join(dir, v.file), key });
    }
  }
  return found;
}
