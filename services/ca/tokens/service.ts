import { notFound } from "../../../shared/problem.js";
import type { TokenRecord } from "../core/types.js";
import { resetAdminToken } from "./admin.js";
import { buildToken, type NewTokenRequest } from "./requests.js";

/** What token management needs from storage; the SQLite store implements it. */
export interface TokenStore {
  create(t: TokenRecord): void;
  list(): TokenRecord[];
  revoke(name: string, at: number): boolean;
  replaceAdmin(t: TokenRecord): void;
}

/** Token changes, the same for every front end: the CLI, POST /v1/tokens, and what comes next. */
export function tokenService(store: TokenStore, clock: () => number) {
  return {
    /** A new enrolment token; the secret is returned once and stored only as a hash. */
    create(req: NewTokenRequest): { record: TokenRecord; secret: string } {
      const minted = buildToken(req, clock());
      store.create(minted.record);
      return minted;
    },
    /** The enrolment tokens, oldest first. */
    list(): TokenRecord[] {
      return store.list().filter((t) => t.kind === "enrol");
    },
    revoke(name: string): void {
      if (!store.revoke(name, clock())) throw notFound(`no token named "${name}"`);
    },
    /** A new admin token, written to `path`; the old one stops working. */
    resetAdmin(path: string): void {
      resetAdminToken(path, store, clock());
    },
  };
}
export type TokenService = ReturnType<typeof tokenService>;
