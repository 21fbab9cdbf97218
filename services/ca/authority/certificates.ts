import { InputError } from "../../../shared/errors.js";
import { conflict, notFound } from "../../../shared/problem.js";
import { type Actor, type AuditEntry, revocationEvent } from "../core/audit.js";
import {
  type InventoryPage,
  type InventoryParams,
  type InventoryQuery,
  type InventoryRow,
  parseInventoryParams,
} from "../core/inventory.js";
import { certificateViewsBytes } from "../core/views.js";

/** What the inventory needs from storage; the SQLite store implements it. */
export interface InventoryStore {
  page(q: InventoryQuery): Promise<InventoryPage>;
  /**
   * every page of a query as certificateViewsBytes prints it, where the store can make them
   * faster (PostgreSQL: the database writes most of the text, and reads the next page meanwhile)
   */
  jsonPages?(q: InventoryQuery): AsyncGenerator<Buffer>;
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
  const { search, searchPages, searchJsonPages } = inventorySearch(store, clock, tokenIdOf);
  return {
    search,
    searchPages,
    searchJsonPages,
    revoke(serial: string, reason: number, actor: Actor): Promise<void> {
      return revokeCertificate(store, serial, reason, clock(), actor);
    },
  };
}

/**
 * certificateService's searches alone, on a store that only reads (`certs list`); `streamRows`:
 * the rows of each query when a whole result streams out (searchPages, searchJsonPages).
 */
export function inventorySearch(
  store: Pick<InventoryStore, "page" | "jsonPages">,
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
     * Every row the filters keep, a page at a time as the caller consumes them, so that a
     * million rows never sit in memory at once. A limit or cursor in `p` is ignored.
     */
    async *searchPages(p: InventorySearch): AsyncGenerator<InventoryRow[]> {
      const { after: _after, ...q } = await query(p);
      let page = await store.page({ ...q, limit: streamRows });
      for (;;) {
        yield page.rows;
        if (!page.next) return;
        page = await store.page({ ...q, limit: streamRows, after: page.next });
      }
    },
    /**
     * searchPages, each page as certificateViewsText prints it, in UTF-8 (certs list --json); the
     * store's own pages where it has them (jsonPages). Else the next page is asked for before this
     * one is printed, as it was when PostgreSQL's pages came one at a time too.
     */
    async *searchJsonPages(p: InventorySearch): AsyncGenerator<Buffer> {
      const { after: _after, ...q } = await query(p);
      if (store.jsonPages) return yield* store.jsonPages({ ...q, limit: streamRows });
      let pending = store.page({ ...q, limit: streamRows });
      for (;;) {
        const page = await pending;
        if (page.next) {
          pending = store.page({ ...q, limit: streamRows, after: page.next });
          // awaited on the next turn; a consumer that stops first leaves no unhandled rejection
          pending.catch(() => {});
        }
        yield certificateViewsBytes(page.rows);
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
