import { writeFileAtomic } from "../../shared/fs.js";
import { mintToken } from "./credentials.js";
import type { CaPaths } from "./keys/ca.js";
import type { SqliteStore } from "./store/index.js";

/** Mints a new admin token, stores its bcrypt hash (replacing any old one) and writes it 0600. */
export function resetAdminToken(paths: CaPaths, store: Pick<SqliteStore, "tokens">): void {
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
    Date.now(),
  );
  store.tokens.replaceAdmin(record);
  writeFileAtomic(paths.adminToken, `${secret}\n`, 0o600);
}
