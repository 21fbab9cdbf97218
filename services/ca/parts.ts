import { existsSync } from "node:fs";
import { eabService } from "./acme/eabs.js";
import { auditService } from "./audit/service.js";
import { certificateService } from "./authority/certificates.js";
import { hostService } from "./authority/hosts.js";
import { type CaPaths, requireInitialised } from "./keys/paths.js";
import { loadTokenKey } from "./keys/token-key.js";
import { openStoreAt } from "./store/open.js";
import { isKeyedHash } from "./tokens/secret.js";
import { tokenService } from "./tokens/service.js";

/*
 * The composition root's half for the CLI: server.ts builds what `serve` runs, this file what a
 * command works with. Apart so that a command does not load the HTTP front end, ACME and the
 * CA's keys it never uses (a quarter of a second of every command's start).
 */

/**
 * What the CLI's commands work with, on the data directory and the database directly (safe while
 * serve runs: WAL and a busy timeout): the same domain entry points as HTTP, and no CA key, which
 * they need not unlock. `paths` carries the database's location (--db, cli/options.ts).
 */
export async function openParts(paths: CaPaths, o: { create?: boolean } = {}) {
  requireInitialised(paths);
  // only init makes a database; for everyone else a missing one is lost data (store/db.ts)
  const store = await openStoreAt(paths.db, { create: o.create });
  const clock = Date.now;
  let tokenKey: Promise<Buffer> | undefined;
  return {
    paths,
    tokens: tokenService(store.tokens, clock, () => {
      tokenKey ??= tokenKeyOf(paths, store);
      return tokenKey;
    }),
    certificates: certificateService(store.certificates, clock, (t) => store.tokens.idOf(t)),
    eabs: eabService(store.acme.eabs, clock),
    hosts: hostService(store.hosts, clock),
    audit: auditService(store.audit, clock),
    close: () => store.close(),
  };
}
export type Parts = Awaited<ReturnType<typeof openParts>>;

export async function tokenKeyOf(
  paths: CaPaths,
  store: { tokens: { list(): Promise<{ secretHash: string }[]> } },
): Promise<Buffer> {
  if (!existsSync(paths.tokenKey) && (await store.tokens.list()).some((t) => isKeyedHash(t.secretHash))) {
    throw new Error(
      `${paths.tokenKey} is missing, but the tokens in ${paths.database} are hashed with it: restore it from a backup of ${paths.dataDir}`,
    );
  }
  return loadTokenKey(paths.tokenKey).key;
}
