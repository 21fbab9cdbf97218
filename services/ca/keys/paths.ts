import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { storageFault } from "../../../shared/storage-fault.js";
import { type DbLocation, defaultDb } from "../store/db-url.js";

/**
 * Where the CA keeps its material inside the data directory, and its SQLite database: by default
 * in the data directory too, else where --db says (store/db-url.ts).
 */
export function caPaths(dataDir: string, db: DbLocation = defaultDb(dataDir)) {
  return {
    dataDir,
    rootCert: join(dataDir, "root.crt"),
    rootKey: join(dataDir, "root.key"),
    intermediateCert: join(dataDir, "intermediate.crt"),
    intermediateKey: join(dataDir, "intermediate.key"),
    config: join(dataDir, "ca.json"),
    adminToken: join(dataDir, "admin-token"),
    crlNumber: join(dataDir, "crl-number"),
    /** the key of the keyed SHA-256 (HMAC) that token secrets are stored as */
    tokenKey: join(dataDir, "token-key"),
    /** where the database is (--db): a SQLite file, or PostgreSQL */
    db,
    /** the SQLite file, or for PostgreSQL its URL without the password: for messages */
    database: db.dialect === "sqlite" ? db.path : db.redacted,
  };
}
export type CaPaths = ReturnType<typeof caPaths>;

/** Whether `init` has run here (or left a root behind). Cheap: serve's primary asks it. */
export const isInitialised = (paths: CaPaths) => existsSync(paths.config) || existsSync(paths.rootCert);

/** For the commands that work on an existing CA: a one-line error that says what to run. */
export function requireInitialised(paths: CaPaths): void {
  if (!isInitialised(paths))
    throw new Error(`${paths.dataDir} is not initialised: run certyard-ca init or serve`);
}

/**
 * The data directory holds the CA keys, the admin token and the database: 0700, also when it
 * existed before init (mkdir's mode applies only to a directory it creates).
 */
export function secureDataDir(paths: CaPaths): void {
  try {
    chmodSync(paths.dataDir, 0o700);
  } catch (e) {
    const reason = storageFault(e);
    if (reason) throw new Error(`cannot make ${paths.dataDir} 0700: ${reason}`, { cause: e });
    throw e;
  }
}
