import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { httpsRequest } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { kill9, startReplica, stopReplicas, taken } from "../helpers/replica-process.js";

/**
 * Issue 17: the leases on periodic work on a real PostgreSQL 15 (the database's clock decides
 * when a lease has run out), as test/integration/replicas-lease.test.ts runs them on SQLite: two
 * replica processes (test/helpers/replica.ts: leases of 1.5 s renewed every 0.3 s), each with its
 * own copy of the data directory, on one database; kill -9 of the holder of the CRL refresh, and
 * the other takes it over and serves the CRL.
 */
describe("leases on PostgreSQL: kill -9 of the holder, the other replica takes over", () => {
  let server: TestPostgres;
  let dir: string;
  before(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), "certyard-pg-lease-"));
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const holderOf = async (name: string) =>
    (await server.sql(`select holder from leases where name = '${name}'`)).trim() || null;

  test("the CRL refresh runs in the lease holder; after its kill -9 the other holds it within seconds, and serves the CRL", async (t) => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    const init = caCli(["init", "--data", a, "--db", server.url]);
    assert.equal(init.code, 0, init.stderr);
    cpSync(a, b, { recursive: true });
    const replicas = await Promise.all([startReplica(a, server.url), startReplica(b, server.url)]);
    try {
      const first = await Promise.race(replicas.map((r) => r.anyLog(taken("crl-refresh")).then(() => r)));
      const other = replicas.find((r) => r !== first);
      assert.ok(other);
      assert.equal(await holderOf("crl-refresh"), first.holder);
      // the other asks every 0.3 s and is refused while the holder renews
      const otherTook = other.nextLog(taken("crl-refresh"));
      await first.nextLog((l) => l.msg === "lease renewed" && l.lease === "crl-refresh");
      assert.equal(await holderOf("crl-refresh"), first.holder);
      assert.equal(other.logs.filter(taken("crl-refresh")).length, 0, "never held by both");

      const killedAt = Date.now();
      await kill9(first);
      await otherTook;
      const took = Date.now() - killedAt;
      // within the ttl (1.5 s) and one renewal period (0.3 s), with room for a loaded machine
      assert.ok(took < 10_000, `took ${took} ms`);
      assert.equal(await holderOf("crl-refresh"), other.holder);
      const rootPem = readFileSync(join(a, "root.crt"), "utf8");
      const crl = await httpsRequest(`https://127.0.0.1:${other.port}/crl`, rootPem);
      assert.equal(crl.status, 200);
      t.diagnostic(`taken over ${took} ms after the kill -9`);
    } finally {
      await stopReplicas(replicas);
    }
  });
});
