import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { walSync } from "../../../../../services/ca/store/wal-sync.js";

/*
 * Group commit's sync off the event loop (store/wal-sync.ts), on a real SQLite file in WAL mode:
 * the batch commits without a sync, everything else keeps FULL, and whoever waits for
 * durability hears from the WAL's fdatasync (or its error).
 */
const dir = mkdtempSync(join(tmpdir(), "certyard-wal-sync-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function database(name: string) {
  const path = join(dir, `${name}.db`);
  const sqlite = new Database(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.exec("create table t (v integer)");
  return { sqlite, wal: walSync(sqlite, `${path}-wal`) };
}
const level = (sqlite: Database.Database) => sqlite.pragma("synchronous", { simple: true });
const durable = (wal: ReturnType<typeof walSync>) =>
  new Promise<Error | null>((settled) => wal.durable(settled));

test("a batch commits with synchronous NORMAL; the connection is FULL again after, also when it throws", async () => {
  const { sqlite, wal } = database("levels");
  const seen = wal.unsynced(() => {
    sqlite.prepare("insert into t values (1)").run();
    return level(sqlite);
  });
  assert.equal(seen, 1);
  assert.equal(level(sqlite), 2);
  assert.throws(
    () =>
      wal.unsynced(() => {
        throw new Error("torn");
      }),
    /torn/,
  );
  assert.equal(level(sqlite), 2);
  await wal.close();
  sqlite.close();
});

test("batches that ask while a sync runs are settled, in order, by the next one", async () => {
  const { sqlite, wal } = database("order");
  const order: string[] = [];
  const settled = ["first", "second", "third"].map((name) => {
    wal.unsynced(() => sqlite.prepare("insert into t values (2)").run());
    return durable(wal).then((err) => {
      order.push(name);
      return err;
    });
  });
  assert.deepEqual(await Promise.all(settled), [null, null, null]);
  assert.deepEqual(order, ["first", "second", "third"]);
  await wal.close();
  sqlite.close();
});

test("a WAL that cannot be opened is the error the waiting batch gets, not a success", async () => {
  const sqlite = new Database(join(dir, "missing.db"));
  const wal = walSync(sqlite, join(dir, "no-such-dir", "missing.db-wal"));
  const err = await durable(wal);
  assert.equal((err as NodeJS.ErrnoException | null)?.code, "ENOENT");
  await wal.close();
  sqlite.close();
});

test("close waits for the sync in flight before it closes the descriptor", async () => {
  const { sqlite, wal } = database("close");
  wal.unsynced(() => sqlite.prepare("insert into t values (3)").run());
  let heard: Error | null | undefined;
  wal.durable((err) => {
    heard = err;
  });
  await wal.close();
  assert.equal(heard, null);
  sqlite.close();
});

test("afterSync runs at once when no sync runs, else once the running sync has settled its batch", async () => {
  const { sqlite, wal } = database("after");
  const order: string[] = [];
  wal.afterSync(() => order.push("no sync: at once"));
  assert.deepEqual(order, ["no sync: at once"]);
  wal.unsynced(() => sqlite.prepare("insert into t values (4)").run());
  const first = new Promise<Error | null>((settled) =>
    wal.durable((err) => {
      order.push("first settled");
      settled(err);
    }),
  );
  // group commit holds a batch back this way while the first one's sync runs
  const held = new Promise<Error | null>((settled) =>
    wal.afterSync(() => {
      order.push("held batch commits");
      wal.unsynced(() => sqlite.prepare("insert into t values (5)").run());
      wal.durable((err) => {
        order.push("held settled");
        settled(err);
      });
    }),
  );
  assert.deepEqual(order, ["no sync: at once"]);
  assert.deepEqual(await Promise.all([first, held]), [null, null]);
  assert.deepEqual(order, ["no sync: at once", "first settled", "held batch commits", "held settled"]);
  assert.equal(sqlite.prepare("select count(*) from t").pluck().get(), 2);
  await wal.close();
  sqlite.close();
});
