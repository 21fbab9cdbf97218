import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { type PgLocation, poolConfig } from "../../services/ca/store/pg/db.js";
import { listingText, type TextListing } from "../../services/ca/store/pg/row-stream.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

/**
 * The numbers 1..`n` as lines, `window` a query, from generate_series: what store/pg/certificates.ts
 * listText does with the inventory, on rows whose text is known. `fail`: a row past which the
 * query fails in the server (a division by zero).
 */
function numbers(n: number, fail?: number): TextListing<number> {
  return {
    query: (after, rows) => ({
      text: `select i, 1 / (i - $3) from generate_series(1, $1::int) i where i > $2 order by i limit $4`,
      values: [n, after ?? 0, fail ?? -1, rows],
    }),
    text: (r, first) => `${first ? "" : ","}${r[0]}`,
    cursor: (r) => Number(r[0]),
  };
}

const expected = (from: number, n: number) =>
  Array.from({ length: n - from }, (_, i) => from + i + 1).join(",");

describe("a listing's text streamed from PostgreSQL in windows (store/pg/row-stream.ts)", () => {
  let server: TestPostgres;
  let pool: pg.Pool;
  before(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ ...poolConfig(parseDbUrl(server.socketUrl, "/nonexistent") as PgLocation), max: 2 });
  });
  after(async () => {
    await pool?.end();
    await server?.stop();
  });

  const text = async (blocks: AsyncIterable<Buffer>) => {
    const all: Buffer[] = [];
    for await (const b of blocks) all.push(b);
    return { text: Buffer.concat(all).toString(), blocks: all.length };
  };

  /** The pool makes another connection: `client`, whose listing failed, was ended, not given back. */
  const notReused = async (client: pg.PoolClient) => {
    const next = await pool.connect();
    try {
      assert.notEqual(next, client);
      assert.equal((await next.query("select 1 as one")).rows[0].one, 1);
    } finally {
      next.release();
    }
  };

  test("every row once, in order, across windows and blocks, from a cursor, and none", async () => {
    // windows of 7 rows (the last one full: the next query finds none), blocks of some 10 bytes
    const small = { chunkBytes: 10, heldBytes: 1_000_000 };
    const got = await text(listingText(await pool.connect(), numbers(700), 7, undefined, small));
    assert.equal(got.text, expected(0, 700));
    assert.ok(got.blocks > 100, `${got.blocks} blocks`);
    assert.equal((await text(listingText(await pool.connect(), numbers(700), 1000))).text, expected(0, 700));
    assert.equal(
      (await text(listingText(await pool.connect(), numbers(700), 7, 650))).text,
      expected(650, 700),
    );
    assert.equal((await text(listingText(await pool.connect(), numbers(0), 7))).text, "");
  });

  test("a reader behind: the next window waits for it, and the text is the same", async () => {
    // any text not yet taken holds the next window back; the reader takes a block at a time
    const held = { chunkBytes: 10, heldBytes: 1 };
    const blocks = listingText(await pool.connect(), numbers(200), 5, undefined, held);
    const read: string[] = [];
    for await (const b of blocks) {
      read.push(b.toString());
      // the server is asked nothing while the reader is away (no query of this listing runs)
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(read.join(""), expected(0, 200));
  });

  test("a query failing in the server: the listing throws its error, its connection is not reused", async () => {
    const client = await pool.connect();
    await assert.rejects(text(listingText(client, numbers(100, 50), 10)), /division by zero/);
    await notReused(client);
  });

  test("a row the listing cannot print: the listing throws that error, its connection is not reused", async () => {
    const client = await pool.connect();
    const listing = numbers(100);
    const unprintable: TextListing<number> = {
      ...listing,
      text: (r, first) => {
        if (r[0] === "42") throw new RangeError("row 42 cannot be printed");
        return listing.text(r, first);
      },
    };
    await assert.rejects(text(listingText(client, unprintable, 10)), /row 42 cannot be printed/);
    await notReused(client);
  });

  test("a reader that stops: the window running reads to its end, the connection goes back", async () => {
    for (let i = 0; i < 5; i++) {
      for await (const _ of listingText(await pool.connect(), numbers(5000), 1000, undefined, {
        chunkBytes: 10,
        heldBytes: 1_000_000,
      }))
        break;
    }
    // a pool of two still answers, and nothing of the listings is left running in the server
    const running = await pool.query(
      "select count(*)::int as n from pg_stat_activity where query like '%generate_series%' and state = 'active' and pid <> pg_backend_pid()",
    );
    assert.equal(running.rows[0].n, 0);
    assert.equal(pool.totalCount <= 2, true);
  });
});
