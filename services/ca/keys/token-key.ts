import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { syncDir, writeNewFile } from "../../../shared/fs.js";

/**
 * The key token secrets are hashed with (HMAC-SHA-256), 256 random bits in DATA/token-key, mode
 * 0600: a copy of the database alone does not let anyone test guesses against the stored hashes.
 * Made on first use (the caller makes sure no token was hashed with a key that is gone). Two processes making it at once agree: it is linked into place only if absent
 * (a reader never sees a half-written file), and the loser reads the winner's.
 */
export function loadTokenKey(path: string): { key: Buffer; created: boolean } {
  const existing = read(path);
  if (existing) return { key: existing, created: false };
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  writeNewFile(tmp, `${randomBytes(32).toString("base64url")}\n`, 0o600);
  let created = true;
  try {
    linkSync(tmp, path);
    syncDir(dirname(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    created = false;
  } finally {
    rmSync(tmp, { force: true });
  }
  const key = read(path);
  if (!key) throw new Error(`${path} does not hold a token key (32 bytes, base64url)`);
  return { key, created };
}

function read(path: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  const key = Buffer.from(text.trim(), "base64url");
  if (key.length !== 32) throw new Error(`${path} does not hold a token key (32 bytes, base64url)`);
  return key;
}
