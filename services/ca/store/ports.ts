import type { Identifier } from "../../../shared/acme/types.js";
import type { AccountRecord, AuthzRecord, EabRecord, OrderRecord } from "../core/acme/types.js";
import type { AuditEntry } from "../core/audit.js";
import type { InventoryPage, InventoryQuery } from "../core/inventory.js";
import type {
  CertificateRecord,
  CrlRecord,
  RevocationState,
  RevokedEntry,
  TokenRecord,
  TokenState,
} from "../core/types.js";
import type { AuditPort } from "./audit.js";
import type { AuthFailureStore } from "./auth-failures.js";
import type { DashboardStore, StateCounts } from "./dashboard.js";
import type { FailureTalliesPort } from "./failure-tallies.js";
import type { HostStore } from "./hosts.js";
import type { RateTake } from "./rate-windows.js";
import type { SessionStore } from "./sessions.js";

/*
 * The store's ports: everything the CA asks of its database, every method async, so that a
 * store on a network database (PostgreSQL) implements the same interface as the embedded SQLite
 * one. Each user still declares the part it needs (authority.ts, acme/ports.ts, tokens/service.ts,
 * ...); this file is the whole, which a store implements and the composition root hands out.
 * Semantics, atomicity and errors: /work/notes/ports.md and the comments here.
 *
 * Common rules: a missing row is null (never an exception); a method that changes rows is atomic
 * on its own (one transaction or one statement), also against other processes on the same
 * database; errors other than the documented ones (a Problem, TokenRefused) are faults of the
 * database and reject the promise as they are.
 */

export interface TokensPort {
  /** The mutable part of a token: whether it still exists, is revoked or expired. */
  state(id: string): Promise<TokenState | null>;
  /** Throws conflict() (409) when a token with that name exists. `audit`: written in the same transaction. */
  create(t: TokenRecord, audit?: AuditEntry): Promise<void>;
  /** Replaces the admin token (init, or a new admin token on demand): one transaction. */
  replaceAdmin(t: TokenRecord): Promise<void>;
  byId(id: string): Promise<TokenRecord | null>;
  /** The id of the token with this name, or with this id; null when there is none. */
  idOf(nameOrId: string): Promise<string | null>;
  /** Every token, admin included, oldest first. */
  list(): Promise<TokenRecord[]>;
  /** Sets revokedAt; false when no token has that name. `audit`: written with it, when true. */
  revoke(name: string, at: number, audit?: AuditEntry): Promise<boolean>;
}

export interface CertificatesPort {
  /** Only for imports and tests: issuance goes through StorePorts.recordIssued. */
  insert(rec: CertificateRecord): Promise<void>;
  /** One page of the inventory in the order (notAfter, serial), after q.after. */
  page(q: InventoryQuery): Promise<InventoryPage>;
  bySerial(serial: string): Promise<CertificateRecord | null>;
  /** The serial of the certificate that renewed this one, or null. */
  successorOf(serial: string): Promise<string | null>;
  /**
   * Atomic: of two revocations at once, one gets "revoked", the other "already". `audit`: written
   * in the same transaction, only when "revoked".
   */
  revoke(
    serial: string,
    reason: number,
    at: number,
    audit?: AuditEntry,
  ): Promise<"revoked" | "already" | "missing">;
  /**
   * GET /metrics: how many certificates are in each state at `now`, and how many valid ones
   * expire within each of `windowsMs` (counts over indexes: it runs at every scrape).
   */
  stateCounts(now: number, windowsMs: readonly number[]): Promise<StateCounts>;
  revocationState(): Promise<RevocationState>;
  /** Revoked certificates that have not expired by `now`, latest revocation first. */
  revokedUnexpired(now: number): Promise<RevokedEntry[]>;
}

export type { StateCounts };

export interface CrlsPort {
  latest(): Promise<CrlRecord | null>;
  /**
   * Stores a new CRL unless one with that number exists (another replica made it first): false
   * then. Older CRLs are deleted in the same transaction.
   */
  insert(rec: CrlRecord): Promise<boolean>;
}

export interface EabsPort {
  /** `audit`: written in the same transaction */
  create(rec: EabRecord, audit?: AuditEntry): Promise<void>;
  byName(name: string): Promise<EabRecord | null>;
  /** Every EAB with the number of accounts bound to it, oldest first. */
  list(): Promise<{ eab: EabRecord; accounts: number }[]>;
  /** `audit`: written in the same transaction, only when "revoked" */
  revoke(name: string, at: number, audit?: AuditEntry): Promise<"revoked" | "already" | "missing">;
}

export interface AcmePort {
  eab(kid: string): Promise<EabRecord | null>;
  eabs: EabsPort;
  nonces: {
    /** Records the nonce's tag as used until `expires`; false when it already was (atomic). */
    use(tag: string, expires: number): Promise<boolean>;
  };
  /** Forgets the used nonces whose record ran out by `now`; returns how many. */
  sweepUsedNonces(now: number): Promise<number>;
  accounts: {
    byId(id: string): Promise<AccountRecord | null>;
    byThumbprint(thumbprint: string): Promise<AccountRecord | null>;
    /** Creates the account unless its EAB already binds `maxAccounts`: false then (atomic). */
    createBound(rec: AccountRecord, maxAccounts: number): Promise<boolean>;
    update(
      id: string,
      fields: Partial<Pick<AccountRecord, "status" | "contact" | "jwk" | "thumbprint">>,
    ): Promise<void>;
    /** Takes one slot of the account's rate window (one statement): 0 when allowed, else seconds to wait. */
    takeRateSlot(id: string, now: number, limit: number, windowMs: number): Promise<number>;
  };
  /**
   * Counts one event against a limit (`limit`: its name, `subject`: what it counts, a client
   * address) in fixed windows: one statement, so that replicas count together and at most `max`
   * a window are let through. 0 when within the limit, else seconds until the window is over.
   */
  rateWindows: { take(t: RateTake): Promise<number> };
  orders: {
    /** The order and its authorizations, in one transaction. */
    create(order: OrderRecord, authzs: AuthzRecord[]): Promise<void>;
    byId(id: string): Promise<OrderRecord | null>;
    byCertSerial(serial: string): Promise<OrderRecord | null>;
    /** The account's orders, newest first. */
    ofAccount(accountId: string): Promise<OrderRecord[]>;
    /** The account's orders that name a certificate they replace (RFC 9773 5), in any status. */
    replacingOf(accountId: string): Promise<OrderRecord[]>;
    update(id: string, fields: Partial<Pick<OrderRecord, "status" | "error" | "certSerial">>): Promise<void>;
    /** Moves a pending order to processing; false when another request already did (compare-and-set). */
    claim(id: string): Promise<boolean>;
  };
  authzs: {
    byId(id: string): Promise<AuthzRecord | null>;
    save(authz: AuthzRecord): Promise<void>;
    /** Whether the account holds a valid authorization for the identifier that expires after `now`. */
    heldFor(accountId: string, identifier: Identifier, now: number): Promise<boolean>;
  };
}

/** Declared by their modules, every method async already. */
export type SessionsPort = SessionStore;
export type DashboardPort = DashboardStore;
export type HostsPort = HostStore;
export type AuthFailuresPort = AuthFailureStore;

/**
 * Leases on periodic work, so that one replica at a time does it. Times are the store's clock
 * (PostgreSQL: the database's, so replicas' clocks need not agree).
 */
export interface LeasesPort {
  /**
   * Takes the lease `name` for `holder` for `ttlMs` when nobody holds it, its holder's time has
   * run out, or `holder` holds it already (then it is renewed); true when `holder` holds it now.
   * Atomic: of two replicas asking at once, one gets it.
   */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends `holder`'s lease by `ttlMs` from now; false when another holds it (it was lost). */
  renew(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `holder` holds it (at shutdown: another takes over at once). */
  release(name: string, holder: string): Promise<void>;
}

/** The whole store, as the composition root (server.ts, parts.ts) gets it. */
export interface StorePorts {
  tokens: TokensPort;
  certificates: CertificatesPort;
  crls: CrlsPort;
  acme: AcmePort;
  /** the dashboard's sessions (store/sessions.ts) */
  sessions: SessionsPort;
  /** the dashboard overview's figures (store/dashboard.ts) */
  dashboard: DashboardPort;
  /** the fleet view's host reports and the alerts' state (store/hosts.ts) */
  hosts: HostsPort;
  /** failed authentications per client address, counted by every replica together (store/auth-failures.ts) */
  authFailures: AuthFailuresPort;
  /**
   * failed authentications per address, as every process adds them up until they become one
   * auth.failed event (store/failure-tallies.ts, audit/failures.ts)
   */
  failureTallies: FailureTalliesPort;
  /** leases on periodic work (leases/runner.ts) */
  leases: LeasesPort;
  /** the audit trail (store/audit.ts); its head is read inside each write transaction */
  audit: AuditPort;
  /**
   * Records an issued certificate and, for a token, consumes one use and one rate slot, in one
   * transaction: the token is checked again inside it (revoked, expired, out of uses: rejects
   * with TokenRefused; rate window full: rateLimited()); a renewal of a certificate already
   * renewed rejects with forbidden(); nothing is written then. Settles after the commit. `audit`:
   * the issuance's event, chained in the same transaction.
   */
  recordIssued(
    rec: CertificateRecord,
    tokenId: string | null,
    now: number,
    audit?: AuditEntry | null,
  ): Promise<void>;
  /** Resolves when the database answers a trivial query; rejects otherwise (/healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
