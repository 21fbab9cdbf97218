import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openStore } from "../../../../../services/ca/store/index.js";

/*
 * What replicas share through the database, on real SQLite: two stores on one file stand for two
 * processes (each its own connection).
 */
const dir = mkdtempSync(join(tmpdir(), "certyard-shared-state-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function twoStores(name: string) {
  const path = join(dir, `${name}.db`);
  const a = openStore(path, { create: true });
  const b = openStore(path);
  return { a, b, close: () => Promise.all([a.close(), b.close()]) };
}

test("leases: one holder at a time; the holder renews; another takes it once expired or released", async () => {
  const { a, b, close } = twoStores("leases");
  try {
    assert.equal(await a.leases.tryLease("crl", "one", 60_000), true);
    assert.equal(await b.leases.tryLease("crl", "two", 60_000), false, "held by one");
    assert.equal(await b.leases.renew("crl", "two", 60_000), false, "two does not hold it");
    assert.equal(await a.leases.tryLease("crl", "one", 60_000), true, "its holder takes it again");
    assert.equal(await a.leases.renew("crl", "one", 60_000), true);
    // another lease is another row
    assert.equal(await b.leases.tryLease("sweep", "two", 60_000), true);
    // released: the other takes it at once
    await a.leases.release("crl", "one");
    assert.equal(await b.leases.tryLease("crl", "two", 60_000), true);
    assert.equal(await a.leases.renew("crl", "one", 60_000), false, "lost");
    // releasing what another holds changes nothing
    await a.leases.release("crl", "one");
    assert.equal(await a.leases.tryLease("crl", "one", 60_000), false);
    // expired (a ttl of 0 ends at once): anyone takes it
    assert.equal(await b.leases.tryLease("short", "two", 0), true);
    assert.equal(await a.leases.tryLease("short", "one", 60_000), true);
  } finally {
    await close();
  }
});
