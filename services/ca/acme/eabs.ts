import { conflict, notFound } from "../../../shared/problem.js";
import type { EabRecord } from "../core/acme/types.js";
import { buildEab, type NewEabRequest } from "./eab.js";

/** What EAB management needs from storage; the SQLite store implements it. */
export interface EabStore {
  create(rec: EabRecord): Promise<void>;
  byName(name: string): Promise<EabRecord | null>;
  list(): Promise<{ eab: EabRecord; accounts: number }[]>;
  revoke(name: string, at: number): Promise<"revoked" | "already" | "missing">;
}

/** External Account Binding changes, the same for every front end (today the CLI). */
export function eabService(store: EabStore, clock: () => number) {
  return {
    /** A new EAB; the HMAC key (base64url) is returned once, for the operator to hand on. */
    async create(req: NewEabRequest): Promise<{ record: EabRecord; hmac: string }> {
      const built = buildEab(req, clock());
      if (await store.byName(built.record.name))
        throw conflict(`an EAB named "${built.record.name}" already exists`);
      await store.create(built.record);
      return built;
    },
    /** Every EAB with how many accounts it binds; never the HMAC key. */
    list(): Promise<{ eab: EabRecord; accounts: number }[]> {
      return store.list();
    },
    /** Its accounts can order no more certificates, nor finalize what they ordered. */
    async revoke(name: string): Promise<void> {
      const res = await store.revoke(name, clock());
      if (res === "missing") throw notFound(`no EAB named "${name}"`);
      if (res === "already") throw conflict(`the EAB "${name}" is already revoked`);
    },
  };
}
export type EabService = ReturnType<typeof eabService>;
