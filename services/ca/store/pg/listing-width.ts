import { type SQL, sql } from "../drizzle.cjs";
import type { PgColumn } from "./drizzle.cjs";

/**
 * The bytes of text in the variable-width columns of certificates_not_after's entry, at most: a
 * jsonb array is stored in no more than its text's length + 8 bytes. Under the limit, the entry
 * with its headers, alignment and three bigints stays under ~2,200 bytes, clear of btree's 2,704.
 */
export const LISTING_WIDTH_LIMIT = 2000;

type ListingColumns = Record<
  | "serial"
  | "tokenId"
  | "renewedFrom"
  | "renewedBy"
  | "commonName"
  | "dnsNames"
  | "ipAddresses"
  | "keyFingerprint",
  PgColumn
>;

/**
 * Whether a row's entry fits certificates_not_after (`fits`), or not: the condition of that index
 * and of certificates_not_after_wide, and of each half of a page's query (store/pg/certificates.ts),
 * written the same way in both, with the limit a literal, so that PostgreSQL proves the index
 * applies. Every part is non-null, so each row meets exactly one of the two.
 */
export function listingFits(t: ListingColumns, fits: boolean): SQL {
  const width = sql`octet_length(${t.serial}) + octet_length(coalesce(${t.tokenId}, '')) + octet_length(coalesce(${t.renewedFrom}, '')) + octet_length(coalesce(${t.renewedBy}, '')) + octet_length(coalesce(${t.commonName}, '')) + octet_length(${t.dnsNames}::text) + octet_length(${t.ipAddresses}::text) + octet_length(${t.keyFingerprint})`;
  return sql`${width} ${sql.raw(fits ? "<=" : ">")} ${sql.raw(String(LISTING_WIDTH_LIMIT))}`;
}
