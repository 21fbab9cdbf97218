import { createHash, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../../../shared/fs.js";
import { generateKey, loadPrivateKey } from "../../../../shared/keys.js";

/**
 * The ACME account for one directory URL: an EC P-256 key made here and the account URL the
 * server gave it, in one 0600 file under the agent's home.
 */
const accountSchema = z.object({ directory: z.string(), url: z.string().optional(), keyPem: z.string() });
export type StoredAccount = z.infer<typeof accountSchema>;

export const accountFile = (dir: string, directoryUrl: string) =>
  join(dir, `${createHash("sha256").update(directoryUrl).digest("hex").slice(0, 24)}.json`);

export function loadOrCreateAccount(dir: string, directoryUrl: string): { key: KeyObject; url?: string } {
  const file = accountFile(dir, directoryUrl);
  if (existsSync(file)) {
    const a = accountSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    return { key: loadPrivateKey(a.keyPem, file), url: a.url };
  }
  const privateKey = generateKey("ec-p256");
  saveAccount(dir, {
    directory: directoryUrl,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  });
  return { key: privateKey };
}

export function saveAccount(dir: string, a: StoredAccount): void {
  writeFileAtomic(accountFile(dir, a.directory), `${JSON.stringify(a, null, 2)}\n`, 0o600);
}
