/**
 * GENERATED from ../schema.ts (the SQLite schema) by scripts/pg-schema.ts: `npm run db:schema`,
 * or `npm run db:generate`, which then makes both dialects' migrations. Do not edit it by hand:
 * change ../schema.ts, or ./schema-dialect.ts for what PostgreSQL does differently, and regenerate
 * (test/unit/services/ca/store/pg-schema.test.ts fails while this file is not what it writes).
 *
 * The tables of ../schema.ts, with the same TypeScript and database names, so that one row type
 * serves both dialects: integers are bigint read as numbers, JSON columns jsonb typed as SQLite's
 * (text that holds JSON stays text: audit_events.details is hashed as those very characters), and
 * SQLite's AUTOINCREMENT key is an identity column (an id is never reused either way). Loaded only
 * by the PostgreSQL store, so a SQLite process does not pay for pg-core.
 */
import { sql } from "../drizzle.cjs";
import type * as sqlite from "../schema.js";
import { index, pgTable, primaryKey, text } from "./drizzle.cjs";
import { json, ms, pgConditions, pgIndexes } from "./schema-dialect.js";

export const acmeAccounts = pgTable("acme_accounts", {
  id: text("id").primaryKey(),
  thumbprint: text("thumbprint").notNull().unique(),
  jwk: json<typeof sqlite.acmeAccounts.$inferSelect.jwk>("jwk").notNull(),
  status: text("status").$type<typeof sqlite.acmeAccounts.$inferSelect.status>().notNull(),
  contact: json<typeof sqlite.acmeAccounts.$inferSelect.contact>("contact").notNull(),
  eabKid: text("eab_kid").notNull(),
  createdAt: ms("created_at").notNull(),
  windowStart: ms("window_start").notNull().default(0),
  windowCount: ms("window_count").notNull().default(0),
});

export const acmeAuthzs = pgTable("acme_authzs", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  identifierType: text("identifier_type")
    .$type<typeof sqlite.acmeAuthzs.$inferSelect.identifierType>()
    .notNull(),
  identifierValue: text("identifier_value").notNull(),
  status: text("status").$type<typeof sqlite.acmeAuthzs.$inferSelect.status>().notNull(),
  expires: ms("expires").notNull(),
  challenges: json<typeof sqlite.acmeAuthzs.$inferSelect.challenges>("challenges").notNull(),
});

export const acmeEab = pgTable("acme_eab", {
  kid: text("kid").primaryKey(),
  name: text("name").notNull().unique(),
  hmacKey: text("hmac_key").notNull(),
  dnsPatterns: json<typeof sqlite.acmeEab.$inferSelect.dnsPatterns>("dns_patterns").notNull(),
  ipRanges: json<typeof sqlite.acmeEab.$inferSelect.ipRanges>("ip_ranges").notNull(),
  maxValidityMs: ms("max_validity_ms").notNull(),
  maxAccounts: ms("max_accounts").notNull().default(1),
  createdAt: ms("created_at").notNull(),
  revokedAt: ms("revoked_at"),
});

export const acmeOrders = pgTable(
  "acme_orders",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    status: text("status").$type<typeof sqlite.acmeOrders.$inferSelect.status>().notNull(),
    identifiers: json<typeof sqlite.acmeOrders.$inferSelect.identifiers>("identifiers").notNull(),
    authzIds: json<typeof sqlite.acmeOrders.$inferSelect.authzIds>("authz_ids").notNull(),
    expires: ms("expires").notNull(),
    error: json<NonNullable<typeof sqlite.acmeOrders.$inferSelect.error>>("error"),
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

export const acmeUsedNonces = pgTable(
  "acme_used_nonces",
  {
    tag: text("tag").primaryKey(),
    expires: ms("expires").notNull(),
  },
  (t) => [index("acme_used_nonces_expires").on(t.expires)],
);

export const alerts = pgTable("alerts", {
  key: text("key").primaryKey(),
  firing: ms("firing").notNull(),
  changedAt: ms("changed_at").notNull(),
  summary: text("summary").notNull(),
});

export const auditEvents = pgTable(
  "audit_events",
  {
    id: ms("id").primaryKey().generatedByDefaultAsIdentity(),
    at: ms("at").notNull(),
    type: text("type").notNull(),
    actorKind: text("actor_kind").notNull(),
    actorId: text("actor_id").notNull(),
    subject: text("subject"),
    details: text("details").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("audit_events_at").on(t.at)],
);

export const authFailures = pgTable(
  "auth_failures",
  {
    address: text("address").primaryKey(),
    windowStart: ms("window_start").notNull(),
    count: ms("count").notNull(),
  },
  (t) => [index("auth_failures_window_start").on(t.windowStart)],
);

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

export const certificateNames = pgTable(
  "certificate_names",
  {
    name: text("name").notNull(),
    notAfter: ms("not_after").notNull(),
    serial: text("serial").notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.notAfter, t.serial] })],
);

export const certificates = pgTable(
  "certificates",
  {
    serial: text("serial").primaryKey(),
    tokenId: text("token_id"),
    renewedFrom: text("renewed_from"),
    renewedBy: text("renewed_by"),
    commonName: text("common_name"),
    dnsNames: json<typeof sqlite.certificates.$inferSelect.dnsNames>("dns_names").notNull(),
    ipAddresses: json<typeof sqlite.certificates.$inferSelect.ipAddresses>("ip_addresses").notNull(),
    notBefore: ms("not_before").notNull(),
    notAfter: ms("not_after").notNull(),
    keyFingerprint: text("key_fingerprint").notNull(),
    pem: text("pem").notNull(),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
    revocationReason: ms("revocation_reason"),
  },
  (t) => [
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
      .where(pgConditions.certificates.certificates_not_after(t)),
    index("certificates_token").on(t.tokenId, t.notAfter, t.serial),
    index("certificates_revoked").on(t.revokedAt).where(sql`${t.revokedAt} is not null`),
    index("certificates_renewed_from").on(t.renewedFrom).where(sql`${t.renewedFrom} is not null`),
    index("certificates_revoked_order").on(t.notAfter, t.serial).where(sql`${t.revokedAt} is not null`),
    index("certificates_superseded_order").on(t.notAfter, t.serial).where(sql`${t.renewedBy} is not null`),
    pgIndexes.certificates.certificates_not_after_wide(t),
    pgIndexes.certificates.certificates_expiry(t),
  ],
);

export const crls = pgTable("crls", {
  number: ms("number").primaryKey(),
  der: text("der").notNull(),
  thisUpdate: ms("this_update").notNull(),
  nextUpdate: ms("next_update").notNull(),
  revokedCount: ms("revoked_count").notNull(),
  lastRevokedAt: ms("last_revoked_at").notNull(),
});

export const hosts = pgTable(
  "hosts",
  {
    name: text("name").notNull(),
    host: text("host").notNull(),
    lastSeen: ms("last_seen").notNull(),
    serial: text("serial").notNull(),
    names: json<typeof sqlite.hosts.$inferSelect.names>("names").notNull(),
    notBefore: ms("not_before").notNull(),
    notAfter: ms("not_after").notNull(),
    servedSha256: text("served_sha256"),
    renewAt: ms("renew_at"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.name, t.host] })],
);

export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: ms("expires_at").notNull(),
});

export const rateWindows = pgTable(
  "rate_windows",
  {
    key: text("key").primaryKey(),
    windowStart: ms("window_start").notNull(),
    count: ms("count").notNull(),
  },
  (t) => [index("rate_windows_window_start").on(t.windowStart)],
);

export const tokens = pgTable("tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  kind: text("kind").$type<typeof sqlite.tokens.$inferSelect.kind>().notNull(),
  secretHash: text("secret_hash").notNull(),
  dnsPatterns: json<typeof sqlite.tokens.$inferSelect.dnsPatterns>("dns_patterns").notNull(),
  ipRanges: json<typeof sqlite.tokens.$inferSelect.ipRanges>("ip_ranges").notNull(),
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
