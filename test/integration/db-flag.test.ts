import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { httpsRequest } from "../helpers/ca.js";
import { caCli, serveProcess } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";

describe("--db and CERTYARD_DB", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-db-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("serve, the CLI and backup use the SQLite file --db names, outside the data directory; without it, DATA/certyard.db", async () => {
    const dir = tmp();
    const data = join(dir, "data");
    mkdirSync(join(dir, "other"));
    const place = join(dir, "other", "place.db");
    // serve initialises the empty data directory with its database at --db
    const serve = await serveProcess(data, ["--db", `sqlite:${place}`]);
    try {
      assert.ok(existsSync(place));
      assert.ok(!existsSync(join(data, "certyard.db")));
      // a token made through CERTYARD_DB is one serve knows
      const made = caCli(["token", "create", "--data", data, "--name", "t", "--dns", "*.lan"], {
        CERTYARD_DB: `sqlite:${place}`,
      });
      assert.equal(made.code, 0, made.stderr);
      const rootPem = readFileSync(join(data, "root.crt"), "utf8");
      const { csrPem } = makeCsr({ san: ["DNS:registry.lan"] });
      const res = await httpsRequest(`${serve.url}/v1/sign`, rootPem, {
        body: { csr: csrPem },
        token: made.stdout.trim(),
      });
      assert.equal(res.status, 201, res.body.toString());
      const serial = res.json<{ serial: string }>().serial;
      const envs: Record<string, string>[] = [{}, { CERTYARD_DB: "sqlite:/nonexistent/ignored.db" }];
      for (const env of envs) {
        const listed = caCli(["certs", "list", "--data", data, "--db", `sqlite:${place}`], env);
        assert.equal(listed.code, 0, listed.stderr);
        assert.match(listed.stdout, new RegExp(`^${serial}\\t.*registry\\.lan$`, "m"));
      }
      const viaEnv = caCli(["certs", "list", "--data", data], { CERTYARD_DB: `sqlite:${place}` });
      assert.match(viaEnv.stdout, new RegExp(`^${serial}\\t`, "m"));
      // without --db the CLI looks where it always did, and finds no database there
      const plain = caCli(["certs", "list", "--data", data]);
      assert.equal(plain.code, 1);
      assert.equal(plain.stderr.split("\n").length, 2);
      assert.match(
        plain.stderr,
        new RegExp(`${join(data, "certyard.db").replaceAll("/", "\\/")} is missing`),
      );
      // backup takes the database from --db; restore makes a data directory of the default shape
      const out = join(dir, "ca.backup");
      const backup = caCli(["backup", "--data", data, "--db", `sqlite:${place}`, "--out", out]);
      assert.equal(backup.code, 0, backup.stderr);
      const restored = join(dir, "restored");
      const restore = caCli(["restore", "--from", out, "--data", restored]);
      assert.equal(restore.code, 0, restore.stderr);
      const fromBackup = caCli(["certs", "list", "--data", restored]);
      assert.equal(fromBackup.code, 0, fromBackup.stderr);
      assert.match(fromBackup.stdout, new RegExp(`^${serial}\\t`, "m"));
    } finally {
      assert.equal(await serve.stop(), 0);
    }
    const fresh = join(dir, "fresh");
    const init = caCli(["init", "--data", fresh]);
    assert.equal(init.code, 0, init.stderr);
    assert.ok(existsSync(join(fresh, "certyard.db")));
  });

  test("an unreachable PostgreSQL is refused in one line, naming no password, and nothing is written", () => {
    const dir = tmp();
    const data = join(dir, "data");
    // nothing listens on port 1: the database cannot be reached
    const url = "postgres://certyard:hunter2@127.0.0.1:1/certyard";
    const runs = [
      caCli(["init", "--data", data, "--db", url]),
      caCli(["serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "1", "--db", url]),
    ];
    for (const r of runs) {
      assert.equal(r.code, 1, r.stdout);
      assert.match(
        r.stderr,
        /^certyard-ca: postgres:\/\/certyard:\*\*\*@127\.0\.0\.1:1\/certyard: PostgreSQL cannot be reached \(ECONNREFUSED\)\n$/,
      );
      assert.ok(!r.stderr.includes("hunter2"));
    }
    assert.ok(!existsSync(data) || readdirSync(data).length === 0);
  });

  test("a --db that is neither is refused in one line with the forms it takes", () => {
    const data = join(tmp(), "data");
    for (const db of ["mysql://u@h/db", "/var/lib/certyard.db", "postgres://h:99999/db", "sqlite:"]) {
      const r = caCli(["init", "--data", data, "--db", db]);
      assert.equal(r.code, 1, db);
      assert.match(r.stderr, /^certyard-ca: --db ".*": .*(sqlite:|out of range).*\n$/, db);
    }
    assert.ok(!existsSync(data));
  });
});
