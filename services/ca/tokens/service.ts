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
/**
 * `key`: the token key (keys/token-key.ts) secrets are hashed with, asked for only when a token
 * is made (so commands that make none neither read nor create it).
 */
export function tokenService(store: TokenStore, clock: () => number, key: () => Buffer) {
  return {
    /** A new enrolment token; the secret is returned once and stored only as a hash. */
    create(req: NewTokenRequest): { record: TokenRecord; secret: string } {
      const minted = buildToken(req, clock(), key());
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
      resetAdminToken(path, store, clock(), key());
    },
  };
}
export type TokenService = ReturnType<typeof tokenService>;
