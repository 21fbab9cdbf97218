import { index, integer, primaryKey, sql, sqliteTable, text } from "./drizzle.cjs";

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
    /** the serial of the certificate that renewed this one (it is superseded) */
    renewedBy: text("renewed_by"),
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
  // The revoked ones only (the CRL's query): an issuance then writes no entry in this index.
  (t) => [
    // The inventory's order and its cursor (expiry, then serial), covering every column a row
    // of the inventory shows: a page reads this index alone, in order, instead of one table row
    // scattered somewhere in the file per certificate (77,000 rows of a million: 2.6 s -> 0.34 s).
    index("certificates_not_after").on(
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
    ),
    // GET /v1/certs?token=
    index("certificates_token").on(t.tokenId, t.notAfter, t.serial),
    index("certificates_revoked").on(t.revokedAt).where(sql`${t.revokedAt} is not null`),
    // renewal asks whether a certificate has a successor already
    index("certificates_renewed_from").on(t.renewedFrom).where(sql`${t.renewedFrom} is not null`),
    // the inventory's pages of one state, each in the inventory's order: the revoked, the superseded
    index("certificates_revoked_order").on(t.notAfter, t.serial).where(sql`${t.revokedAt} is not null`),
    index("certificates_superseded_order").on(t.notAfter, t.serial).where(sql`${t.renewedBy} is not null`),
  ],
);

/**
 * Each name a certificate carries (DNS names in lower case, IP addresses as the inventory writes
 * them), one row each, so that the inventory finds a certificate by name without reading the
 * JSON of every row. Written in the transaction that records the certificate. A WITHOUT ROWID
 * table on SQLite (migration 0017, by hand: drizzle-kit does not model it), so that a name is one
 * b-tree entry, not a table row and its key's index entry; a change to this table needs a
 * hand-written migration that keeps it so.
 */
export const certificateNames = sqliteTable(
  "certificate_names",
  {
    name: text("name").notNull(),
    /** the certificate's, so that a name's certificates come in the inventory's order from here */
    notAfter: integer("not_after").notNull(),
    serial: text("serial").notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.notAfter, t.serial] })],
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

/**
 * ACME External Account Bindings (RFC 8555 7.3.4). The HMAC key is a MAC key: the server must
 * recompute the MAC to verify an EAB, so it is stored as it is (base64url), not hashed. The data
 * directory is 0700 and `eab create` keeps the database file 0600; treat it like the CA keys.
 */
export const acmeEab = sqliteTable("acme_eab", {
  kid: text("kid").primaryKey(),
  name: text("name").notNull().unique(),
  hmacKey: text("hmac_key").notNull(),
  dnsPatterns: text("dns_patterns", { mode: "json" }).$type<string[]>().notNull(),
  ipRanges: text("ip_ranges", { mode: "json" }).$type<string[]>().notNull(),
  maxValidityMs: integer("max_validity_ms").notNull(),
  /** how many ACME accounts may bind it (eab create --accounts) */
  maxAccounts: integer("max_accounts").notNull().default(1),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
});

/** RFC 8555 7.1.2 accounts, keyed by id; the key's RFC 7638 thumbprint finds them by key. */
export const acmeAccounts = sqliteTable("acme_accounts", {
  id: text("id").primaryKey(),
  thumbprint: text("thumbprint").notNull().unique(),
  jwk: text("jwk", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  status: text("status", { enum: ["valid", "deactivated", "revoked"] }).notNull(),
  contact: text("contact", { mode: "json" }).$type<string[]>().notNull(),
  eabKid: text("eab_kid").notNull(),
  createdAt: integer("created_at").notNull(),
  windowStart: integer("window_start").notNull().default(0),
  windowCount: integer("window_count").notNull().default(0),
});

/** RFC 8555 7.1.3 orders. `status` holds only what authorizations cannot tell (7.1.6). */
export const acmeOrders = sqliteTable(
  "acme_orders",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    status: text("status", { enum: ["pending", "processing", "valid", "invalid"] }).notNull(),
    identifiers: text("identifiers", { mode: "json" })
      .$type<{ type: "dns" | "ip"; value: string }[]>()
      .notNull(),
    authzIds: text("authz_ids", { mode: "json" }).$type<string[]>().notNull(),
    expires: integer("expires").notNull(),
    error: text("error", { mode: "json" }).$type<Record<string, unknown>>(),
    certSerial: text("cert_serial"),
    /** RFC 9773 4.2: the certificate this order replaces (its ARI CertID) */
    replaces: text("replaces"),
    /** RFC 8555 7.4: the requested certificate validity; null when the order did not ask */
    notBefore: integer("not_before"),
    notAfter: integer("not_after"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("acme_orders_account").on(t.accountId),
    // a certificate's download, revocation and renewal info find its order (was a table scan)
    index("acme_orders_cert_serial").on(t.certSerial).where(sql`${t.certSerial} is not null`),
  ],
);

/** RFC 8555 7.1.4 authorizations, with their challenges (7.1.5) inline. */
export const acmeAuthzs = sqliteTable("acme_authzs", {
  id: text("id").primaryKey(),
  accountId: text("account_id").notNull(),
  identifierType: text("identifier_type", { enum: ["dns", "ip"] }).notNull(),
  identifierValue: text("identifier_value").notNull(),
  status: text("status", { enum: ["pending", "valid", "invalid", "deactivated", "revoked"] }).notNull(),
  expires: integer("expires").notNull(),
  challenges: text("challenges", { mode: "json" })
    .$type<
      {
        type: string;
        token: string;
        status: "pending" | "processing" | "valid" | "invalid";
        validated?: number;
        error?: Record<string, unknown>;
      }[]
    >()
    .notNull(),
});

/**
 * RFC 8555 6.5: the nonces that have been used, by their MAC tag, to refuse a replay, shared by
 * all processes. Issued nonces are not stored (acme/nonces.ts); a row goes when its nonce is
 * past its lifetime, which the nonce's own date then refuses.
 */
export const acmeUsedNonces = sqliteTable(
  "acme_used_nonces",
  {
    tag: text("tag").primaryKey(),
    expires: integer("expires").notNull(),
  },
  (t) => [index("acme_used_nonces_expires").on(t.expires)],
);

/**
 * Dashboard sessions (/ui/): the SHA-256 of the cookie's secret, never the secret itself, so any
 * process on this database can check a session and a copy of the database opens none. A session
 * ends at `expiresAt` (absolute) or after an idle time since `lastSeen`, whichever comes first,
 * and with the admin token it was opened with.
 */
export const uiSessions = sqliteTable(
  "ui_sessions",
  {
    idHash: text("id_hash").primaryKey(),
    adminTokenId: text("admin_token_id").notNull(),
    createdAt: integer("created_at").notNull(),
    lastSeen: integer("last_seen").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("ui_sessions_expires").on(t.expiresAt)],
);

/**
 * What each host last reported (POST /v1/hosts/report), one row per managed name and host. The
 * certificate it authenticated with (serial, names, lifetime) is kept beside what it says it
 * serves, so the newest certificate for those names and the drift are worked out when read.
 */
export const hosts = sqliteTable(
  "hosts",
  {
    name: text("name").notNull(),
    host: text("host").notNull(),
    lastSeen: integer("last_seen").notNull(),
    /** the client certificate of the last report */
    serial: text("serial").notNull(),
    /** its DNS names and IP addresses, as the inventory has them */
    names: text("names", { mode: "json" }).$type<string[]>().notNull(),
    notBefore: integer("not_before").notNull(),
    notAfter: integer("not_after").notNull(),
    /** lowercase hex SHA-256 of the DER the host serves; null when it did not say */
    servedSha256: text("served_sha256"),
    renewAt: integer("renew_at"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.name, t.host] })],
);

/**
 * Alert conditions (serve --alert-webhook): one row per condition that has fired, by key (e.g.
 * `drift:registry@host1`). `firing` flips with a compare-and-set, so of several processes or a
 * restart only the one that flipped it sends the webhook.
 */
export const alerts = sqliteTable("alerts", {
  key: text("key").primaryKey(),
  /** 1 while the condition holds (an integer, as on PostgreSQL) */
  firing: integer("firing").notNull(),
  /** when it last changed state */
  changedAt: integer("changed_at").notNull(),
  summary: text("summary").notNull(),
});

/**
 * Failed token authentications per client address, in fixed windows (tokens/failures.ts): kept
 * here rather than in a process so that every replica counts a client's failures together.
 */
export const authFailures = sqliteTable(
  "auth_failures",
  {
    address: text("address").primaryKey(),
    windowStart: integer("window_start").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [index("auth_failures_window_start").on(t.windowStart)],
);

/**
 * Failed authentications per client address, as every process on the database adds its own to
 * them, until they are over a window old and become one `auth.failed` audit event
 * (store/failure-tallies.ts). tokens and reasons: JSON arrays of the first few.
 */
export const authFailureTallies = sqliteTable(
  "auth_failure_tallies",
  {
    address: text("address").primaryKey(),
    firstAt: integer("first_at").notNull(),
    lastAt: integer("last_at").notNull(),
    failures: integer("failures").notNull(),
    limited: integer("limited").notNull(),
    tokens: text("tokens").notNull(),
    reasons: text("reasons").notNull(),
  },
  (t) => [index("auth_failure_tallies_first_at").on(t.firstAt)],
);

/**
 * Rate limits kept per key in fixed windows (store/rate-windows.ts): the ACME new-account limit
 * per client address, and any other limit that every replica on the database must count together.
 * A key names its limit first ("acme-new-account:203.0.113.7").
 */
export const rateWindows = sqliteTable(
  "rate_windows",
  {
    key: text("key").primaryKey(),
    windowStart: integer("window_start").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [index("rate_windows_window_start").on(t.windowStart)],
);

/**
 * The audit trail (core/audit.ts): append-only, each row chained to the one before by its hash.
 * AUTOINCREMENT so that an id is never reused: a deleted row leaves a gap, and a row deleted
 * from the end leaves sqlite_sequence ahead of the last id, which `audit verify` reports.
 */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    type: text("type").notNull(),
    actorKind: text("actor_kind").notNull(),
    actorId: text("actor_id").notNull(),
    subject: text("subject"),
    /** canonical JSON (core/audit.ts canonicalJson) */
    details: text("details").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  // audit list --since reads from a time on
  (t) => [index("audit_events_at").on(t.at)],
);

/** Periodic work done by one replica at a time: who holds each lease, and until when. */
export const leases = sqliteTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/**
 * How many certificates expire on each UTC day, by whether they were renewed and whether they
 * were revoked: kept by triggers on certificates (migration 0016), so that the dashboard's
 * overview sums a few thousand rows instead of counting a million (store/dashboard.ts). `day`
 * is the day whose (start, end] holds not_after, as the timeline's days run. `slot` spreads
 * concurrent writers on PostgreSQL over several rows (its trigger picks one by backend); SQLite
 * writes slot 0 only. A row's n may go below zero in one slot: only the sum over slots counts.
 */
export const certificateDays = sqliteTable(
  "certificate_days",
  {
    day: integer("day").notNull(),
    renewed: integer("renewed").notNull(),
    revoked: integer("revoked").notNull(),
    slot: integer("slot").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.renewed, t.revoked, t.slot] })],
);
