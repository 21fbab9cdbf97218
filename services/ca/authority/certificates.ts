import { InputError } from "../../../shared/errors.js";
import { conflict, notFound } from "../../../shared/problem.js";
import { type Actor, type AuditEntry, revocationEvent } from "../core/audit.js";
import {
  type InventoryPage,
  type InventoryParams,
  type InventoryQuery,
  parseInventoryParams,
} from "../core/inventory.js";
import { certificateViewsBytes, tableText } from "../core/views.js";

/** What the inventory needs from storage; the SQLite store implements it. */
export interface InventoryStore {
  page(q: InventoryQuery): Promise<InventoryPage>;
  /**
   * every row of a query from its cursor on as searchText prints it, where the store can make
   * the text faster (PostgreSQL: the database writes most of it, a window of `q.limit` rows a
   * query, printed as its rows arrive)
   */
  listText?(q: InventoryQuery, json: boolean): AsyncGenerator<Buffer>;
  revoke(
    serial: string,
    reason: number,
    at: number,
    audit?: AuditEntry,
  ): Promise<"revoked" | "already" | "missing">;
}

/** The inventory's filters as text, as GET /v1/certs and `certs list` take them. */
export type InventorySearch = InventoryParams & { token?: string };

/** Rows read per query when the whole result streams out, unless the store says otherwise. */
const STREAM_PAGE = 1000;

/**
 * The inventory of issued certificates: searching and revocation, the same for every front end
 * (the CLI, GET /v1/certs, POST /v1/revoke, ACME's revokeCert through the Authority). Needs no
 * CA key. `tokenIdOf` finds a token by name or id, for the token filter.
 */
export function certificateService(
  store: InventoryStore,
  clock: () => number,
  tokenIdOf: (nameOrId: string) => Promise<string | null>,
) {
  const { search, searchText } = inventorySearch(store, clock, tokenIdOf);
  return {
    search,
    searchText,
    revoke(serial: string, reason: number, actor: Actor): Promise<void> {
      return revokeCertificate(store, serial, reason, clock(), actor);
    },
  };
}

/**
 * certificateService's searches alone, on a store that only reads (`certs list`); `streamRows`:
 * the rows of each query when a whole result streams out (searchText).
 */
export function inventorySearch(
  store: Pick<InventoryStore, "page" | "listText">,
  clock: () => number,
  tokenIdOf: (nameOrId: string) => Promise<string | null>,
  streamRows = STREAM_PAGE,
) {
  /** The text filters read into a query at this moment; a token named by its name or id. */
  async function query(p: InventorySearch): Promise<InventoryQuery> {
    const q: InventoryQuery = parseInventoryParams(p, clock());
    if (p.token !== undefined) {
      const id = await tokenIdOf(p.token.trim());
      if (id === null) throw new InputError(`token: there is no token named "${p.token}"`);
      q.tokenId = id;
    }
    return q;
  }

  return {
    /** One page, soonest expiry first, and where the next one starts. */
    async search(p: InventorySearch): Promise<InventoryPage> {
      return store.page(await query(p));
    },
    /**
     * Every row the filters keep, as `certs list` prints them, in blocks as the caller consumes
     * them, so that a million rows never sit in memory at once; a limit or cursor in `p` is
     * ignored. With `json`: the inside of the array certificateViewsText prints (its rows
     * separated, no brackets), in UTF-8; else the table's lines (core/views.ts tableText). The
     * store's own text where it has one (listText); else pages, the next asked for before this
     * one is printed.
     */
    async *searchText(p: InventorySearch, json: boolean): AsyncGenerator<Buffer | string> {
      const { after: _after, ...q } = await query(p);
      if (store.listText) return yield* store.listText({ ...q, limit: streamRows }, json);
      let pending = store.page({ ...q, limit: streamRows });
      for (let first = true; ; first = false) {
        const page = await pending;
        if (page.next) {
          pending = store.page({ ...q, limit: streamRows, after: page.next });
          // awaited on the next turn; a consumer that stops first leaves no unhandled rejection
          pending.catch(() => {});
        }
        if (!json) yield tableText(page.rows);
        else if (page.rows.length > 0) {
          if (!first) yield ",\n";
          yield certificateViewsBytes(page.rows);
        }
        if (!page.next) return;
      }
    },
  };
}

/**
 * `serial` in canonical hex (normalizeSerial); `reason` an RFC 5280 5.3.1 code; `actor` who asked,
 * for the audit event written with the revocation.
 */
export async function revokeCertificate(
  store: Pick<InventoryStore, "revoke">,
  serial: string,
  reason: number,
  at: number,
  actor: Actor,
): Promise<void> {
  const res = await store.revoke(serial, reason, at, revocationEvent(serial, reason, at, actor));
  if (res === "missing") throw notFound(`no certificate with serial ${serial}`);
  if (res === "already") throw conflict(`certificate ${serial} is already revoked`);
}
export type CertificateService = ReturnType<typeof certificateService>;
