import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { InventoryQuery, InventoryRow } from "../../services/ca/core/inventory.js";
import type { CertificateRecord } from "../../services/ca/core/types.js";
import { certificateViewsBytes, tableText } from "../../services/ca/core/views.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import type { PgLocation } from "../../services/ca/store/pg/db.js";
import { openPgStore, type PgStore } from "../../services/ca/store/pg/index.js";
import { LISTING_WIDTH_LIMIT } from "../../services/ca/store/pg/listing-width.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { certificateRecord, tokenRecord } from "../helpers/store-records.js";

const DAY = 86_400_000;

/** A certificate whose names are `dns` (random hex, so that PostgreSQL cannot compress them). */
function cert(notAfter: number, dns: string[]): CertificateRecord {
  return {
    serial: randomBytes(16).toString("hex"),
    tokenId: null,
    renewedFrom: null,
    commonName: dns[0] ?? null,
    dnsNames: dns,
    ipAddresses: ["10.0.0.1"],
    notBefore: notAfter - 30 * DAY,
    notAfter,
    keyFingerprint: randomBytes(32).toString("hex"),
    pem: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
    createdAt: Date.now(),
    revokedAt: null,
    revocationReason: null,
  };
}

/** `n` names of random hex, each `len` characters long with its ".lan". */
const names = (n: number, len: number) =>
  Array.from(
    { length: n },
    () =>
      `${randomBytes(len)
        .toString("hex")
        .slice(0, len - 4)}.lan`,
  );

/** The whole of a listing's text (store/pg/certificates.ts listText). */
async function listed(store: PgStore, q: InventoryQuery, json: boolean): Promise<string> {
  const blocks: Buffer[] = [];
  for await (const b of store.certificates.listText(q, json)) blocks.push(b);
  return Buffer.concat(blocks).toString();
}

/** The width pg/listing-width.ts measures, from the record. */
const width = (c: CertificateRecord) =>
  c.serial.length +
  (c.commonName ?? "").length +
  c.keyFingerprint.length +
  JSON.stringify(c.dnsNames).replaceAll('","', '", "').length +
  JSON.stringify(c.ipAddresses).replaceAll('","', '", "').length;

/**
 * The inventory's pages on PostgreSQL, whose index keys every column a page shows (a page is read
 * from the index alone) except for rows whose entry would pass btree's 2,704 bytes: those are
 * keyed by another index, and a page reads both in one order. Real PostgreSQL 15.
 */
describe("the PostgreSQL inventory with certificates too wide for its index", () => {
  let server: TestPostgres;
  let store: PgStore;
  before(async () => {
    server = await startPostgres();
    store = await openPgStore(parseDbUrl(server.socketUrl, "/nonexistent") as PgLocation, { create: true });
  });
  after(async () => {
    await store?.close();
    await server?.stop();
  });

  test("wide and narrow certificates are issued, and listed whole, in order, page by page", async () => {
    const base = Date.now() + 10 * DAY;
    const made: CertificateRecord[] = [];
    for (let i = 0; i < 12; i++) {
      // every third is wide: 100 names of 60 characters, 6 kB of names, past any btree entry
      const c = cert(base + (i % 4) * DAY, i % 3 === 0 ? names(100, 60) : names(2, 20));
      await store.recordIssued(c, null, Date.now());
      made.push(c);
    }
    // one at the limit exactly, which the narrow index must take (and fit)
    const edge = cert(base + DAY, []);
    edge.dnsNames = names(1, LISTING_WIDTH_LIMIT - width(edge) - 2); // ["name"] for []
    assert.equal(width(edge), LISTING_WIDTH_LIMIT);
    await store.recordIssued(edge, null, Date.now());
    made.push(edge);
    const inIndex = async (name: string) =>
      Number(
        await server.sql(
          `select count(*) from certificates where serial in (${made.map((c) => `'${c.serial}'`).join(", ")}) and ${await server.sql(`select pg_get_expr(indpred, indrelid) from pg_index where indexrelid = '${name}'::regclass`)}`,
        ),
      );
    assert.equal(await inIndex("certificates_not_after_wide"), 4, "the wide ones, past the limit");
    assert.equal(await inIndex("certificates_not_after"), 9, "the others, the edge one included");

    const order = [...made].sort((x, y) => x.notAfter - y.notAfter || (x.serial < y.serial ? -1 : 1));
    const q: InventoryQuery = { now: Date.now(), states: ["valid", "superseded", "expired"], limit: 3 };
    const rows: InventoryRow[] = [];
    let page = await store.certificates.page(q);
    for (;;) {
      rows.push(...page.rows);
      if (!page.next) break;
      assert.equal(page.rows.length, 3);
      page = await store.certificates.page({ ...q, after: page.next });
    }
    assert.deepEqual(
      rows.map((r) => r.serial),
      order.map((c) => c.serial),
    );
    for (const [i, r] of rows.entries()) assert.deepEqual(r.dnsNames, order[i]?.dnsNames);

    // the filters apply to both halves: expiring by the second day, and revoked
    const soon = await store.certificates.page({ ...q, limit: 100, expiringBefore: base + DAY });
    assert.deepEqual(
      soon.rows.map((r) => r.serial),
      order.filter((c) => c.notAfter <= base + DAY).map((c) => c.serial),
    );
    const wide = order.find((c) => c.dnsNames.length === 100) as CertificateRecord;
    assert.equal(await store.certificates.revoke(wide.serial, 1, Date.now()), "revoked");
    const revoked = await store.certificates.page({ now: Date.now(), states: ["revoked"], limit: 100 });
    assert.deepEqual(
      revoked.rows.map((r) => r.serial),
      [wide.serial],
    );
  });

  test("certs list's text made by PostgreSQL is the bytes certificateViewsBytes and tableText print", async () => {
    const now = Date.now();
    const token = tokenRecord();
    await store.tokens.create(token);
    const at = now + 50 * DAY; // after the wide test's certificates
    const odd = [
      // every character JSON escapes, and some it does not (é, U+2028, an emoji's surrogate pair)
      'q"uo\\te\u0001\b\f\n\r\t\u001f\u007f-é\u2028-\u{1f600}',
      "plain.lan",
    ];
    const recs = [
      certificateRecord("a.lan", { notAfter: at, tokenId: token.id }),
      certificateRecord("b.lan", { notAfter: at, commonName: null, dnsNames: [], ipAddresses: [] }),
      certificateRecord(odd[0] as string, {
        notAfter: at + 1,
        dnsNames: odd,
        ipAddresses: ["10.0.0.1", "fd00::1"],
      }),
      // before 1970 and past year 9999: the times node writes itself
      certificateRecord("c.lan", { notAfter: at + 2, notBefore: -86_400_123 }),
      certificateRecord("d.lan", { notAfter: 253_402_300_800_001, notBefore: at }),
      certificateRecord("expired.lan", { notAfter: at + 3 }),
      certificateRecord("revoked.lan", { notAfter: at + 4 }),
    ];
    for (const r of recs) await store.recordIssued(r, null, now);
    // renewed: the first is superseded by its successor, which names the first as renewedFrom
    const next = certificateRecord("a.lan", { notAfter: at + 5, renewedFrom: recs[0]?.serial ?? null });
    await store.recordIssued(next, null, now);
    assert.equal(await store.certificates.revoke(recs[6]?.serial as string, 1, now), "revoked");

    for (const q of [
      // from the wide test's rows to these, in pages of 3; `now` past "expired.lan" and before the rest
      { now: at + 3, states: ["valid", "superseded", "expired", "revoked"] as const, limit: 3 },
      { now, states: ["valid"] as const, limit: 2, expiringBefore: at + 10 },
      { now, states: ["valid", "superseded", "expired"] as const, limit: 1, name: "a.lan" },
      { now, states: ["valid", "superseded", "expired"] as const, limit: 5, name: odd[0] as string },
    ] satisfies InventoryQuery[]) {
      let after: InventoryQuery["after"];
      const printed: string[] = [];
      const lines: string[] = [];
      for (;;) {
        const page = await store.certificates.page({ ...q, after });
        printed.push(certificateViewsBytes(page.rows).toString());
        lines.push(tableText(page.rows));
        if (!page.next) break;
        after = page.next;
      }
      assert.ok(printed.length > 1 || q.name !== undefined, "more than one page");
      // the same text, byte for byte, printed by PostgreSQL and streamed on one connection, in
      // windows of q.limit rows (so several queries, each going on from the one before)
      assert.equal(await listed(store, q, true), printed.join(",\n"), JSON.stringify(q));
      assert.equal(await listed(store, q, false), lines.join(""), JSON.stringify(q));
    }
    // a listing from a cursor starts after it
    const first = await store.certificates.page({
      now,
      states: ["valid"],
      limit: 1,
      expiringBefore: at + 10,
    });
    assert.ok(first.next);
    const rest = await store.certificates.page({
      now,
      states: ["valid"],
      limit: 100,
      expiringBefore: at + 10,
      after: first.next,
    });
    assert.equal(
      await listed(
        store,
        { now, states: ["valid"], limit: 2, expiringBefore: at + 10, after: first.next },
        false,
      ),
      tableText(rest.rows),
    );
    // a listing stopped after its first block (its reader gone) gives its connection back: the
    // pool (at most 8) still answers after more such stops than it has connections
    const all = { now, states: ["valid", "superseded", "expired", "revoked"] as const, limit: 1 };
    for (let i = 0; i < 10; i++) {
      for await (const _ of store.certificates.listText(all, true)) break;
    }
    assert.equal((await store.certificates.page({ ...all, limit: 2 })).rows.length, 2);
    // the states written: revoked first, then expired (at+3), then superseded, else valid
    const stateAt = async (t: number) => {
      const text = await listed(
        store,
        {
          now: t,
          states: ["valid", "superseded", "expired", "revoked"],
          limit: 1000,
          expiringBefore: 253_402_300_800_001,
        },
        true,
      );
      const rows = JSON.parse(`[\n${text}\n]`) as { serial: string; state: string }[];
      const of = (c: CertificateRecord | undefined) => rows.find((r) => r.serial === c?.serial)?.state;
      return [...recs, next].map(of);
    };
    const [sup, v, x, r] = ["superseded", "valid", "expired", "revoked"];
    assert.deepEqual(await stateAt(now), [sup, v, v, v, v, v, r, v]);
    assert.deepEqual(await stateAt(at + 3), [x, x, x, x, v, x, r, v]);
  });
});
