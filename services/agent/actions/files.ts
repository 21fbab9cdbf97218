import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
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
 * The key is written first: a reader that sees the new certificate also finds its key. Each
 * file is replaced atomically; the key is 0600. The certificate keeps the mode it had (the
 * registry may run as another user), 0644 when new.
 */
export function writeCertFiles(files: CertFiles, content: FileContents): void {
  mkdirSync(dirname(files.certFile), { recursive: true });
  mkdirSync(dirname(files.keyFile), { recursive: true });
  writeFileAtomic(files.keyFile, content.key, 0o600);
  const certMode = existsSync(files.certFile) ? statSync(files.certFile).mode & 0o777 : 0o644;
  writeFileAtomic(files.certFile, content.cert, certMode);
}

export function readCertFiles(files: CertFiles): FileContents | null {
  if (!existsSync(files.certFile) || !existsSync(files.keyFile)) return null;
  return { cert: readFileSync(files.certFile, "utf8"), key: readFileSync(files.keyFile, "utf8") };
}

/** Copies the current files into the backup folder, so a failed deployment can put them back. */
export function backupCertFiles(files: CertFiles, backupDir: string): FileContents | null {
  const current = readCertFiles(files);
  if (current) {
    writeFileAtomic(join(backupDir, "cert.pem"), current.cert, 0o600);
    writeFileAtomic(join(backupDir, "key.pem"), current.key, 0o600);
  }
  return current;
}
