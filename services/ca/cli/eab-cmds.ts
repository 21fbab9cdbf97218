import { chmodSync, existsSync } from "node:fs";
import { InputError } from "../../../shared/errors.js";
import { checkEabRequest } from "../acme/eab.js";
import { formatDnsPattern, formatIpRange } from "../core/names.js";
import { openParts } from "../parts.js";
import { cliActor, type DataOpts, dataPaths } from "./options.js";

export interface EabCreateOpts extends DataOpts {
  name: string;
  dns?: string[];
  ip?: string[];
  maxValidity?: string;
  /** how many ACME accounts may bind it (default 1) */
  accounts?: string;
}

/** `eab create`: prints "KID HMAC". */
export async function eabCreate(o: EabCreateOpts): Promise<string> {
  const accounts = o.accounts === undefined ? undefined : Number(o.accounts);
  if (accounts !== undefined && (!Number.isInteger(accounts) || accounts < 1))
    throw new InputError("--accounts takes a positive integer");
  const req = { name: o.name, dns: o.dns ?? [], ip: o.ip ?? [], maxValidity: o.maxValidity, accounts };
  // Bad input is reported before a missing CA is.
  checkEabRequest(req);
  const parts = await openParts(dataPaths(o));
  const { paths } = parts;
  let created: { record: { kid: string }; hmac: string };
  try {
    created = await parts.eabs.create(req, cliActor());
  } finally {
    await parts.close();
  }
  // The HMAC key is a MAC key the server must recompute, so it is stored retrievably in the
  // database, not hashed like token secrets: the database (and its WAL) is kept 0600, inside the
  // 0700 data directory, like the CA keys.
  if (paths.db.dialect === "sqlite") {
    for (const f of [paths.database, `${paths.database}-wal`, `${paths.database}-shm`]) {
      if (existsSync(f)) chmodSync(f, 0o600);
    }
  }
  return `${created.record.kid} ${created.hmac}`;
}

/** `eab list`: each EAB's name, key id, state, accounts bound and names; never the HMAC key. */
export async function eabList(o: DataOpts & { json?: boolean }): Promise<string> {
  const parts = await openParts(dataPaths(o));
  try {
    const rows = (await parts.eabs.list()).map(({ eab, accounts }) => ({
      name: eab.name,
      kid: eab.kid,
      dns: eab.policy.dns.map(formatDnsPattern),
      ip: eab.policy.ips.map(formatIpRange),
      maxValidityMs: eab.policy.maxValidityMs,
      accounts,
      maxAccounts: eab.maxAccounts,
      createdAt: new Date(eab.createdAt).toISOString(),
      revoked: eab.revokedAt !== null,
    }));
    if (o.json) return JSON.stringify(rows, null, 2);
    const lines = rows.map((r) =>
      [
        r.name,
        r.kid,
        r.revoked ? "revoked" : r.accounts >= r.maxAccounts ? "used-up" : "active",
        `${r.accounts}/${r.maxAccounts}`,
        [...r.dns, ...r.ip].join(","),
      ].join("\t"),
    );
    return ["NAME\tKID\tSTATE\tACCOUNTS\tNAMES", ...lines].join("\n");
  } finally {
    await parts.close();
  }
}

/** `eab revoke NAME`: the accounts bound to it can order and finalize no more. */
export async function eabRevoke(o: DataOpts & { name: string }): Promise<void> {
  const parts = await openParts(dataPaths(o));
  try {
    await parts.eabs.revoke(o.name, cliActor());
  } finally {
    await parts.close();
  }
}
