import { parseKeyType } from "../../../shared/keys.js";
import { createCa, isInitialised } from "../keys/ca.js";
import { openParts } from "../parts.js";
import { requireFreshStore, requireStore } from "../store/open.js";
import { type DataOpts, dataPaths, readPassphrase } from "./options.js";

export interface InitOpts extends DataOpts {
  name: string;
  keyType: string;
  permitDns?: string[];
  permitIp?: string[];
  passphraseFile?: string;
}

/** Creates the CA and the admin token. Returns the admin token's path. */
export async function init(o: InitOpts): Promise<string> {
  const paths = dataPaths(o);
  if (isInitialised(paths)) {
    // keys without their database: say how to restore it rather than only "already initialised"
    await requireStore(paths.db);
    throw new Error(`${o.data} is already initialised; nothing was changed`);
  }
  const keyType = parseKeyType(o.keyType);
  const passphrase = readPassphrase(o.passphraseFile);
  // PostgreSQL is reached, migrated and found free of another CA's data before a key is made
  if (paths.db.dialect === "postgres") await requireFreshStore(paths.db);
  await createCa(paths, {
    name: o.name,
    keyType,
    permitDns: o.permitDns ?? [],
    permitIp: o.permitIp ?? [],
    passphrase,
  });
  const parts = await openParts(paths, { create: true });
  try {
    await parts.tokens.resetAdmin(paths.adminToken);
  } finally {
    await parts.close();
  }
  return paths.adminToken;
}
