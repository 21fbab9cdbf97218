import { chmodSync, existsSync } from "node:fs";
import { buildEab } from "../acme/eab.js";
import { caPaths, requireInitialised } from "../keys/paths.js";
import { openStore } from "../store/index.js";

export interface EabCreateOpts {
  data: string;
  name: string;
  dns?: string[];
  ip?: string[];
  maxValidity?: string;
}

/** `eab create`: prints "KID HMAC". */
export function eabCreate(o: EabCreateOpts): string {
  const { record, hmac } = buildEab(
    { name: o.name, dns: o.dns ?? [], ip: o.ip ?? [], maxValidity: o.maxValidity },
    Date.now(),
  );
  const paths = caPaths(o.data);
  requireInitialised(paths);
  const s = openStore(paths.database);
  try {
    if (s.acme.eabs.byName(record.name)) throw new Error(`an EAB named "${record.name}" already exists`);
    s.acme.eabs.create(record);
  } finally {
    s.close();
  }
  // The HMAC key is a MAC key the server must recompute, so it is stored retrievably in the
  // database, not hashed like token secrets: the database (and its WAL) is kept 0600, inside the
  // 0700 data directory, like the CA keys.
  for (const f of [paths.database, `${paths.database}-wal`, `${paths.database}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
  return `${record.kid} ${hmac}`;
}
