import { notFound } from "../../../shared/problem.js";
import { type Actor, type AuditEntry, policyDetails } from "../core/audit.js";
import type { TokenRecord } from "../core/types.js";
import { resetAdminToken } from "./admin.js";
import { buildToken, type NewTokenRequest } from "./requests.js";

/** What token management needs from storage; the SQLite store implements it. */
export interface TokenStore {
  /** with its audit event, in one transaction */
  create(t: TokenRecord, audit?: AuditEntry): Promise<void>;
  list(): Promise<TokenRecord[]>;
  /** the audit event is written when a token was revoked */
  revoke(name: string, at: number, audit?: AuditEntry): Promise<boolean>;
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
    async create(req: NewTokenRequest, actor: Actor): Promise<{ record: TokenRecord; secret: string }> {
      const minted = buildToken(req, clock(), await key());
      const t = minted.record;
      await store.create(t, {
        at: t.createdAt,
        type: "token.created",
        actor,
        subject: t.name,
        details: {
          ...policyDetails(t.policy),
          expiresAt: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
          uses: t.usesLeft,
          rate: `${t.rateLimit}/${t.rateWindowMs / 1000}s`,
        },
      });
      return minted;
    },
    /** The enrolment tokens, oldest first. */
    async list(): Promise<TokenRecord[]> {
      return (await store.list()).filter((t) => t.kind === "enrol");
    },
    async revoke(name: string, actor: Actor): Promise<void> {
      const at = clock();
      const event: AuditEntry = { at, type: "token.revoked", actor, subject: name, details: {} };
      if (!(await store.revoke(name, at, event))) throw notFound(`no token named "${name}"`);
    },
    /** The admin token's record (its secret only hashed), null when there is none yet. */
    async admin(): Promise<TokenRecord | null> {
      return (await store.list()).find((t) => t.kind === "admin") ?? null;
    },
    /** A new admin token, written to `path`; the old one stops working. */
    async resetAdmin(path: string): Promise<void> {
      return resetAdminToken(path, store, clock(), await key());
    },
  };
}
export type TokenService = ReturnType<typeof tokenService>;
