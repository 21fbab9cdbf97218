import { X509Certificate } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { syncDir, writeFileAtomic } from "../../../shared/fs.js";
import { fingerprint } from "../../../shared/x509/pem.js";
import { integrityCheck, storedCrlNumber } from "../store/snapshot.js";
import { type Manifest, parseManifest, readArchive } from "./archive.js";
import { CRL_NUMBER, DATABASE, dispositionOf, MANIFEST, REQUIRED } from "./contents.js";

export interface RestoreResult {
  dataDir: string;
  manifest: Manifest;
  crlNumber: number;
}

/**
 * `certyard-ca restore --from FILE --data DIR`: DIR must be new or empty. The archive is read
 * into a folder beside DIR, every file checked against the manifest's SHA-256 and the database
 * by SQLite's integrity check, and only then is that folder renamed to DIR: a restore that
 * fails leaves nothing behind. Modes come from contents.ts, not from the archive: DIR 0700, the
 * keys, the database and the CRL number 0600.
 */
export async function restore(from: string, data: string, now = Date.now()): Promise<RestoreResult> {
  const dataDir = resolve(data);
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) throw new Error(`${data} is not a directory; nothing was changed`);
    if (readdirSync(dataDir).length > 0) {
      throw new Error(`${data} is not empty: restore into a new or empty directory; nothing was changed`);
    }
  }
  if (!existsSync(from)) throw new Error(`${from} does not exist`);
  mkdirSync(dirname(dataDir), { recursive: true });
  const staging = mkdtempSync(join(dirname(dataDir), `.${basename(dataDir)}.restore-`));
  try {
    const { manifest: text, files } = await readArchive(from, staging, modeFor);
    if (text === null) throw new Error(`${from} has no ${MANIFEST}: not a certyard backup`);
    const manifest = parseManifest(text);
    checkAgainst(manifest, files);
    for (const r of REQUIRED) {
      if (!files.some((f) => f.path === r)) throw new Error(`${from} holds no ${r}: not a whole backup`);
    }
    const root = new X509Certificate(readFileSync(join(staging, "root.crt")));
    if (fingerprint(root.raw) !== manifest.rootFingerprint) {
      throw new Error(`${from}: root.crt is not the root the manifest names`);
    }
    const integrity = integrityCheck(join(staging, DATABASE));
    if (integrity !== "ok")
      throw new Error(`${from}: the database fails SQLite's integrity check: ${integrity}`);
    const crlNumber = nextCrlFloor(staging, manifest, now);
    writeFileAtomic(join(staging, CRL_NUMBER), `${crlNumber}\n`, 0o600);
    for (const f of files) syncFile(join(staging, f.path));
    for (const sub of new Set(files.map((f) => dirname(f.path)))) syncDir(join(staging, sub));
    chmodSync(staging, 0o700);
    // rename(2) replaces an empty directory; DIR never holds half a restore
    renameSync(staging, dataDir);
    syncDir(dirname(dataDir));
    return { dataDir, manifest, crlNumber };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The mode an archive entry is created with, or an error for a path no backup holds. */
function modeFor(path: string): number {
  const d = dispositionOf(path);
  if (!d || d.kind === "skip" || path.split("/").some((p) => p === ".." || p === "")) {
    throw new Error(`unexpected file "${path}" in the backup: not one the CA keeps`);
  }
  return d.mode;
}

function checkAgainst(manifest: Manifest, files: { path: string; size: number; sha256: string }[]): void {
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  if (listed.size !== manifest.files.length) throw new Error(`${MANIFEST} lists a file twice`);
  for (const f of files) {
    const m = listed.get(f.path);
    if (!m) throw new Error(`${f.path} is in the backup but not in its manifest`);
    if (m.size !== f.size || m.sha256 !== f.sha256) {
      throw new Error(`${f.path} does not match its checksum in the manifest: the backup is damaged`);
    }
    listed.delete(f.path);
  }
  const missing = [...listed.keys()];
  if (missing.length) throw new Error(`the backup lacks ${missing.join(", ")}, which its manifest lists`);
}

/**
 * The CRL number a restored CA starts above (RFC 5280 5.2.3: numbers only increase). The CA
 * that made the backup may have published more CRLs after it, which the backup cannot know:
 * the floor is moved up by one for each second since the backup was made, which covers a CA
 * that published less than one CRL a second on average in that time (it makes one when a
 * revocation is asked for and every 12 hours).
 */
function nextCrlFloor(staging: string, manifest: Manifest, now: number): number {
  const file = join(staging, CRL_NUMBER);
  const kept = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) || 0 : 0;
  const stored = storedCrlNumber(join(staging, DATABASE));
  const elapsed = Math.max(0, Math.floor((now - Date.parse(manifest.createdAt)) / 1000));
  return Math.min(Math.max(kept, stored) + 1 + elapsed, 999_999_999);
}

function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
