import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/**
 * One change of the CA's files at a time: a backup and a rotation (or two rotations) must not
 * interleave, or a backup could hold a new intermediate certificate beside the old key. The
 * lock is a file made with O_EXCL that names its holder; one left by a process that died is
 * taken over. serve and the token commands do not take it: they never replace the CA's files.
 */
export function withDataLock<T>(dataDir: string, what: string, fn: () => T): T {
  const path = join(dataDir, ".lock");
  take(path, what);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    rmSync(path, { force: true });
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => rmSync(path, { force: true })) as T;
  }
  rmSync(path, { force: true });
  return result;
}

function take(path: string, what: string, retried = false): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST" || retried) throw e;
    const holder = readHolder(path);
    if (holder && alive(holder.pid)) {
      throw new Error(`${path}: ${holder.what} (pid ${holder.pid}) is under way; try again when it is done`);
    }
    rmSync(path, { force: true });
    take(path, what, true);
    return;
  }
  try {
    writeSync(fd, `${JSON.stringify({ pid: process.pid, what })}\n`);
  } finally {
    closeSync(fd);
  }
}

function readHolder(path: string): { pid: number; what: string } | null {
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as { pid?: unknown; what?: unknown };
    return typeof v.pid === "number" ? { pid: v.pid, what: String(v.what ?? "another command") } : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
