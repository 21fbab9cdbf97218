import { chmodSync, existsSync } from "node:fs";
import { checkEabRequest } from "../acme/eab.js";
import { openParts } from "../server.js";

export interface EabCreateOpts {
  data: string;
  name: string;
  dns?: string[];
  ip?: string[];
  maxValidity?: string;
}

/** `eab create`: prints "KID HMAC". */
export function eabCreate(o: EabCreateOpts): string {
  const req = { name: o.name, dns: o.dns ?? [], ip: o.ip ?? [], maxValidity: o.maxValidity };
  // Bad input is reported before a missing CA is.
  checkEabRequest(req);
  const parts = openParts(o.data);
  const { paths } = parts;
  let created: { record: { kid: string }; hmac: string };
  try {
    created = parts.eabs.create(req);
  } finally {
    parts.close();
  }
  // The HMAC key is a MAC key the server must recompute, so it is stored retrievably in the
  // database, not hashed like token secrets: the database (and its WAL) is kept 0600, inside the
  // 0700 data directory, like the CA keys.
  for (const f of [paths.database, `${paths.database}-wal`, `${paths.database}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
  return `${created.record.kid} ${created.hmac}`;
}
