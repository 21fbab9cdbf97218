import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
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

/** What adminTokenAtStart needs: where the token file and the database are, and the tokens. */
export interface AdminTokenPlace {
  dataDir: string;
  adminToken: string;
  db: { dialect: "sqlite"; path: string } | { dialect: "postgres"; redacted: string };
  database: string;
}

/**
 * serve's start when DATA/admin-token is missing. A database in the data directory is this
 * directory's own: the file was lost, and a new admin token (the old one ends) is all there is
 * to do. A database elsewhere (PostgreSQL, or SQLite outside DATA) may be shared by replicas
 * whose data directories hold the admin token: there is one per installation, stored only
 * hashed, so this replica cannot read it, and a new one would end it on every replica without
 * a word. Refused then, saying what to do; a database with no admin token yet gets one.
 */
export async function adminTokenAtStart(
  place: AdminTokenPlace,
  tokens: {
    admin(): Promise<{ createdAt: number } | null>;
    resetAdmin(path: string): Promise<void>;
  },
): Promise<void> {
  if (existsSync(place.adminToken)) return;
  const own = place.db.dialect === "sqlite" && resolve(dirname(place.db.path)) === resolve(place.dataDir);
  const existing = own ? null : await tokens.admin();
  if (existing) {
    throw new Error(
      `${place.adminToken} is missing, and the database ${place.database} has an admin token (made ${new Date(existing.createdAt).toISOString()}) that other replicas' data directories may hold: copy admin-token from one of them into ${place.dataDir} (mode 0600), or make a new one with \`certyard-ca admin-token new --data ${place.dataDir} --db URL\`, which ends the old one on every replica`,
    );
  }
  await tokens.resetAdmin(place.adminToken);
}
