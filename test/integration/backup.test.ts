import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { httpsRequest, startCa } from "../helpers/ca.js";
import { caCli, caCliAsync, serveProcess } from "../helpers/ca-process.js";
import { makeCsr, opensslCrlText } from "../helpers/openssl.js";

const mode = (p: string) => statSync(p).mode & 0o777;
const crlNumber = (der: Buffer) => Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(opensslCrlText(der))?.[1]);

describe("certyard-ca backup and restore", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-backup-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("a backup taken while serve signs holds every certificate returned before it began, and restores to a working CA", async () => {
    const dir = tmp();
    const data = join(dir, "data");
    assert.equal(caCli(["init", "--data", data]).code, 0);
    const secret = caCli([
      "token",
      "create",
      "--data",
      data,
      "--name",
      "burst",
      "--dns",
      "*.lan",
      "--rate",
      "1000/1m",
    ]);
    assert.equal(secret.code, 0, secret.stderr);
    const token = secret.stdout.trim();
    const serve = await serveProcess(data);
    const rootPem = readFileSync(join(data, "root.crt"), "utf8");
    const adminToken = readFileSync(join(data, "admin-token"), "utf8").trim();
    const call = (path: string, o: Parameters<typeof httpsRequest>[2] = {}) =>
      httpsRequest(serve.url + path, rootPem, o);
    const { csrPem } = makeCsr({ san: ["DNS:registry.lan"] });
    const sign = async () => {
      const res = await call("/v1/sign", { body: { csr: csrPem }, token });
      assert.equal(res.status, 201, res.body.toString());
      return { serial: res.json<{ serial: string }>().serial, at: Date.now() };
    };

    let revoked: string;
    let crlBefore: number;
    const out = join(dir, "ca.backup");
    writeFileSync(out, "an older backup", { mode: 0o644 });
    const returned: { serial: string; at: number }[] = [];
    let backupStart = 0;
    let backupRun: Awaited<ReturnType<typeof caCliAsync>> | undefined;
    try {
      revoked = (await sign()).serial;
      const rev = await call("/v1/revoke", {
        body: { serial: revoked, reason: "keyCompromise" },
        token: adminToken,
      });
      assert.equal(rev.status, 200);
      crlBefore = crlNumber((await call("/crl")).body);

      // five clients sign 30 certificates each; the backup starts once 50 have come back
      let started: Promise<void> | undefined;
      const client = async () => {
        for (let i = 0; i < 30; i++) {
          returned.push(await sign());
          if (returned.length === 50 && !started) {
            backupStart = Date.now();
            started = caCliAsync(["backup", "--data", data, "--out", out]).then((r) => {
              backupRun = r;
            });
          }
        }
      };
      await Promise.all(Array.from({ length: 5 }, client));
      await started;
    } finally {
      assert.equal(await serve.stop(), 0);
    }
    assert.ok(backupRun, "the backup ran");
    assert.equal(backupRun.code, 0, backupRun.stderr);
    // nothing in the data directory went unaccounted for
    assert.equal(backupRun.stderr, "");
    assert.equal(mode(out), 0o600);
    const listing = execFileSync("tar", ["tzf", out], { encoding: "utf8" }).trim().split("\n").sort();
    const carried = [
      "ca.json",
      "certyard.db",
      "intermediate.crt",
      "intermediate.key",
      "root.crt",
      "root.key",
      "token-key",
    ];
    if (existsSync(join(data, "crl-number"))) carried.push("crl-number");
    assert.deepEqual(listing, ["MANIFEST.json", ...carried].sort());
    assert.ok(!listing.includes("admin-token"));

    // restore into a new directory: modes, integrity, and every certificate returned before the backup began
    const restored = join(dir, "restored");
    const r = caCli(["restore", "--from", out, "--data", restored]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(restored), 0o700);
    for (const f of ["root.key", "intermediate.key", "certyard.db", "crl-number", "token-key"]) {
      assert.equal(mode(join(restored, f)), 0o600, f);
    }
    assert.equal(mode(join(restored, "root.crt")), 0o644);
    assert.equal(existsSync(join(restored, "admin-token")), false);
    const db = new Database(join(restored, "certyard.db"), { readonly: true });
    let inCopy: Set<string>;
    try {
      assert.deepEqual(db.pragma("integrity_check"), [{ integrity_check: "ok" }]);
      inCopy = new Set(
        (db.prepare("select serial from certificates").all() as { serial: string }[]).map((x) => x.serial),
      );
    } finally {
      db.close();
    }
    const before = returned.filter((x) => x.at <= backupStart);
    assert.ok(before.length >= 50, `${before.length} returned before the backup began`);
    assert.ok(returned.length > before.length, "signs went on while the backup ran");
    for (const { serial } of before) assert.ok(inCopy.has(serial), `${serial} is in the backup`);
    assert.ok(inCopy.has(revoked));

    // the restored CA serves: a new admin token, the old enrolment token, the revocation, a CRL number not lower
    const ca = await startCa({ dataDir: restored });
    try {
      assert.equal((await ca.request("/healthz")).status, 200);
      const crl = (await ca.request("/crl")).body;
      // above the backup's, and moved up by the seconds since it was taken (restore.ts)
      assert.ok(crlNumber(crl) > crlBefore, `${crlNumber(crl)} > ${crlBefore}`);
      assert.match(opensslCrlText(crl), new RegExp(revoked.toUpperCase().replace(/^0+/, "")));
      const again = await ca.request("/v1/sign", { body: { csr: csrPem }, token });
      assert.equal(again.status, 201, again.body.toString());
      assert.notEqual(ca.adminToken, adminToken);
      assert.equal((await ca.request("/v1/certs", { token: adminToken })).status, 401);
      assert.equal((await ca.request("/v1/certs", { token: ca.adminToken })).status, 200);
    } finally {
      await ca.close();
    }
  });

  test("restore refuses a non-empty directory, a damaged archive and a path outside the data directory, and leaves nothing", async () => {
    const dir = tmp();
    const data = join(dir, "data");
    assert.equal(caCli(["init", "--data", data]).code, 0);
    const out = join(dir, "ca.backup");
    assert.equal(caCli(["backup", "--data", data, "--out", out]).code, 0);

    const full = join(dir, "full");
    mkdirSync(full);
    writeFileSync(join(full, "notes.txt"), "mine");
    const r1 = caCli(["restore", "--from", out, "--data", full]);
    assert.equal(r1.code, 1);
    assert.match(
      r1.stderr,
      /^certyard-ca: .*full is not empty: restore into a new or empty directory; nothing was changed\n$/,
    );
    assert.deepEqual(readdirSync(full), ["notes.txt"]);

    // an intermediate certificate edited inside the archive (tar and gzip are made anew, so only the manifest can tell)
    const unpacked = join(dir, "unpacked");
    mkdirSync(unpacked);
    execFileSync("tar", ["xzf", out, "-C", unpacked]);
    const pem = readFileSync(join(unpacked, "intermediate.crt"), "utf8");
    writeFileSync(
      join(unpacked, "intermediate.crt"),
      pem.replace(/^(-----BEGIN CERTIFICATE-----\n.{10})./m, "$1A"),
    );
    const names = readdirSync(unpacked);
    const damaged = join(dir, "damaged.backup");
    execFileSync("tar", [
      "czf",
      damaged,
      "-C",
      unpacked,
      "MANIFEST.json",
      ...names.filter((n) => n !== "MANIFEST.json"),
    ]);
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const r2 = caCli(["restore", "--from", damaged, "--data", empty]);
    assert.equal(r2.code, 1);
    assert.match(
      r2.stderr,
      /intermediate\.crt does not match its checksum in the manifest: the backup is damaged\n$/,
    );
    assert.deepEqual(readdirSync(empty), []);

    // an entry that would land outside the data directory
    writeFileSync(join(dir, "evil.key"), "not a key");
    const evil = join(dir, "evil.backup");
    execFileSync("tar", [
      "czf",
      evil,
      "-C",
      unpacked,
      "MANIFEST.json",
      "-C",
      dir,
      "--transform",
      "s,^evil,../evil,",
      "evil.key",
    ]);
    const target = join(dir, "nested", "data");
    const r3 = caCli(["restore", "--from", evil, "--data", target]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /unexpected file "\.\.\/evil\.key" in the backup/);
    assert.equal(existsSync(target), false);
    assert.deepEqual(readdirSync(join(dir, "nested")), []);

    const r4 = caCli(["restore", "--from", join(dir, "nothing"), "--data", join(dir, "x")]);
    assert.equal(r4.code, 1);
    assert.match(r4.stderr, /nothing does not exist/);
  });
});
