import { bigint, index, jsonb, type PgColumn } from "./drizzle.cjs";
import { listingFits } from "./listing-width.js";

/**
 * What the PostgreSQL schema does differently from ../schema.ts, by hand: ./schema.ts is generated
 * from the SQLite tables (scripts/pg-schema.ts) and imports these. Everything else about a table
 * comes from SQLite; a difference between the dialects belongs here, with its reason.
 */

/**
 * SQLite's integers: bigint on PostgreSQL, as times are milliseconds since the epoch and pass
 * 2^31; read as JavaScript numbers (they stay under 2^53), so that one row type serves both.
 */
export const ms = (name: string) => bigint(name, { mode: "number" });

/** SQLite's JSON text: jsonb, typed by the generated schema as the SQLite column's rows are. */
export const json = <T>(name: string) => jsonb(name).$type<T>();

type Columns<K extends string> = Record<K, PgColumn>;

type ListingColumns = Parameters<typeof listingFits>[0] & Columns<"notAfter">;

/**
 * Conditions PostgreSQL puts on SQLite's indexes, by table (its export name in ../schema.ts) and
 * index name: the index keeps SQLite's columns, and is partial here.
 */
export const pgConditions = {
  certificates: {
    // SQLite's covering index of the inventory: every column a row shows, so that a page is read
    // from the index alone, in order (an index-only scan), not from ~1,000 table rows scattered
    // over a 1.1 GB table (a page of 1,000 at 1M: 174 -> 2 ms). A btree entry is limited to 2,704
    // bytes, which a certificate's names can pass: this index holds the rows whose entry fits
    // (LISTING_WIDTH_LIMIT), certificates_not_after_wide keys the others, and a page reads both.
    certificates_not_after: (t: Parameters<typeof listingFits>[0]) => listingFits(t, true),
  },
};

/**
 * Indexes of PostgreSQL's own, by table and index name, after SQLite's: each with its reason.
 */
export const pgIndexes = {
  certificates: {
    certificates_not_after_wide: (t: ListingColumns) =>
      index("certificates_not_after_wide").on(t.notAfter, t.serial).where(listingFits(t, false)),
    // SQLite dropped it (migrations/0018: its counts come from certificate_days now, and every
    // issuance wrote an entry); PostgreSQL's state counts and dashboard still plan on it
    certificates_expiry: (t: Columns<"notAfter" | "revokedAt">) =>
      index("certificates_expiry").on(t.notAfter, t.revokedAt),
  },
};
