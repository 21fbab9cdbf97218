import { sql } from "../drizzle.cjs";
import type * as sqlite from "../schema.js";
import { bigint, index, jsonb, pgTable, primaryKey, text } from "./drizzle.cjs";
import { listingFits } from "./listing-width.js";

/**
 * The PostgreSQL twins of ../schema.ts, table for table, column for column, index for index
 * (test/unit/services/ca/store/pg-schema.test.ts holds them equal): the same TypeScript names and
 * database names, so one row type serves both. Times and counts are bigint (milliseconds since
 * the epoch pass 2^31), read as JavaScript numbers; the JSON columns are jsonb.
 *
 * Kept beside, not built from, the SQLite tables: drizzle's column builders are typed per dialect,
 * and a builder over both loses the row types every store module relies on. Loaded only by the
 * PostgreSQL store, so a SQLite process does not pay for pg-core.
 */
const ms = (name: string) => bigint(name, { mode: "number" });
const json = <T>(name: string) => jsonb(name).$type<T>();

type Enum<T extends { enumValues: readonly string[] }> = T["enumValues"][number];

export const tokens = pgTable("tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  kind: text("kind").$type<Enum<typeof sqlite.tokens.kind>>().notNull(),
  secretHash: text("secret_hash").notNull(),
  dnsPatterns: json<string[]>("dns_patterns").notNull(),
  ipRanges: json<string[]>("ip_ranges").notNull(),
  maxValidityMs: ms("max_validity_ms").notNull(),
  expiresAt: ms("expires_at"),
  usesLeft: ms("uses_left"),
  rateLimit: ms("rate_limit").notNull(),
  rateWindowMs: ms("rate_window_ms").notNull(),
  windowStart: ms("window_start").notNull().default(0),
  windowCount: ms("window_count").notNull().default(0),
  createdAt: ms("created_at").notNull(),
  revokedAt: ms("revoked_at"),
});

export const certificates = pgTable(
  "certificates",
  {
    serial: text("serial").primaryKey(),
    tokenId: text("token_id"),
    renewedFrom: text("renewed_from"),
    renewedBy: text("renewed_by"),
    commonName: text("common_name"),
    dnsNames: json<string[]>("dns_names").notNull(),
    ipAddresses: json<string[]>("ip_addresses").notNull(),
    notBefore: ms("not_before").notNull(),
    notAfter: ms("not_after").notNull(),
    keyFingerprint: text("key_fingerprint").notNull(),
    pem: text("pem").notNull(),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
    revocationReason: ms("revocation_reason"),
  },
  (t) => [
    // SQLite's twin: every column a row of the inventory shows, so that a page is read from the
    // index alone, in order (an index-only scan), not from ~1,000 table rows scattered over a
    // 1.1 GB table (a page of 1,000 at 1M: 174 -> 2 ms). A btree entry is limited to 2,704 bytes,
    // which a certificate's names can pass: this index holds the rows whose entry fits
    // (LISTING_WIDTH_LIMIT), certificates_not_after_wide keys the others, and a page reads both.
    index("certificates_not_after")
      .on(
        t.notAfter,
        t.serial,
        t.revokedAt,
        t.renewedBy,
        t.tokenId,
        t.renewedFrom,
        t.commonName,
        t.dnsNames,
        t.ipAddresses,
        t.notBefore,
        t.keyFingerprint,
      )
      .where(listingFits(t, true)),
    index("certificates_not_after_wide").on(t.notAfter, t.serial).where(listingFits(t, false)),
    index("certificates_expiry").on(t.notAfter, t.revokedAt),
    index("certificates_token").on(t.tokenId, t.notAfter, t.serial),
    index("certificates_revoked").on(t.revokedAt).where(sql`${t.revokedAt} is not null`),
    index("certificates_renewed_from").on(t.renewedFrom).where(sql`${t.renewedFrom} is not null`),
    index("certificates_revoked_order").on(t.notAfter, t.serial).where(sql`${t.revokedAt} is not null`),
    index("certificates_superseded_order").on(t.notAfter, t.serial).where(sql`${t.renewedBy} is not null`),
  ],
);

export const certificateNames = pgTable(
  "certificate_names",
  {
    name: text("name").notNull(),
    notAfter: ms("not_after").notNull(),
    serial: text("serial").notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.notAfter, t.serial] })],
);

export const crls = pgTable("crls", {
  number: ms("number").primaryKey(),
  der: text("der").notNull(),
  thisUpdate: ms("this_update").notNull(),
  nextUpdate: ms("next_update").notNull(),
  revokedCount: ms("revoked_count").notNull(),
  lastRevokedAt: ms("last_revoked_at").notNull(),
});

export const acmeEab = pgTable("acme_eab", {
  kid: text("kid").primaryKey(),
  name: text("name").notNull().unique(),
  hmacKey: text("hmac_key").notNull(),
  dnsPatterns: json<string[]>("dns_patterns").notNull(),
  ipRanges: json<string[]>("ip_ranges").notNull(),
  maxValidityMs: ms("max_validity_ms").notNull(),
  maxAccounts: ms("max_accounts").notNull().default(1),
  createdAt: ms("created_at").notNull(),
  revokedAt: ms("revoked_at"),
});

export const acmeAccounts = pgTable("acme_accounts", {
  id: text("id").primaryKey(),
  thumbprint: text("thumbprint").notNull().unique(),
  jwk: json<Record<string, unknown>>("jwk").notNull(),
  status: text("status").$type<Enum<typeof sqlite.acmeAccounts.status>>().notNull(),
  contact: json<string[]>("contact").notNull(),
  eabKid: text("eab_kid").notNull(),
  createdAt: ms("created_at").notNull(),
  windowStart: ms("window_start").notNull().default(0),
  windowCount: ms("window_count").notNull().default(0),
});

export const acmeOrders = pgTable(
  "acme_orders",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    status: text("status").$type<Enum<typeof sqlite.acmeOrders.status>>().notNull(),
    identifiers: json<typeof sqlite.acmeOrders.$inferSelect.identifiers>("identifiers").notNull(),
    authzIds: json<string[]>("authz_ids").notNull(),
    expires: ms("expires").notNull(),
    error: json<Record<string, unknown>>("error"),
    certSerial: text("cert_serial"),
    replaces: text("replaces"),
    notBefore: ms("not_before"),
    notAfter: ms("not_after"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    index("acme_orders_account").on(t.accountId),
    index("acme_orders_cert_serial").on(t.certSerial).where(sql`${t.certSerial} is not null`),
  ],
);

export const acmeAuthzs = pgTable("acme_authzs", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  identifierType: text("identifier_type").$type<Enum<typeof sqlite.acmeAuthzs.identifierType>>().notNull(),
  identifierValue: text("identifier_value").notNull(),
  status: text("status").$type<Enum<typeof sqlite.acmeAuthzs.status>>().notNull(),
  expires: ms("expires").notNull(),
  challenges: json<typeof sqlite.acmeAuthzs.$inferSelect.challenges>("challenges").notNull(),
});

export const acmeUsedNonces = pgTable(
  "acme_used_nonces",
  {
    tag: text("tag").primaryKey(),
    expires: ms("expires").notNull(),
  },
  (t) => [index("acme_used_nonces_expires").on(t.expires)],
);

export const uiSessions = pgTable(
  "ui_sessions",
  {
    idHash: text("id_hash").primaryKey(),
    adminTokenId: text("admin_token_id").notNull(),
    createdAt: ms("created_at").notNull(),
    lastSeen: ms("last_seen").notNull(),
    expiresAt: ms("expires_at").notNull(),
  },
  (t) => [index("ui_sessions_expires").on(t.expiresAt)],
);

export const hosts = pgTable(
  "hosts",
  {
    name: text("name").notNull(),
    host: text("host").notNull(),
    lastSeen: ms("last_seen").notNull(),
    serial: text("serial").notNull(),
    names: json<string[]>("names").notNull(),
    notBefore: ms("not_before").notNull(),
    notAfter: ms("not_after").notNull(),
    servedSha256: text("served_sha256"),
    renewAt: ms("renew_at"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.name, t.host] })],
);

export const alerts = pgTable("alerts", {
  key: text("key").primaryKey(),
  firing: ms("firing").notNull(),
  changedAt: ms("changed_at").notNull(),
  summary: text("summary").notNull(),
});

export const authFailures = pgTable(
  "auth_failures",
  {
    address: text("address").primaryKey(),
    windowStart: ms("window_start").notNull(),
    count: ms("count").notNull(),
  },
  (t) => [index("auth_failures_window_start").on(t.windowStart)],
);

/** ../schema.ts authFailureTallies */
export const authFailureTallies = pgTable(
  "auth_failure_tallies",
  {
    address: text("address").primaryKey(),
    firstAt: ms("first_at").notNull(),
    lastAt: ms("last_at").notNull(),
    failures: ms("failures").notNull(),
    limited: ms("limited").notNull(),
    tokens: text("tokens").notNull(),
    reasons: text("reasons").notNull(),
  },
  (t) => [index("auth_failure_tallies_first_at").on(t.firstAt)],
);

export const rateWindows = pgTable(
  "rate_windows",
  {
    key: text("key").primaryKey(),
    windowStart: ms("window_start").notNull(),
    count: ms("count").notNull(),
  },
  (t) => [index("rate_windows_window_start").on(t.windowStart)],
);

/** ../schema.ts auditEvents; the id an identity column (never reused, as SQLite's AUTOINCREMENT). */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: ms("id").primaryKey().generatedByDefaultAsIdentity(),
    at: ms("at").notNull(),
    type: text("type").notNull(),
    actorKind: text("actor_kind").notNull(),
    actorId: text("actor_id").notNull(),
    subject: text("subject"),
    /** canonical JSON as text: the hash is over these very characters' value (core/audit.ts) */
    details: text("details").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("audit_events_at").on(t.at)],
);

export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: ms("expires_at").notNull(),
});

/** ../schema.ts certificateDays, kept by a trigger (migrations/pg 0010). */
export const certificateDays = pgTable(
  "certificate_days",
  {
    day: ms("day").notNull(),
    renewed: ms("renewed").notNull(),
    revoked: ms("revoked").notNull(),
    slot: ms("slot").notNull(),
    n: ms("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.renewed, t.revoked, t.slot] })],
);
