import { createHash, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../../../shared/fs.js";
import { generateKey, loadPrivateKey } from "../../../../shared/keys.js";

/**
 * The ACME account for one directory URL and External Account Binding: an EC P-256 key made
 * here and the account URL the server gave it, in one 0600 file under the agent's home. An
 * account stays bound to its EAB (RFC 8555 7.3.4), so another EAB gets an account of its own.
 */
const accountSchema = z.object({
  directory: z.string(),
  eabKid: z.string().optional(),
  url: z.string().optional(),
  keyPem: z.string(),
});
export type StoredAccount = z.infer<typeof accountSchema>;

/** The file of the account for a directory and EAB key id (none: the name it always had). */
export const accountFile = (dir: string, directoryUrl: string, eabKid?: string) =>
  join(
    dir,
    `${createHash("sha256")
      .update(eabKid ? `${directoryUrl} ${eabKid}` : directoryUrl)
      .digest("hex")
      .slice(0, 24)}.json`,
  );

export function loadOrCreateAccount(
  dir: string,
  directoryUrl: string,
  eabKid?: string,
): { key: KeyObject; url?: string } {
  const file = accountFile(dir, directoryUrl, eabKid);
  if (existsSync(file)) {
    const a = accountSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    return { key: loadPrivateKey(a.keyPem, file), url: a.url };
  }
  const privateKey = generateKey("ec-p256");
  saveAccount(dir, {
    directory: directoryUrl,
    ...(eabKid ? { eabKid } : {}),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  });
  return { key: privateKey };
}

export function saveAccount(dir: string, a: StoredAccount): void {
  writeFileAtomic(accountFile(dir, a.directory, a.eabKid), `${JSON.stringify(a, null, 2)}\n`, 0o600);
}
