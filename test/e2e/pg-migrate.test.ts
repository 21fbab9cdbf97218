import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { MIGRATION_LOCK, migrationsFolder, openPg, type PgLocation } from "../../services/ca/store/pg/db.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

/** Polls `check` until it holds: a condition to wait for, with a deadline, not a pause. */
async function until(what: string, check: () => Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe("PostgreSQL migrations at start, under an advisory lock", () => {
  let server: TestPostgres;
  let loc: PgLocation;
  before(async () => {
    server = await startPostgres();
    const l = parseDbUrl(server.url, "/nonexistent");
    assert.equal(l.dialect, "postgres");
    loc = l as PgLocation;
  });
  after(async () => {
    await server?.stop();
  });

  test("a database without certyard's tables is refused unless the CA is being created", async () => {
    await assert.rejects(openPg(loc), /holds no certyard tables: run certyard-ca init with this --db/);
    assert.equal(await server.sql("select count(*) from pg_tables where schemaname = 'public'"), "0\n");
  });

  test("two replicas starting together: both wait for the lock, one migrates, the other finds it done", async () => {
    // Hold the lock from outside, so that both starts are known to be waiting on it at once.
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    await holder.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    const starts = [openPg(loc, { create: true }), openPg(loc, { create: true })];
    const waiting = async () => {
      const r = await holder.query(
        "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted",
      );
      return r.rows[0].n === 2;
    };
    await until("both starts wait on the migration lock", waiting);
    assert.equal(await server.sql("select to_regclass('public.certificates') is null"), "t\n");
    await holder.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`);
    await holder.end();
    const opened = await Promise.all(starts);
    const journal = JSON.parse(readFileSync(join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as {
      entries: unknown[];
    };
    assert.ok(journal.entries.length >= 1);
    assert.equal(
      await server.sql("select count(*) from drizzle.__drizzle_migrations"),
      `${journal.entries.length}\n`,
      "each migration applied once",
    );
    const tables = (
      await server.sql("select tablename from pg_tables where schemaname = 'public' order by 1")
    )
      .trim()
      .split("\n");
    assert.ok(tables.includes("certificates") && tables.includes("acme_used_nonces"), tables.join());
    // both pools work, and a third start (a later replica) finds nothing to do
    for (const o of opened) await o.db.$client.query("select 1");
    const third = await openPg(loc);
    assert.equal(
      await server.sql("select count(*) from drizzle.__drizzle_migrations"),
      `${journal.entries.length}\n`,
    );
    await Promise.all([...opened, third].map((o) => o.close()));
  });

  test("an up-to-date database opens without the migration lock; one a migration behind is migrated", async () => {
    // held from outside: a start that asked for it would wait, so opening shows it did not
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    try {
      await holder.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
      await (await openPg(loc)).close();
      await holder.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`);
      // as a database left by the version before the newest migration (0011: the listing's
      // partial indexes and their statistics, in place of one plain index)
      await holder.query(`
        drop index certificates_not_after_wide;
        drop statistics certificates_listing_width;
        drop index certificates_not_after;
        create index certificates_not_after on certificates (not_after, serial);
        delete from drizzle.__drizzle_migrations where created_at = (select max(created_at) from drizzle.__drizzle_migrations);`);
      const applied = async () =>
        Number(await server.sql("select count(*) from drizzle.__drizzle_migrations"));
      const before = await applied();
      await (await openPg(loc)).close();
      assert.equal(await applied(), before + 1);
      assert.equal(
        await server.sql("select to_regclass('public.certificates_not_after_wide') is not null"),
        "t\n",
      );
    } finally {
      await holder.end();
    }
  });
});
