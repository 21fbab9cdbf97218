import type { InventoryQuery } from "../core/inventory.js";
import type { DbLocation } from "./db-url.js";
import type { StorePorts } from "./ports.js";

/** What `certs list` reads: the inventory's pages and tokens by name. */
export interface InventoryReader {
  certificates: Pick<StorePorts["certificates"], "page"> & {
    /** PostgreSQL's text of certs list (store/pg/certificates.ts listText) */
    listText?(q: InventoryQuery, json: boolean): AsyncGenerator<Buffer>;
  };
  tokens: Pick<StorePorts["tokens"], "idOf">;
  /** rows per query when a listing streams out; none: the inventory's default (1,000) */
  streamRows?: number;
  close(): Promise<void>;
}

/**
 * SQLite's rows per streamed query. With 1,000, a page's rows, the next page read ahead and the
 * page's text were alive at each scavenge, so V8 grew its young generation to its largest and the
 * listing touched (page-faulted in) 173 MiB, a third of its CPU spent in the kernel. Measured on
 * `certs list --expiring 7d --json`, 78,000 rows of 1,000,000 (medians of 6 alternating runs,
 * load average 14-15): CPU 1.75 -> 1.30 s, minor page faults 41,000 -> 21,400, peak RSS 173 ->
 * 127 MiB; 500 rows kept most of the faults (36,000), 100 saved no more than 250. A query is one
 * seek in the inventory's index, so four times as many cost little; on PostgreSQL each is a round
 * trip, and it keeps the default.
 */
const SQLITE_STREAM_ROWS = 250;

/**
 * PostgreSQL's rows per query of a listing (store/pg/row-stream.ts): each query is planned anew
 * (some 4 ms for the inventory's) and starts its index scans again, so fewer, longer ones cost
 * the database less, while a window's text (some 4.5 MiB of --json here) is what a reader that
 * stops keeps in memory. bench/README.md, "certs list on PostgreSQL: rows printed as they arrive".
 */
const PG_WINDOW_ROWS = 10_000;

/**
 * The inventory alone, for `certs list`. On SQLite: the database (migrated, as openStore does)
 * with the certificates' and tokens' modules only, not the whole store (loading and building the
 * other modules: 0.29-0.33 -> 0.26-0.31 s of CPU for a listing of nothing). On PostgreSQL the
 * same: the pool (migrated, as openStoreAt does) with those two modules, not the whole PostgreSQL
 * store, nor the SQLite one that store/open.ts loads with it.
 */
export async function openInventoryAt(db: DbLocation): Promise<InventoryReader> {
  if (db.dialect !== "sqlite") {
    const [{ openPg }, { pgCertificateStore }, { pgTokenStore }, { guarded }] = await Promise.all([
      import("./pg/db.js"),
      import("./pg/certificates.js"),
      import("./pg/tokens.js"),
      import("./pg/faults.js"),
    ]);
    const { db: pg, close } = await openPg(db);
    const certificates = pgCertificateStore(pg);
    const tokens = pgTokenStore(pg);
    // as the whole store's ports are (pg/index.ts): a lost connection is one line naming the database
    return guarded({
      certificates: { page: certificates.page, listText: certificates.listText },
      tokens: { idOf: tokens.idOf },
      streamRows: PG_WINDOW_ROWS,
      close,
    });
  }
  const [{ openDb }, { certificateStore }, { tokenStore }] = await Promise.all([
    import("./db.js"),
    import("./certificates.js"),
    import("./tokens.js"),
  ]);
  const { db: d, close } = openDb(db.path);
  const certificates = certificateStore(d);
  const tokens = tokenStore(d);
  return {
    certificates: { page: async (q) => certificates.page(q) },
    tokens: { idOf: async (nameOrId) => tokens.idOf(nameOrId) },
    streamRows: SQLITE_STREAM_ROWS,
    close: async () => close(),
  };
}
