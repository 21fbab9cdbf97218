/**
 * fill.ts's twin on PostgreSQL: the same rows (host-I.registry.lan, 10.x.y.z, not_after spread
 * over the next 90 days, a PEM-sized text), made by the server itself: one INSERT ... SELECT over
 * generate_series per batch, so a million rows cross no wire. The names each certificate is found
 * by go into certificate_names from the rows just made, as the store writes them.
 */
import pg from "pg";
import type { FillResult } from "./fill.js";

const DAY_MS = 86_400_000;
const LIFETIME_MS = 30 * DAY_MS;
const BATCH = 100_000;

/** `rows` certificates of the given token in the database `client` reaches, then VACUUM ANALYZE. */
export async function fillInventoryPg(
  connection: pg.ClientConfig,
  tokenName: string,
  rows: number,
): Promise<FillResult> {
  const client = new pg.Client(connection);
  await client.connect();
  try {
    const token = await client.query<{ id: string }>("SELECT id FROM tokens WHERE name = $1", [tokenName]);
    const tokenId = token.rows[0]?.id ?? null;
    const now = Date.now();
    const started = process.hrtime.bigint();
    // certificate_days' row trigger upserts a handful of summary rows once per certificate: a
    // batch of 100,000 updated each of them ~1,000 times in one transaction, every update adding
    // a version the next must step over (200,000 rows took 12 minutes at load 19). It is off
    // for the fill, and the rows made are counted into the summary at the end, in one
    // statement, rebuilt from certificates as migrations/pg 0010 counts existing rows. serve is
    // stopped meanwhile (nothing else writes certificates).
    await client.query("ALTER TABLE certificates DISABLE TRIGGER certificate_days_insert_delete");
    try {
      for (let from = 0; from < rows; from += BATCH) {
        const to = Math.min(rows, from + BATCH) - 1;
        await client.query("BEGIN");
        // md5 of a random number: 32 hex digits, as a 16-byte serial prints; the PEM-sized text
        // is 12 such lines of 64, about 800 bytes like a P-256 leaf's. r is read twice, so
        // PostgreSQL computes it once: both tables get the same serials.
        await client.query(
          `WITH r AS MATERIALIZED (
           SELECT md5(random()::text || i) AS serial,
                  $2::bigint + floor(random() * ${90 * DAY_MS})::bigint AS not_after,
                  'host-' || i || '.registry.lan' AS host,
                  '10.' || ((i >> 16) & 255) || '.' || ((i >> 8) & 255) || '.' || (i & 255) AS ip
           FROM generate_series($3::int, $4::int) AS i
         ), c AS (
           INSERT INTO certificates (serial, token_id, renewed_from, common_name, dns_names, ip_addresses,
             not_before, not_after, key_fingerprint, pem, created_at, revoked_at, revocation_reason)
           SELECT serial, $1, NULL, host, jsonb_build_array(host), jsonb_build_array(ip),
             not_after - ${LIFETIME_MS}, not_after, md5(serial) || md5(serial || 'k'),
             E'-----BEGIN CERTIFICATE-----\\n' || repeat(md5(serial || 'p') || md5(serial || 'q') || E'\\n', 12)
               || E'-----END CERTIFICATE-----\\n',
             not_after - ${LIFETIME_MS}, NULL, NULL
           FROM r
         )
         INSERT INTO certificate_names (name, not_after, serial)
         SELECT host, not_after, serial FROM r UNION ALL SELECT ip, not_after, serial FROM r`,
          [tokenId, now, from, to],
        );
        await client.query("COMMIT");
      }
      await client.query("BEGIN");
      await client.query("DELETE FROM certificate_days");
      await client.query(
        `INSERT INTO certificate_days (day, renewed, revoked, slot, n)
       SELECT (not_after - 1) / 86400000, (renewed_by IS NOT NULL)::int, (revoked_at IS NOT NULL)::int, 0, count(*)
       FROM certificates GROUP BY 1, 2, 3`,
      );
      await client.query("COMMIT");
    } finally {
      await client.query("ROLLBACK").catch(() => {});
      await client.query("ALTER TABLE certificates ENABLE TRIGGER certificate_days_insert_delete");
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // VACUUM too: a page of the inventory is read from an index alone only where the table's
    // pages are marked all-visible, which autovacuum does some time after the inserts (after a
    // fifth of the table has been added, so rows expiring next week have long been). Just after
    // the fill it had not: PostgreSQL's CPU for certs list --expiring 7d 1.5-2.7 s, 0.37-0.48 s
    // vacuumed (bench/README.md, "The inventory's index on PostgreSQL").
    await client.query("VACUUM (ANALYZE) certificates");
    await client.query("VACUUM (ANALYZE) certificate_names");
    const count = await client.query<{ n: string }>("SELECT count(*) AS n FROM certificates");
    return { rows, seconds, totalRows: Number(count.rows[0]?.n ?? Number.NaN) };
  } finally {
    await client.end();
  }
}
