import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { init } from "../../services/ca/cli/init.js";
import { startCa } from "../helpers/ca.js";
import { caCliAsync } from "../helpers/ca-process.js";
import { dumpSqlite } from "../helpers/db-dump.js";
import { makeCsr } from "../helpers/openssl.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

/**
 * db copy of a populated SQLite installation into a real PostgreSQL and back: the round trip
 * gives the same rows in every table, and a PostgreSQL that holds data is refused as a target.
 */
describe("db copy between SQLite and PostgreSQL", () => {
  let pg: TestPostgres;
  const dir = mkdtempSync(join(tmpdir(), "certyard-pgcopy-"));
  const data = join(dir, "data");
  const source = join(data, "certyard.db");
  before(async () => {
    pg = await startPostgres();
    await init({ data, name: "Test Root CA", keyType: "ec-p256" });
    const ca = await startCa({ dataDir: data });
    try {
      const token = await ca.createToken({ name: "hosts", dns: ["*.lan"], ip: ["10.1.2.0/24"], uses: 10 });
      for (const host of ["a.lan", "b.lan", "c.lan"]) {
        const csr = makeCsr({ san: [`DNS:${host}`, "IP:10.1.2.3"] }).csrPem;
        const res = await ca.request("/v1/sign", { body: { csr }, token });
        assert.equal(res.status, 201, res.body.toString());
      }
      const eab = await caCliAsync(["eab", "create", "--name", "team", "--dns", "*.lan", "--data", data]);
      assert.equal(eab.code, 0, eab.stderr);
      const listed = await ca.request("/v1/certs", { token: ca.adminToken });
      const serial = listed.json<{ certificates: { serial: string }[] }>().certificates[0]?.serial;
      const revoked = await ca.request("/v1/revoke", { body: { serial }, token: ca.adminToken });
      assert.equal(revoked.status, 200, revoked.body.toString());
    } finally {
      await ca.close();
    }
  });
  after(async () => {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("SQLite -> PostgreSQL -> SQLite: every row of every table comes back the same", async () => {
    const there = await caCliAsync(["db", "copy", "--from", `sqlite:${source}`, "--to", pg.url]);
    assert.equal(there.code, 0, there.stderr);
    assert.match(
      there.stdout,
      /certificates 4, .*tokens 2[,)].*; row counts equal, and 4 certificates' SHA-256 equal/,
    );
    assert.equal(await pg.sql("select count(*) from certificates where revoked_at is not null"), "1\n");
    assert.equal(await pg.sql("select uses_left from tokens where name = 'hosts'"), "7\n");
    const back = join(dir, "back.db");
    const home = await caCliAsync(["db", "copy", "--from", pg.socketUrl, "--to", `sqlite:${back}`]);
    assert.equal(home.code, 0, home.stderr);
    assert.deepEqual(dumpSqlite(back), dumpSqlite(source));
  });

  test("a PostgreSQL target that holds data is refused, and keeps what it held", async () => {
    const r = await caCliAsync(["db", "copy", "--from", `sqlite:${source}`, "--to", pg.url]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /^certyard-ca: --to postgres:\/\/\S+ is not empty \(.*certificates: 4.*\): db copy writes only into an empty database; nothing was copied\n$/,
    );
    assert.equal(await pg.sql("select count(*) from certificates"), "4\n");
  });
});
