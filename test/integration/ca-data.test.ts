import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { init } from "../../services/ca/cli/init.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";
import { makeCsr, opensslCrlText } from "../helpers/openssl.js";

/** The CLI, bounded: a `serve` that starts instead of refusing is killed and fails the test. */
function cli(args: string[]) {
  return caCli(args, {}, { timeout: 30_000 });
}

const DB_FILES = ["certyard.db", "certyard.db-wal", "certyard.db-shm"];
const mode = (path: string) => statSync(path).mode & 0o777;

/** What the CA keeps in its data directory, and what it does when that is not as it left it. */
describe("the CA's data directory", () => {
  const dirs: string[] = [];
  const initialised = async (o: { permitDns?: string[]; permitIp?: string[] } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-data-"));
    dirs.push(dir);
    const data = join(dir, "data");
    await init({ data, name: "Data Root CA", keyType: "ec-p256", ...o });
    return data;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("name constraints come from the intermediate certificate, not from an edited ca.json", async () => {
    const data = await initialised({
      permitDns: ["lan", "localhost"],
      permitIp: ["10.0.0.0/8", "127.0.0.1"],
    });
    const configPath = join(data, "ca.json");
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    // widened by hand: the intermediate still carries only lan, localhost, 10/8 and 127.0.0.1
    const widened = {
      ...config,
      permitDns: [...config.permitDns, "example.com"],
      permitIp: [...config.permitIp, "192.168.0.0/16"],
    };
    writeFileSync(configPath, JSON.stringify(widened));
    const ca = await startCa({ dataDir: data });
    try {
      const token = await ca.createToken({ name: "t", dns: ["**.com", "**.lan"], ip: ["0.0.0.0/0"] });
      const sign = (san: string[]) =>
        ca.request("/v1/sign", { body: { csr: makeCsr({ san }).csrPem }, token });
      for (const san of [["DNS:registry.example.com"], ["IP:192.168.1.1"]]) {
        const res = await sign(san);
        assert.equal(res.status, 403, String(san));
        assert.match(res.json<{ detail: string }>().detail, /outside the CA's name constraints/);
      }
      for (const san of [["DNS:registry.lan"], ["IP:10.1.2.3"]]) {
        assert.equal((await sign(san)).status, 201, String(san));
      }
    } finally {
      await ca.close();
    }
  });

  test("keys without their database: serve and every command refuse in one line naming the file, and make nothing", async () => {
    const data = await initialised();
    const db = join(data, "certyard.db");
    const away = join(data, "..", "moved");
    mkdirSync(away);
    for (const f of DB_FILES) if (existsSync(join(data, f))) renameSync(join(data, f), join(away, f));
    const losses: [string, () => void, RegExp][] = [
      ["moved away", () => {}, /is missing/],
      ["truncated to nothing", () => writeFileSync(db, ""), /is empty/],
      [
        "a new SQLite file without tables",
        () => {
          const fresh = new Database(db);
          fresh.pragma("user_version = 1");
          fresh.close();
        },
        /is empty/,
      ],
    ];
    const commands = [
      ["serve", "--listen", "127.0.0.1:0", "--workers", "1"],
      ["serve", "--listen", "127.0.0.1:0", "--workers", "2"],
      ["token", "create", "--name", "t", "--dns", "registry.lan"],
      ["token", "list"],
      ["token", "revoke", "t"],
      ["eab", "create", "--name", "e", "--dns", "registry.lan"],
      ["certs", "list"],
      ["revoke", "01"],
      ["fingerprint"],
      ["init"],
    ];
    // every command once; the other kinds of loss through the paths they take (serve's
    // openStore, a command's, fingerprint's check without a store)
    const some = [["serve", "--listen", "127.0.0.1:0", "--workers", "1"], ["token", "list"], ["fingerprint"]];
    for (const [what, lose, message] of losses) {
      for (const f of DB_FILES) rmSync(join(data, f), { force: true });
      lose();
      const before = readdirSync(data)
        .sort()
        .map((f) => [f, readFileSync(join(data, f)).toString("hex")]);
      for (const command of what === "moved away" ? commands : some) {
        const r = cli([...command, "--data", data]);
        const where = `${what}: ${command.join(" ")}`;
        assert.equal(r.code, 1, `${where}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stdout, "", where);
        assert.ok(r.stderr.startsWith(`certyard-ca: ${db} `), `${where}: ${r.stderr}`);
        assert.match(r.stderr, message, where);
        assert.match(r.stderr, /restore it from a backup/, where);
        assert.equal(r.stderr.split("\n").length, 2, `${where}: one line`);
        const after = readdirSync(data)
          .sort()
          .map((f) => [f, readFileSync(join(data, f)).toString("hex")]);
        assert.deepEqual(after, before, `${where} changed the data directory`);
      }
    }
    // put back, it serves again
    for (const f of DB_FILES) rmSync(join(data, f), { force: true });
    for (const f of readdirSync(away)) renameSync(join(away, f), join(data, f));
    const ca = await startCa({ dataDir: data });
    await ca.close();
  });

  test("an existing data directory is made 0700 and the database files 0600, by init and by serve", async () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-data-"));
    dirs.push(dir);
    const data = join(dir, "data");
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const r = cli(["init", "--data", data]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(data), 0o700, "init: data directory");
    assert.equal(mode(join(data, "certyard.db")), 0o600, "init: certyard.db");

    // as an older version left them: readable by everyone
    chmodSync(data, 0o755);
    for (const f of DB_FILES) if (existsSync(join(data, f))) chmodSync(join(data, f), 0o644);
    const ca = await startCa({ dataDir: data });
    try {
      // a write, so the WAL and shm files exist
      await ca.createToken({ name: "t", dns: ["registry.lan"] });
      assert.equal(mode(data), 0o700, "serve: data directory");
      for (const f of DB_FILES) assert.equal(mode(join(data, f)), 0o600, `serve: ${f}`);
    } finally {
      await ca.close();
    }
  });

  test("CRL numbers only increase, also after the database is restored from an older backup", async () => {
    const data = await initialised();
    const db = join(data, "certyard.db");
    const backup = join(data, "..", "backup.db");
    const crlNumber = async (ca: TestCa) => {
      const res = await ca.request("/crl");
      assert.equal(res.status, 200);
      const text = opensslCrlText(res.body);
      return { number: Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(text)?.[1]), text };
    };
    let ca = await startCa({ dataDir: data });
    let serial: string;
    let published: number;
    try {
      const token = await ca.createToken({ name: "t", dns: ["registry.lan"] });
      const res = await ca.request("/v1/sign", {
        body: { csr: makeCsr({ san: ["DNS:registry.lan"] }).csrPem },
        token,
      });
      assert.equal(res.status, 201);
      serial = res.json<{ serial: string }>().serial;
      const first = await crlNumber(ca);
      // the backup holds the first CRL and an unrevoked certificate
      const live = new Database(db);
      live.exec(`VACUUM INTO '${backup}'`);
      live.close();
      const revoked = await ca.request("/v1/revoke", {
        body: { serial, reason: "keyCompromise" },
        token: ca.adminToken,
      });
      assert.equal(revoked.status, 200, revoked.body.toString());
      const second = await crlNumber(ca);
      assert.ok(second.number > first.number, `${second.number} > ${first.number}`);
      assert.match(second.text, new RegExp(serial.toUpperCase().replace(/^0+/, "")));
      published = second.number;
    } finally {
      await ca.close();
    }

    // the operator restores the older backup
    for (const f of DB_FILES) rmSync(join(data, f), { force: true });
    renameSync(backup, db);
    ca = await startCa({ dataDir: data });
    try {
      const restored = await crlNumber(ca);
      assert.ok(restored.number > published, `after the restore: ${restored.number} > ${published}`);
      // and the revocation the backup lost, made again, gets a higher number still
      await ca.request("/v1/revoke", { body: { serial, reason: "keyCompromise" }, token: ca.adminToken });
      const again = await crlNumber(ca);
      assert.ok(again.number > restored.number, `${again.number} > ${restored.number}`);
      assert.equal(readFileSync(join(data, "crl-number"), "utf8"), `${again.number}\n`);
      assert.equal(mode(join(data, "crl-number")), 0o600);
    } finally {
      await ca.close();
    }
  });

  test("only the current CRL is kept, not one row per revocation (before: 301 rows after 300)", async () => {
    const data = await initialised();
    const ca = await startCa({ dataDir: data });
    try {
      const token = await ca.createToken({ name: "t", dns: ["registry.lan"], uses: 20 });
      const numbers: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await ca.request("/v1/sign", {
          body: { csr: makeCsr({ san: ["DNS:registry.lan"] }).csrPem },
          token,
        });
        const { serial } = res.json<{ serial: string }>();
        const revoked = await ca.request("/v1/revoke", { body: { serial }, token: ca.adminToken });
        assert.equal(revoked.status, 200, revoked.body.toString());
        const crl = await ca.request("/crl");
        numbers.push(Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(opensslCrlText(crl.body))?.[1]));
      }
      // a new CRL each time, numbered upwards, and the table holds the last one only
      assert.deepEqual(
        numbers,
        [...numbers].sort((a, b) => a - b),
      );
      assert.equal(new Set(numbers).size, numbers.length);
      const db = new Database(join(data, "certyard.db"), { readonly: true });
      try {
        const rows = db.prepare("select number from crls").all() as { number: number }[];
        assert.deepEqual(rows, [{ number: numbers.at(-1) }]);
      } finally {
        db.close();
      }
    } finally {
      await ca.close();
    }
  });

  test("a damaged ca.json is named in serve's one-line error", async () => {
    const data = await initialised();
    const config = join(data, "ca.json");
    const good = readFileSync(config, "utf8");
    for (const [damage, why] of [
      [good.slice(0, 40), /not valid JSON/],
      [JSON.stringify({ ...JSON.parse(good), keyType: "dsa-1024" }), /keyType: /],
    ] as const) {
      writeFileSync(config, damage);
      const r = cli(["serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "1"]);
      assert.equal(r.code, 1, r.stdout);
      assert.ok(r.stderr.startsWith(`certyard-ca: ${config} is damaged (`), r.stderr);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    }
  });
});
