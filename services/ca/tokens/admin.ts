import { writeFileAtomic } from "../../../shared/fs.js";
import type { TokenRecord } from "../core/types.js";
import { mintToken } from "./secret.js";

/** Mints a new admin token, stores its hash (replacing any old one) and writes it to `path`, 0600. */
export async function resetAdminToken(
  path: string,
  store: { replaceAdmin(t: TokenRecord): Promise<void> },
  now: number,
  key: Buffer,
): Promise<void> {
  const { record, secret } = mintToken(
    {
      name: "admin",
      kind: "admin",
      policy: { dns: [], ips: [], maxValidityMs: 0 },
      expiresAt: null,
      usesLeft: null,
      rateLimit: 1000,
      rateWindowMs: 1000,
    },
    now,
    key,
  );
  await store.replaceAdmin(record);
  writeFileAtomic(path, `${secret}\n`, 0o600);
}
