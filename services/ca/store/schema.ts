import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Times are milliseconds since the epoch; lists are JSON arrays of strings. */

export const tokens = sqliteTable("tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  /** "enrol" tokens sign certificates; the "admin" token manages the CA */
  kind: text("kind", { enum: ["enrol", "admin"] }).notNull(),
  secretHash: text("secret_hash").notNull(),
  dnsPatterns: text("dns_patterns", { mode: "json" }).$type<string[]>().notNull(),
  ipRanges: text("ip_ranges", { mode: "json" }).$type<string[]>().notNull(),
  maxValidityMs: integer("max_validity_ms").notNull(),
  expiresAt: integer("expires_at"),
  /** null: unlimited */
  usesLeft: integer("uses_left"),
  /** requests allowed per rate window */
  rateLimit: integer("rate_limit").notNull(),
  rateWindowMs: integer("rate_window_ms").notNull(),
  windowStart: integer("window_start").notNull().default(0),
  windowCount: integer("window_count").notNull().default(0),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
});

export const certificates = sqliteTable(
  "certificates",
  {
    serial: text("serial").primaryKey(),
    tokenId: text("token_id"),
    /** the serial of the certificate this one renewed */
    renewedFrom: text("renewed_from"),
    commonName: text("common_name"),
    dnsNames: text("dns_names", { mode: "json" }).$type<string[]>().notNull(),
    ipAddresses: text("ip_addresses", { mode: "json" }).$type<string[]>().notNull(),
    notBefore: integer("not_before").notNull(),
    notAfter: integer("not_after").notNull(),
    /** lowercase hex SHA-256 of the SubjectPublicKeyInfo DER */
    keyFingerprint: text("key_fingerprint").notNull(),
    pem: text("pem").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
    /** RFC 5280 5.3.1 CRLReason code */
    revocationReason: integer("revocation_reason"),
  },
  (t) => [index("certificates_not_after").on(t.notAfter), index("certificates_revoked_at").on(t.revokedAt)],
);

export const crls = sqliteTable("crls", {
  number: integer("number").primaryKey(),
  der: text("der").notNull(),
  thisUpdate: integer("this_update").notNull(),
  nextUpdate: integer("next_update").notNull(),
  /** how many revocations it lists, and the newest revocation time, to tell when it is stale */
  revokedCount: integer("revoked_count").notNull(),
  lastRevokedAt: integer("last_revoked_at").notNull(),
});
