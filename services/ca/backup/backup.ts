import { X509Certificate } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { syncDir, writeNewFile } from "../../../shared/fs.js";
import { fingerprint } from "../../../shared/x509/pem.js";
import { withDataLock } from "../keys/lock.js";
import { type CaPaths, requireInitialised } from "../keys/paths.js";
import { requireDatabase } from "../store/db.js";
import { sqliteFile } from "../store/db-url.js";
import { snapshotDatabase } from "../store/snapshot.js";
import { FORMAT, type Manifest, sha256File, writeArchive } from "./archive.js";
import { DATABASE, dispositionOf, FOLDERS, MANIFEST, REQUIRED } from "./contents.js";

export interface BackupResult {
  out: string;
  files: Manifest["files"];
  /** files found in the data directory that are not the CA's, left out */
  unknown: string[];
}

/**
 * `certyard-ca backup --out FILE`: an online, consistent copy of the database (a snapshot, see
 * store/snapshot.ts) and of the CA's files (contents.ts says which), in one archive (archive.ts)
 * that replaces FILE atomically, 0600. Safe while serve runs; it takes the data directory's
 * lock so that no rotation replaces a certificate while its key is being read.
 */
export async function backup(paths: CaPaths, out: string, version: string): Promise<BackupResult> {
  requireInitialised(paths);
  requireDatabase(sqliteFile(paths.db, "backup"));
  const target = resolve(out);
  const staging = mkdtempSync(join(dirname(target), `.${basename(target)}.`));
  try {
    const { files, unknown, rootFingerprint } = await withDataLock(paths.dataDir, "a backup", () =>
      collect(paths, staging),
    );
    const manifest: Manifest = {
      format: FORMAT,
      createdAt: new Date().toISOString(),
      certyard: version,
      rootFingerprint,
      files,
    };
    writeNewFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
    const tmp = join(staging, "backup.tar.gz");
    await writeArchive(
      staging,
      files.map((f) => f.path),
      tmp,
    );
    renameSync(tmp, target);
    syncDir(dirname(target));
    return { out: target, files, unknown };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Copies the CA's files into `staging` and snapshots the database there. */
async function collect(paths: CaPaths, staging: string) {
  const found: { path: string; snapshot: boolean; mode: number }[] = [];
  const unknown: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(paths.dataDir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(paths.dataDir, path));
      if (st.isDirectory() && rel === "" && FOLDERS.includes(name)) {
        walk(name);
        continue;
      }
      const d = dispositionOf(st.isDirectory() ? `${path}/` : path);
      if (d?.kind === "skip") continue;
      // a symlink is never followed: what it points to is not the CA's file
      if (d === null || !st.isFile()) unknown.push(path);
      else found.push({ path, snapshot: d.kind === "snapshot", mode: d.mode });
    }
  };
  walk("");
  // The database is snapshotted from where --db put it, which need not be the data directory;
  // in the backup it is certyard.db as always, so a restore makes a data directory of the default shape.
  const database = dispositionOf(DATABASE);
  if (!found.some((f) => f.path === DATABASE) && database?.kind === "snapshot")
    found.unshift({ path: DATABASE, snapshot: true, mode: database.mode });
  for (const r of REQUIRED) {
    if (!found.some((f) => f.path === r))
      throw new Error(`${join(paths.dataDir, r)} is missing; no backup was made`);
  }
  // The database first: the files beside it (the CRL number) may then only be newer.
  snapshotDatabase(paths.database, join(staging, DATABASE));
  const files: Manifest["files"] = [];
  for (const f of found) {
    const dest = join(staging, f.path);
    if (!f.snapshot) {
      mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
      writeNewFile(dest, readFileSync(join(paths.dataDir, f.path)), f.mode);
    }
    files.push({ path: f.path, ...(await sha256File(dest)) });
  }
  const rootDer = new X509Certificate(readFileSync(join(staging, "root.crt"))).raw;
  return { files, unknown, rootFingerprint: fingerprint(rootDer) };
}
