import { certificateStore } from "./certificates.js";
import { openDb } from "./db.js";
import type { DbLocation } from "./db-url.js";
import type { StorePorts } from "./ports.js";
import { tokenStore } from "./tokens.js";

/** What `certs list` reads: the inventory's pages and tokens by name. */
export interface InventoryReader {
  certificates: Pick<StorePorts["certificates"], "page">;
  tokens: Pick<StorePorts["tokens"], "idOf">;
  close(): Promise<void>;
}

/**
 * The inventory alone, for `certs list`. On SQLite: the database (migrated, as openStore does)
 * with the certificates' and tokens' modules only, not the whole store (loading and building the
 * other modules: 0.29-0.33 -> 0.26-0.31 s of CPU for a listing of nothing). On PostgreSQL:
 * the whole store, which is where its connection pool is made.
 */
export async function openInventoryAt(db: DbLocation): Promise<InventoryReader> {
  if (db.dialect !== "sqlite") {
    const { openStoreAt } = await import("./open.js");
    return openStoreAt(db);
  }
  const { db: d, close } = openDb(db.path);
  const certificates = certificateStore(d);
  const tokens = tokenStore(d);
  return {
    certificates: { page: async (q) => certificates.page(q) },
    tokens: { idOf: async (nameOrId) => tokens.idOf(nameOrId) },
    close: async () => close(),
  };
}
