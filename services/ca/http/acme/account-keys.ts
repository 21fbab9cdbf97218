import { importJWK, type JWK } from "jose";
import type { AccountRecord } from "../../core/acme/types.js";

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * Account keys imported for verifying JWS signatures, kept so that an account's key is imported
 * once per process rather than on every request it signs (an import was a tenth of a request).
 * Built by the composition root (server.ts) with the ACME app it serves: the cache lives as long
 * as that app, and two apps in one process (tests) do not share one.
 */
export interface AccountKeys {
  /** The account's key for this algorithm; a key change gives it a new thumbprint, so a new entry. */
  get(account: AccountRecord, alg: string): Promise<ImportedKey>;
}

export function accountKeyCache(kept = 1000): AccountKeys {
  // Insertion order is age: when full, the oldest goes first.
  const keys = new Map<string, ImportedKey>();
  return {
    async get(account, alg) {
      const id = `${account.id} ${account.thumbprint} ${alg}`;
      let key = keys.get(id);
      if (!key) {
        key = await importJWK(account.jwk as JWK, alg);
        if (keys.size >= kept) keys.delete(keys.keys().next().value ?? "");
        keys.set(id, key);
      }
      return key;
    },
  };
}
