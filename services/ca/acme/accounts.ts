import { randomBytes } from "node:crypto";
import type { JWK } from "jose";
import {
  accountDoesNotExist,
  invalidContact,
  rateLimited,
  unauthorized,
  unsupportedContact,
} from "../../../shared/problem.js";
import type { AccountRecord } from "../core/acme/types.js";
import type { AcmeDeps } from "./deps.js";
import { thumbprint, verifyEab } from "./eab.js";

export interface NewAccountRequest {
  contact?: string[];
  onlyReturnExisting?: boolean;
  externalAccountBinding?: unknown;
}

/** RFC 8555 7.3: accounts, found by their key, bound to an External Account Binding (7.3.4). */
export function accountService(deps: Pick<AcmeDeps, "store" | "clock" | "log" | "limits">) {
  return {
    byId(id: string): Promise<AccountRecord | null> {
      return deps.store.accounts.byId(id);
    },

    /**
     * 7.3 newAccount and 7.3.1 finding an account by its key: the account of this key if there is
     * one, else a new one bound to the EAB the request carries. `newAccountUrl` is what the EAB's
     * JWS must name.
     */
    async register(
      jwk: JWK,
      req: NewAccountRequest,
      newAccountUrl: string,
      clientAddress: string,
    ): Promise<{ account: AccountRecord; created: boolean }> {
      const tp = await thumbprint(jwk);
      const existing = await deps.store.accounts.byThumbprint(tp);
      if (existing) return { account: existing, created: false };
      if (req.onlyReturnExisting) throw accountDoesNotExist("no account exists with this key");
      // Each attempt to create an account costs a signature and a MAC check and may write a row:
      // counted per client address in the database, so that replicas behind a balancer count
      // a client together.
      const wait = await deps.store.rateWindows.take({
        limit: "acme-new-account",
        subject: clientAddress,
        now: deps.clock(),
        max: deps.limits.newAccountLimit,
        windowMs: deps.limits.newAccountWindowMs,
      });
      if (wait > 0) {
        throw rateLimited(
          `at most ${deps.limits.newAccountLimit} new accounts per client address per ${deps.limits.newAccountWindowMs / 1000}s`,
          wait,
        );
      }
      const contact = checkContacts(req.contact ?? []);
      const eab = await verifyEab(
        req.externalAccountBinding,
        jwk as Record<string, unknown>,
        newAccountUrl,
        (kid) => deps.store.eab(kid),
      );
      const account: AccountRecord = {
        id: randomBytes(12).toString("base64url"),
        thumbprint: tp,
        jwk: publicJwk(jwk),
        status: "valid",
        contact,
        eabKid: eab.kid,
        createdAt: deps.clock(),
      };
      if (!(await deps.store.accounts.createBound(account, eab.maxAccounts))) {
        throw unauthorized(
          `the external account binding ${eab.kid} binds at most ${eab.maxAccounts} account${eab.maxAccounts === 1 ? "" : "s"}, and has them: ask for another`,
        );
      }
      deps.log.info({ account: account.id, eab: eab.name }, "ACME account created");
      return { account, created: true };
    },

    /**
     * 7.3.2: an update may change the contacts or (7.3.6) deactivate; everything else in the
     * request is ignored, as the RFC says.
     */
    async update(
      account: AccountRecord,
      req: { contact?: string[]; status?: unknown },
    ): Promise<AccountRecord> {
      const fields: Partial<AccountRecord> = {};
      if (req.contact) fields.contact = checkContacts(req.contact);
      if (req.status === "deactivated") fields.status = "deactivated";
      if (Object.keys(fields).length === 0) return account;
      await deps.store.accounts.update(account.id, fields);
      return { ...account, ...fields };
    },

    /**
     * 7.3.5 key change, once the inner JWS has been verified: the account's new key, or the
     * account that already holds that key (the caller answers 409 with its URL).
     */
    async changeKey(
      account: AccountRecord,
      newJwk: JWK,
    ): Promise<{ account: AccountRecord; holder: null } | { account: null; holder: AccountRecord }> {
      const tp = await thumbprint(newJwk);
      const holder = await deps.store.accounts.byThumbprint(tp);
      if (holder) return { account: null, holder };
      const jwk = publicJwk(newJwk);
      await deps.store.accounts.update(account.id, { jwk, thumbprint: tp });
      return { account: { ...account, jwk, thumbprint: tp }, holder: null };
    },
  };
}

/**
 * RFC 8555 7.3: contacts are mailto: URLs; this CA sends no mail, but keeps them. Another scheme
 * is unsupportedContact, a mailto: URL that is not one plain address invalidContact (6.7).
 */
function checkContacts(contact: string[]): string[] {
  for (const c of contact) {
    if (!/^mailto:/i.test(c)) throw unsupportedContact(`"${c}": only mailto: contacts are supported`);
    if (!/^mailto:[^@\s,?]+@[^@\s,?]+$/i.test(c))
      throw invalidContact(`"${c}" is not a mailto: URL with one address`);
  }
  return contact;
}

/** Only the public members of a JWK are kept. */
function publicJwk(jwk: JWK): Record<string, unknown> {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
}
