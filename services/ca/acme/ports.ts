import type { Identifier } from "../../../shared/acme/types.js";
import type { AccountRecord, AuthzRecord, EabRecord, OrderRecord } from "../core/acme/types.js";
import type { Actor } from "../core/audit.js";
import type { ParsedCsr } from "../core/csr.js";
import type { Constraints, Policy } from "../core/policy.js";

/**
 * What the ACME server needs from storage, declared here by its user (as step-ca's acme/db.go);
 * the SQLite store implements it. Missing rows are null.
 */
export interface AcmeStore {
  eab(kid: string): Promise<EabRecord | null>;
  /** the record of used nonces (see nonces.ts): a nonce is written down only once it is used */
  nonces: {
    /** records the nonce's tag as used until `expires`; false when it already was */
    use(tag: string, expires: number): Promise<boolean>;
  };
  accounts: {
    byId(id: string): Promise<AccountRecord | null>;
    byThumbprint(thumbprint: string): Promise<AccountRecord | null>;
    /** creates the account unless its EAB already binds `maxAccounts`; false then */
    createBound(rec: AccountRecord, maxAccounts: number): Promise<boolean>;
    update(
      id: string,
      fields: Partial<Pick<AccountRecord, "status" | "contact" | "jwk" | "thumbprint">>,
    ): Promise<void>;
    /** takes one slot of the account's rate window: 0 when allowed, else seconds until the next slot */
    takeRateSlot(id: string, now: number, limit: number, windowMs: number): Promise<number>;
  };
  /**
   * Limits counted per key in fixed windows by every replica together (store/rate-windows.ts):
   * counts one event, 0 when it is within the limit, else the seconds until the window is over
   */
  rateWindows: {
    take(t: { limit: string; subject: string; now: number; max: number; windowMs: number }): Promise<number>;
  };
  orders: {
    create(order: OrderRecord, authzs: AuthzRecord[]): Promise<void>;
    byId(id: string): Promise<OrderRecord | null>;
    byCertSerial(serial: string): Promise<OrderRecord | null>;
    /** the account's orders, newest first */
    ofAccount(accountId: string): Promise<OrderRecord[]>;
    /** the account's orders that name a certificate they replace (RFC 9773 5), in any status */
    replacingOf(accountId: string): Promise<OrderRecord[]>;
    update(id: string, fields: Partial<Pick<OrderRecord, "status" | "error" | "certSerial">>): Promise<void>;
    /** moves a pending order to processing; false when another request already did */
    claim(id: string): Promise<boolean>;
  };
  authzs: {
    byId(id: string): Promise<AuthzRecord | null>;
    save(authz: AuthzRecord): Promise<void>;
    /** whether the account holds a valid authorization for the identifier that expires after `now` */
    heldFor(accountId: string, identifier: Identifier, now: number): Promise<boolean>;
  };
}

export interface IssuedCert {
  serial: string;
  fullchain: string;
}

/** What the ACME server needs from the Authority: the same profile and inventory as /v1/sign. */
export interface AcmeIssuer {
  /**
   * `csr`: parsed once by finalize, with its commonName among its names; `window`: the order's
   * validity (RFC 8555 7.4), already checked; absent: the default lifetime
   */
  issueForAcme(
    csr: ParsedCsr,
    policy: Policy,
    window?: { notBefore: Date; notAfter: Date },
    /** the account that ordered it, for the audit trail */
    actor?: Actor,
  ): Promise<IssuedCert>;
  /** the certificate and its chain, PEM, as downloaded (RFC 8555 7.4.2) */
  chainOf(serial: string): Promise<{
    pem: string;
    chain: string;
    notBefore: number;
    notAfter: number;
    revoked: boolean;
    der: Uint8Array;
    /** the certificate's subjectAltName entries */
    dnsNames: string[];
    ipAddresses: string[];
  } | null>;
  /** `actor`: who asked (the account, or the certificate's key), for the audit trail */
  revoke(serial: string, reason: number, actor: Actor): Promise<void>;
  constraints: Constraints;
  /**
   * the key identifiers of the intermediate and of those a rotation retired: the AKI of an ARI
   * CertID (RFC 9773 4.1) is one of them, so certificates from before a rotation renew too
   */
  issuerKeyIds: readonly Uint8Array[];
}
