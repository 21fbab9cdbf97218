import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import bcrypt from "bcryptjs";
import { writeFileAtomic } from "../../../shared/fs.js";

/**
 * The registry's htpasswd file (distribution's registry/auth/htpasswd): one `user:hash` line per
 * user, bcrypt only. The registry trims each line, skips empty ones and lines starting with `#`,
 * splits at the first `:`, and the last line for a user wins. Go's bcrypt reads $2a$, $2b$ and
 * $2y$ alike; Apache's htpasswd writes $2y$, so we do too.
 */

export type HtpasswdOp = "add" | "remove" | "verify";

export const DEFAULT_COST = 10;
/** the registry reads the file as whatever user it runs as */
const FILE_MODE = 0o644;

export function validateUser(user: string): void {
  if (user.length === 0) throw new RangeError("the user name is empty");
  if (/[:\s]/.test(user)) throw new RangeError(`invalid user "${user}": no ':' and no whitespace`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(user)) throw new RangeError("invalid user: control characters");
  if (user.startsWith("#"))
    throw new RangeError(`invalid user "${user}": the registry reads '#' lines as comments`);
}

export function validatePassword(password: string): void {
  if (password.length === 0) throw new RangeError("the password is empty");
  // bcrypt reads at most 72 bytes; refuse rather than silently ignore the rest
  if (Buffer.byteLength(password, "utf8") > 72)
    throw new RangeError("the password is longer than 72 bytes (bcrypt's limit)");
}

export function parseCost(cost: string | number | undefined): number {
  if (cost === undefined) return DEFAULT_COST;
  const n = typeof cost === "number" ? cost : Number(cost);
  if (!Number.isInteger(n) || n < 4 || n > 31) throw new RangeError("--cost takes an integer from 4 to 31");
  return n;
}

/** A bcrypt hash in Apache's $2y$ form (the same algorithm as bcryptjs's $2b$). */
export function hashPassword(password: string, cost = DEFAULT_COST): string {
  validatePassword(password);
  return toApache(bcrypt.hashSync(password, parseCost(cost)));
}

const toApache = (hash: string) => hash.replace(/^\$2[ab]\$/, "$2y$");
const fromApache = (hash: string) => hash.replace(/^\$2y\$/, "$2b$");

export function isBcrypt(hash: string): boolean {
  return /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash);
}

export function entryLine(user: string, hash: string): string {
  validateUser(user);
  return `${user}:${hash}`;
}

/** The user a line belongs to, as the registry reads it; null for blank and comment lines. */
function lineUser(line: string): string | null {
  const t = line.trim();
  if (t.length === 0 || t.startsWith("#")) return null;
  const i = t.indexOf(":");
  return i < 0 ? null : t.slice(0, i);
}

function splitLines(content: string | null): string[] {
  if (!content) return [];
  const lines = content.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

const joinLines = (lines: string[]) => (lines.length ? `${lines.join("\n")}\n` : "");

/** The file with USER's line replaced in place (or appended); every other line kept in order. */
export function planAdd(current: string | null, user: string, hash: string): string {
  const line = entryLine(user, hash);
  const out: string[] = [];
  let placed = false;
  for (const l of splitLines(current)) {
    if (lineUser(l) !== user) out.push(l);
    else if (!placed) {
      out.push(line);
      placed = true;
    }
  }
  if (!placed) out.push(line);
  return joinLines(out);
}

/** The file without USER's lines; throws when there are none. */
export function planRemove(current: string | null, user: string): string {
  validateUser(user);
  const lines = splitLines(current);
  const kept = lines.filter((l) => lineUser(l) !== user);
  if (kept.length === lines.length) throw new Error(`no user "${user}" in the htpasswd file`);
  return joinLines(kept);
}

/** USER's hash as the registry would use it (the last line wins), or null. */
export function findHash(current: string | null, user: string): string | null {
  let hash: string | null = null;
  for (const l of splitLines(current)) {
    if (lineUser(l) === user) hash = l.trim().slice(user.length + 1);
  }
  return hash;
}

export function checkPassword(hash: string, password: string): boolean {
  if (!isBcrypt(hash))
    throw new Error("the entry is not a bcrypt hash, and the registry accepts only bcrypt");
  return bcrypt.compareSync(password, fromApache(hash));
}

export interface HtpasswdResult {
  /** one line for stdout (success) or stderr (failure) */
  message: string;
  ok: boolean;
}

export type HtpasswdChange = { op: "add"; user: string; hash: string } | { op: "remove"; user: string };

/** The file's next content for a change (pure). */
export function planHtpasswd(current: string | null, change: HtpasswdChange): string {
  return change.op === "add" ? planAdd(current, change.user, change.hash) : planRemove(current, change.user);
}

/** Reads the file, applies the operation and, for add and remove, replaces it atomically. */
export function applyHtpasswd(
  op: HtpasswdOp,
  o: { file: string; user: string; password?: string; cost?: number },
): HtpasswdResult {
  validateUser(o.user);
  const current = existsSync(o.file) ? readFileSync(o.file, "utf8") : null;
  if (op === "verify") {
    const hash = findHash(current, o.user);
    if (hash === null) return { ok: false, message: `no user "${o.user}" in ${o.file}` };
    const ok = checkPassword(hash, requirePassword(o.password));
    return { ok, message: ok ? `password ok for ${o.user}` : `wrong password for ${o.user}` };
  }
  if (op === "add") {
    const hash = hashPassword(requirePassword(o.password), o.cost);
    writeHtpasswd(o.file, planHtpasswd(current, { op, user: o.user, hash }));
    const verb = findHash(current, o.user) === null ? "added" : "replaced";
    return { ok: true, message: `${verb} ${o.user} in ${o.file}` };
  }
  if (current === null) throw new Error(`${o.file} does not exist`);
  writeHtpasswd(o.file, planHtpasswd(current, { op, user: o.user }));
  return { ok: true, message: `removed ${o.user} from ${o.file}` };
}

function requirePassword(password: string | undefined): string {
  if (password === undefined) throw new Error("no password given on stdin");
  validatePassword(password);
  return password;
}

/**
 * Replaces the file atomically. A new file gets FILE_MODE; an existing one keeps its mode and, as
 * far as this process may set them, its owner and group: an operator who narrowed it to 0640 for
 * the registry's group keeps that.
 */
function writeHtpasswd(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const before = existsSync(file) ? statSync(file) : undefined;
  const mode = before ? before.mode & 0o777 : FILE_MODE;
  writeFileAtomic(file, content, mode);
  const after = statSync(file);
  // the mode given at creation is narrowed by the umask; the registry must be able to read it
  if ((after.mode & 0o777) !== mode) chmodSync(file, mode);
  if (before && (after.uid !== before.uid || after.gid !== before.gid)) {
    try {
      chownSync(file, before.uid, before.gid);
    } catch {
      // only root may give a file away; the mode is kept all the same
    }
  }
}

/**
 * The password: stdin up to the first newline (or its end), without the line ending. Stops
 * reading at the newline, so a person typing at a terminal needs only Enter.
 */
export function readPasswordLine(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const done = (value: string) => {
      stream.removeListener("data", onData);
      stream.removeListener("end", onEnd);
      stream.removeListener("error", onError);
      stream.pause();
      resolve(value.replace(/\r$/, ""));
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const onEnd = () => done(buf);
    const onError = (e: Error) => reject(e);
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.resume();
  });
}
