import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { init } from "../../services/ca/cli/init.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { caCliAsync } from "../helpers/ca-process.js";
import { dumpSqlite } from "../helpers/db-dump.js";
import { makeCsr } from "../helpers/openssl.js";

/**
 * db copy between two SQLite files (PostgreSQL's side: test/e2e/pg-copy.test.ts): a populated
 * installation is copied whole, checked, and a non-empty target is refused.
 */
describe("certyard-ca db copy", () => {
  let ca: TestCa;
  const dir = mkdtempSync(join(tmpdir(), "certyard-dbcopy-"));
  let source: string;
  before(async () => {
    const data = join(dir, "data");
    await init({ data, name: "Test Root CA", keyType: "ec-p256" });
    ca = await startCa({ dataDir: data });
    try {
      await populate();
    } finally {
      await ca.close();
    }
    source = join(data, "certyard.db");
  });
  async function populate() {
    const token = await ca.createToken({ name: "hosts", dns: ["*.lan"] });
    for (const host of ["a.lan", "b.lan", "c.lan"]) {
      const res = await ca.request("/v1/sign", {
        body: { csr: makeCsr({ san: [`DNS:${host}`] }).csrPem },
        token,
      });
      assert.equal(res.status, 201, res.body.toString());
    }
    const listed = await ca.request("/v1/certs", { token: ca.adminToken });
    const serial = listed.json<{ certificates: { serial: string }[] }>().certificates[0]?.serial;
    assert.ok(serial);
    const revoked = await ca.request("/v1/revoke", { body: { serial }, token: ca.adminToken });
    assert.equal(revoked.status, 200, revoked.body.toString());
  }
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("copies every table into a new file, says what it copied, and the copy holds the same rows", async () => {
    const target = join(dir, "copy.db");
    const r = await caCliAsync(["db", "copy", "--from", `sqlite:${source}`, "--to", `sqlite:${target}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^copied sqlite:\S+ to sqlite:\S+copy\.db: \d+ rows \(.*certificate_names 5, certificates 4, .*tokens 2[,)].*; row counts equal, and 4 certificates' SHA-256 equal on both sides\n$/,
    );
    const original = dumpSqlite(source);
    // three signed and the serving certificate
    assert.equal(original.certificates?.length, 4);
    assert.ok(original.certificates?.some((row) => JSON.parse(row).revoked_at !== null));
    assert.deepEqual(dumpSqlite(target), original);
  });

  test("refuses a target that holds any row, and changes nothing there", async () => {
    const target = join(dir, "copy.db");
    const before = dumpSqlite(target);
    const r = await caCliAsync(["db", "copy", "--from", `sqlite:${source}`, "--to", `sqlite:${target}`]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^certyard-ca: --to \S+ is not empty \(audit_events: 6, certificate_names: 5, certificates: 4, tokens: 2\): db copy writes only into an empty database; nothing was copied\n$/,
    );
    assert.deepEqual(dumpSqlite(target), before);
  });

  test("bad input: a missing source, the same database twice, an unknown scheme: one line each", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["--from", `sqlite:${join(dir, "nothing.db")}`, "--to", `sqlite:${join(dir, "x.db")}`],
        /--from \S+ does not exist/,
      ],
      [["--from", `sqlite:${source}`, "--to", `sqlite:${source}`], /--from and --to name the same database/],
      [["--from", "mysql://x/y", "--to", `sqlite:${join(dir, "y.db")}`], /unknown scheme mysql/],
    ];
    for (const [args, message] of cases) {
      const r = await caCliAsync(["db", "copy", ...args]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.ok(!existsSync(join(dir, "x.db")) && !existsSync(join(dir, "y.db")));
  });
});
