import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../../../shared/fs.js";

/**
 * The last CRL number published, kept beside the keys as well as in the database: RFC 5280
 * 5.2.3 wants CRL numbers to only ever increase, and a database restored from an older backup
 * would otherwise number the next CRL again from where the backup stood. One decimal line,
 * replaced atomically, 0600 like everything the CA alone reads.
 */
export function crlNumberFile(path: string) {
  return {
    /** The highest number published so far (0 before the first CRL). */
    last(): number {
      if (!existsSync(path)) return 0;
      const text = readFileSync(path, "utf8");
      if (!/^\d{1,9}\n?$/.test(text)) {
        throw new Error(`${path} does not hold a CRL number: it should be one line of digits`);
      }
      return Number(text.trim());
    },
    /** Records `n` as published, before the CRL carrying it is stored or served. */
    raise(n: number): void {
      if (n > this.last()) writeFileAtomic(path, `${n}\n`, 0o600);
    },
  };
}
export type CrlNumberFile = ReturnType<typeof crlNumberFile>;
