import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startCa } from "../helpers/ca.js";
import { caCli, caEnv } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { storedText } from "../helpers/test-db.js";

const BIN = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));

function childPids(pid: number): number[] {
  const r = spawnSync("ps", ["--ppid", String(pid), "-o", "pid="], { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

function cli(args: string[], env: Record<string, string> = {}) {
  return caCli(args, env);
}

describe("certyard-ca CLI", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-cli-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("init makes 0600 keys and an admin token, and refuses to run twice without touching anything", () => {
    const data = join(tmp(), "data");
    const first = cli(["init", "--data", data, "--name", "Org Root CA", "--permit-dns", "lan"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /root fingerprint: [0-9a-f]{64}/);
    for (const f of ["root.key", "intermediate.key", "admin-token"]) {
      assert.equal(statSync(join(data, f)).mode & 0o777, 0o600, f);
    }
    assert.match(readFileSync(join(data, "root.key"), "utf8"), /BEGIN PRIVATE KEY/);
    // 20 and 10 calendar years, as the README says (not 7300 and 3650 days)
    for (const [file, years] of [
      ["root.crt", 20],
      ["intermediate.crt", 10],
    ] as const) {
      const c = new X509Certificate(readFileSync(join(data, file)));
      const end = new Date(Date.parse(c.validFrom) + 60_000); // notBefore is one minute back
      end.setUTCFullYear(end.getUTCFullYear() + years);
      assert.equal(new Date(c.validTo).getTime(), end.getTime(), file);
    }
    const before = Object.fromEntries(readdirSync(data).map((f) => [f, readFileSync(join(data, f))]));
    const second = cli(["init", "--data", data]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^certyard-ca: .*already initialised.*\n$/);
    for (const [f, content] of Object.entries(before)) {
      if (!f.startsWith("certyard.db")) assert.deepEqual(readFileSync(join(data, f)), content, f);
    }
  });

  test("--passphrase-file encrypts the CA keys; fingerprint prints one line; flags come from CERTYARD_*", () => {
    const dir = tmp();
    writeFileSync(join(dir, "pass"), "correct horse\n");
    const data = join(dir, "data");
    const r = cli(["init", "--passphrase-file", join(dir, "pass"), "--key-type", "rsa-2048"], {
      CERTYARD_DATA: data,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(join(data, "intermediate.key"), "utf8"), /BEGIN ENCRYPTED PRIVATE KEY/);
    const fp = cli(["fingerprint"], { CERTYARD_DATA: data });
    assert.match(fp.stdout, /^[0-9a-f]{64}\n$/);
    assert.ok(r.stdout.includes(fp.stdout.trim()));
    const noPass = cli(["serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "1"]);
    assert.equal(noPass.code, 1);
    assert.match(noPass.stderr, /^certyard-ca: .*intermediate\.key is encrypted: give --passphrase-file\n$/);
    writeFileSync(join(dir, "wrong"), "battery staple\n");
    const wrong = cli([
      "serve",
      "--data",
      data,
      "--listen",
      "127.0.0.1:0",
      "--passphrase-file",
      join(dir, "wrong"),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /wrong passphrase/);
  });

  test("serve with two workers: one announcement, both serve, a killed worker is replaced, SIGTERM stops all", async () => {
    const data = join(tmp(), "data");
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "2"],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...caEnv(["serve", "--data", data]) },
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    after(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    await new Promise<void>((resolve) => {
      child.stdout.on("data", () => out.includes("admin token:") && resolve());
    });
    assert.equal(out.match(/root fingerprint:/g)?.length, 1);
    const workers = childPids(child.pid ?? 0);
    assert.equal(workers.length, 2);
    process.kill(workers[0] ?? 0, "SIGKILL");
    await new Promise<void>((resolve) => {
      child.stderr.on("data", () => err.includes("worker exited; starting another") && resolve());
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.deepEqual(childPids(child.pid ?? 0), []);
  });

  test("serve with two workers on an empty directory: a bad init flag is one line, exit 1, nothing made", () => {
    // init runs in a worker of its own here; its failure must still end serve.
    const data = join(tmp(), "data");
    const r = cli([
      "serve",
      "--data",
      data,
      "--listen",
      "127.0.0.1:0",
      "--workers",
      "2",
      "--key-type",
      "dsa",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^certyard-ca: unknown key type "dsa".*\n$/);
    assert.equal(existsSync(data), false);
  });

  test("bad input is a one-line error and a non-zero exit", () => {
    const data = join(tmp(), "data");
    const token = ["token", "create", "--data", data, "--dns", "a.lan"];
    const serve = ["serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "1"];
    for (const [args, said] of [
      [["init", "--data", data, "--key-type", "dsa"], /unknown key type "dsa"/],
      [["init", "--data", data, "--permit-ip", "10.0.0.0/99"], /10\.0\.0\.0\/99/],
      // a critical name constraint no name can meet would leave a CA that cannot issue
      [["init", "--data", data, "--permit-dns", "*.lan"], /invalid --permit-dns "\*\.lan": a wildcard/],
      [["init", "--data", data, "--permit-dns", "bad..lan"], /invalid --permit-dns "bad\.\.lan"/],
      [["init", "--data", data, "--name", " "], /invalid --name " ": 1 to 48 characters/],
      [
        ["fingerprint", "--data", join(data, "nope")],
        /nope is not initialised: run certyard-ca init or serve/,
      ],
      [[...token, "--name", "x"], /data is not initialised/],
      [[...token, "--name", ""], /^certyard-ca: name: required\n$/],
      [[...token, "--name", "a b"], /^certyard-ca: name: letters, digits and \. _ @ - only\n$/],
      [[...token, "--name", "x", "--expires", "0s"], /expires must be longer than 0s/],
      [[...token, "--name", "x", "--max-validity", "1m"], /max validity must be at least 5m/],
      [
        [...token, "--name", "x", "--join", "--url", "ca.lan"],
        /--url "ca\.lan" is not a URL; give one like https:\/\/ca\.lan:8443/,
      ],
      [[...serve, "--url", "http://ca.lan"], /give an https:\/\/ base URL/],
      [[...serve, "--log-level", "loud"], /'loud' is invalid\. Allowed choices are fatal, error/],
      [[...serve, "--acme-http-port", "x"], /--acme-http-port: "x" is not a port number \(1-65535\)/],
      [[...serve, "--url", "https://ca.lan:99999"], /: --url: port 99999 is out of range \(1-65535\)\n$/],
      [[...token, "--name", "x", "--join", "--url", "https://ca.lan:0"], /--url: port 0 is out of range/],
      [[...serve, "--listen", "0.0.0.0:99999"], /--listen: port 99999 is out of range \(0-65535, 0 for any/],
      [[...serve, "--acme-http-port", "99999"], /--acme-http-port: port 99999 is out of range \(1-65535\)/],
      [[...serve, "--acme-tls-port", "0"], /--acme-tls-port: port 0 is out of range \(1-65535\)/],
      [
        [...serve, "--acme-dns-resolver", "10.0.0.2:70000"],
        /--acme-dns-resolver: port 70000 is out of range/,
      ],
      [[...serve, "--tls-dns", "bad..lan"], /--tls-dns: "bad\.\.lan" is not a valid DNS name/],
      [[...serve, "--tls-ip", "10.0.0"], /--tls-ip: "10\.0\.0" is not an IP address/],
      [[...serve, "--acme-dns-resolver", "dns.lan:53"], /invalid --acme-dns-resolver "dns\.lan:53"/],
      [
        [...serve, "--acme-validation-allow", "127.0.0.0/33"],
        /invalid --acme-validation-allow "127\.0\.0\.0\/33"/,
      ],
      // usage errors found by the parser, not by the command
      [["token", "create", "--data", data], /required option '--name <name>' not specified/],
      [["fingerprint", "--jsn"], /unknown option '--jsn'/],
      [["init", "--data"], /option '--data <dir>' argument missing/],
      [["token"], /^certyard-ca: "token" needs a command: create, list or revoke \(see --help\)\n$/],
      [["certs"], /"certs" needs a command: list/],
      [["rotate"], /"rotate" needs a command: intermediate or root/],
      [
        [],
        /^certyard-ca: give a command: init, serve, fingerprint, token, admin-token, eab, certs, hosts, revoke, audit, backup, restore, db or rotate/,
      ],
    ] as const) {
      const r = cli([...args]);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, /^certyard-ca: [^\n]+\n$/, args.join(" "));
      assert.match(r.stderr, said, args.join(" "));
    }
    assert.equal(existsSync(data), false, "nothing was made");
    // help stays whole where it is asked for
    for (const args of [["help"], ["help", "token"], ["token", "help", "create"], ["token", "--help"]]) {
      const r = cli(args);
      assert.equal(r.code, 0, args.join(" "));
      assert.match(r.stdout, /^Usage: certyard-ca/, args.join(" "));
    }
    const badSwitch = cli(["token", "list", "--data", data], { CERTYARD_JSON: "maybe" });
    assert.equal(badSwitch.code, 1);
    assert.match(
      badSwitch.stderr,
      /^certyard-ca: CERTYARD_JSON must be 1, true, yes or on, or 0, false, no or off/,
    );
  });

  test("token, certs and revoke work on the data directory while serve runs", async () => {
    const ca = await startCa();
    try {
      const data = ca.dataDir;
      const created = cli([
        "token",
        "create",
        "--data",
        data,
        "--name",
        "reg",
        "--dns",
        "*.lan",
        "--ip",
        "10.0.0.0/24",
        "--uses",
        "2",
      ]);
      assert.equal(created.code, 0, created.stderr);
      const secret = created.stdout.trim();
      assert.match(secret, /^cyt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      assert.ok(!(await storedText(data)).includes(secret.slice(21)), "the secret is not stored");

      const dup = cli(["token", "create", "--data", data, "--name", "reg", "--dns", "*.lan"]);
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /already exists/);

      const csr = makeCsr({ san: ["DNS:box.lan", "IP:10.0.0.3"] });
      const signed = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token: secret });
      assert.equal(signed.status, 201);
      const serial = signed.json<{ serial: string }>().serial;

      const list = cli(["token", "list", "--data", data]);
      assert.match(list.stdout, /reg\tactive\t\*\.lan,10\.0\.0\.0\/24\tuses=1\t/);
      // A switch from the environment: CERTYARD_JSON=1 is --json, CERTYARD_JSON=0 is not.
      const fromEnv = cli(["token", "list", "--data", data], { CERTYARD_JSON: "1" });
      assert.equal(JSON.parse(fromEnv.stdout)[0]?.name, "reg");
      assert.equal(cli(["token", "list", "--data", data], { CERTYARD_JSON: "0" }).stdout, list.stdout);
      const second = makeCsr({ san: ["DNS:box2.lan"] });
      assert.equal(
        (await ca.request("/v1/sign", { body: { csr: second.csrPem }, token: secret })).status,
        201,
      );
      assert.match(cli(["token", "list", "--data", data]).stdout, /reg\tused-up\t.*\tuses=0\t/);
      const certs = JSON.parse(cli(["certs", "list", "--data", data, "--json"]).stdout) as {
        serial: string;
      }[];
      assert.ok(certs.some((c) => c.serial === serial));
      const expiring = JSON.parse(
        cli(["certs", "list", "--data", data, "--json", "--expiring", "1h"]).stdout,
      );
      assert.deepEqual(expiring, []);

      const rev = cli(["revoke", serial.toUpperCase(), "--data", data, "--reason", "superseded"]);
      assert.equal(rev.code, 0, rev.stderr);
      assert.equal(cli(["revoke", serial, "--data", data]).code, 1);
      assert.match(
        cli(["revoke", serial, "--data", data, "--reason", "bogus"]).stderr,
        /unknown revocation reason/,
      );
      const crl = await ca.request("/crl");
      assert.ok(crl.body.includes(Buffer.from(serial, "hex")), "the CLI revocation reaches the served CRL");

      assert.equal(cli(["token", "revoke", "reg", "--data", data]).code, 0);
      const after = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token: secret });
      assert.equal(after.status, 401);
    } finally {
      await ca.close();
    }
  });
});
