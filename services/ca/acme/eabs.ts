import { conflict, notFound } from "../../../shared/problem.js";
import type { EabRecord } from "../core/acme/types.js";
import { type Actor, type AuditEntry, policyDetails } from "../core/audit.js";
import { buildEab, type NewEabRequest } from "./eab.js";

/** What EAB management needs from storage; the SQLite store implements it. */
export interface EabStore {
  /** with its audit event, in one transaction */
  create(rec: EabRecord, audit?: AuditEntry): Promise<void>;
  byName(name: string): Promise<EabRecord | null>;
  list(): Promise<{ eab: EabRecord; accounts: number }[]>;
  /** the audit event is written when the EAB was revoked */
  revoke(name: string, at: number, audit?: AuditEntry): Promise<"revoked" | "already" | "missing">;
}

/** External Account Binding changes, the same for every front end (today the CLI). */
export function eabService(store: EabStore, clock: () => number) {
  return {
    /** A new EAB; the HMAC key (base64url) is returned once, for the operator to hand on. */
    async create(req: NewEabRequest, actor: Actor): Promise<{ record: EabRecord; hmac: string }> {
      const built = buildEab(req, clock());
      const e = built.record;
      if (await store.byName(e.name)) throw conflict(`an EAB named "${e.name}" already exists`);
      await store.create(e, {
        at: e.createdAt,
        type: "eab.created",
        actor,
        subject: e.name,
        details: { kid: e.kid, ...policyDetails(e.policy), accounts: e.maxAccounts },
      });
      return built;
    },
    /** Every EAB with how many accounts it binds; never the HMAC key. */
    list(): Promise<{ eab: EabRecord; accounts: number }[]> {
      return store.list();
    },
    /** Its accounts can order no more certificates, nor finalize what they ordered. */
    async revoke(name: string, actor: Actor): Promise<void> {
      const at = clock();
      const res = await store.revoke(name, at, {
        at,
        type: "eab.revoked",
        actor,
        subject: name,
        details: {},
      });
      if (res === "missing") throw notFound(`no EAB named "${name}"`);
      if (res === "already") throw conflict(`the EAB "${name}" is already revoked`);
    },
  };
}
export type EabService = ReturnType<typeof eabService>;
