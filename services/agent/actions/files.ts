import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { InputError } from "../../../shared/errors.js";
import { writeFileAtomic } from "../../../shared/fs.js";

/** The certificate and key files of one managed certificate. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface FileContents {
  cert: string;
  key: string;
}

/**
 * --cert-file and --key-file name files inside --out: relative to it, or absolute paths that are
 * in it. `..` or an absolute path elsewhere would let a flag meant for a file name write (and
 * later back up, read and restore) any file the agent can reach.
 */
export function fileInOut(out: string, flag: string, name: string): string {
  const dir = resolve(out);
  const path = resolve(dir, name);
  const rel = relative(dir, path);
  if (rel === "" || rel === ".." || rel.startsWith("../") || isAbsolute(rel)) {
    throw new InputError(
      `${flag} "${name}" is not inside --out ${dir}: give a file name in it, e.g. domain.key`,
    );
  }
  return path;
}

const refusal = (path: string, what: string, fix = "remove it or choose another --out") =>
  new Error(`${path} is ${what}: the agent reads and replaces only plain files, never through links; ${fix}`);

/** What is at PATH, without following a symlink: null when nothing is there. */
function plainFileOrNothing(path: string): ReturnType<typeof lstatSync> | null {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return null;
  if (st.isSymbolicLink()) throw refusal(path, "a symbolic link");
  if (!st.isFile()) throw refusal(path, "not a plain file");
  return st;
}

/**
 * A plain file's content, read with O_NOFOLLOW (a symlink at PATH is refused, not followed: its
 * target's content would be backed up and restored as the key) and O_NONBLOCK (a FIFO put there
 * does not hang the agent); null when there is no file.
 */
function readPlainFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw refusal(path, "a symbolic link");
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile()) throw refusal(path, "not a plain file");
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * The key is written first: a reader that sees the new certificate also finds its key. Each
 * file is replaced atomically; the key is 0600. The certificate keeps the mode it had (the
 * registry may run as another user), 0644 when new. A symlink or anything but a plain file at
 * either target is refused before anything is written.
 */
export function writeCertFiles(files: CertFiles, content: FileContents): void {
  plainFileOrNothing(files.keyFile);
  const cert = plainFileOrNothing(files.certFile);
  mkdirSync(dirname(files.certFile), { recursive: true });
  mkdirSync(dirname(files.keyFile), { recursive: true });
  writeFileAtomic(files.keyFile, content.key, 0o600);
  writeFileAtomic(files.certFile, content.cert, cert ? Number(cert.mode) & 0o777 : 0o644);
}

/** Before a certificate is asked for: the targets hold plain files or nothing, and the backup folder is a folder. */
export function checkTargets(files: CertFiles, backupDir: string): void {
  plainFileOrNothing(files.keyFile);
  plainFileOrNothing(files.certFile);
  checkBackupDir(backupDir);
}

function checkBackupDir(backupDir: string): void {
  const st = lstatSync(backupDir, { throwIfNoEntry: false });
  if (!st?.isDirectory())
    throw refusal(
      backupDir,
      st?.isSymbolicLink() ? "a symbolic link" : "not a folder",
      "remove it (the agent makes it again)",
    );
}

export function readCertFiles(files: CertFiles): FileContents | null {
  const cert = readPlainFile(files.certFile);
  const key = readPlainFile(files.keyFile);
  return cert === null || key === null ? null : { cert, key };
}

/** Removes the two files (a symlink at either is removed, not followed). */
export function removeCertFiles(files: CertFiles): void {
  rmSync(files.certFile, { force: true });
  rmSync(files.keyFile, { force: true });
}

/**
 * Copies the current files into the backup folder, so a failed deployment can put them back:
 * only plain files (never what a symlink points to), into a folder of the agent's own that is
 * itself no symlink. What is returned is what a rollback restores, to the same two paths.
 */
export function backupCertFiles(files: CertFiles, backupDir: string): FileContents | null {
  const current = readCertFiles(files);
  checkBackupDir(backupDir);
  if (current) {
    writeFileAtomic(join(backupDir, "cert.pem"), current.cert, 0o600);
    writeFileAtomic(join(backupDir, "key.pem"), current.key, 0o600);
  }
  return current;
}
