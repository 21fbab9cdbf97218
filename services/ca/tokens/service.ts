import { notFound } from "../../../shared/problem.js";
import type { TokenRecord } from "../core/types.js";
import { resetAdminToken } from "./admin.js";
import { buildToken, type NewTokenRequest } from "./requests.js";

/** What token management needs from storage; the SQLite store implements it. */
export interface TokenStore {
  create(t: TokenRecord): Promise<void>;
  list(): Promise<TokenRecord[]>;
  revoke(name: string, at: number): Promise<boolean>;
  replaceAdmin(t: TokenRecord): Promise<void>;
}

/** Token changes, the same for every front end: the CLI, POST /v1/tokens, and what comes next. */
/**
 * `key`: the token key (keys/token-key.ts) secrets are hashed with, asked for only when a token
 * is made (so commands that make none neither read nor create it).
 */
export function tokenService(store: TokenStore, clock: () => number, key: () => Promise<Buffer>) {
  return {
    /** A new enrolment token; the secret is returned once and stored only as a hash. */
    async create(req: NewTokenRequest): Promise<{ record: TokenRecord; secret: string }> {
      const minted = buildToken(req, clock(), await key());
      await store.create(minted.record);
      return minted;
    },
    /** The enrolment tokens, oldest first. */
    async list(): Promise<TokenRecord[]> {
      return (await store.list()).filter((t) => t.kind === "enrol");
    },
    async revoke(name: string): Promise<void> {
      if (!(await store.revoke(name, clock()))) throw notFound(`no token named "${name}"`);
    },
    /** A new admin token, written to `path`; the old one stops working. */
    async resetAdmin(path: string): Promise<void> {
      return resetAdminToken(path, store, clock(), await key());
    },
  };
}
export type TokenService = ReturnType<typeof tokenService>;
