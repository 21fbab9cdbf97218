import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
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
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { argv } from "../helpers/argv.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { selfSignedCert } from "../helpers/openssl.js";
import { dbEnv } from "../helpers/test-db.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const CA_CLI = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));
const FILE_SERVER = fileURLToPath(new URL("../helpers/tls-file-server.js", import.meta.url));
const run = promisify(execFile);

async function cli(bin: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
  try {
    const r = await run(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, cwd });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A TLS server on 127.0.0.1 serving the files; SIGHUP makes it read them again, like a restart. */
async function fileServer(certFile: string, keyFile: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [FILE_SERVER, certFile, keyFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("exit", (code) => reject(new Error(`file server exited ${code}`)));
  });
  return { port, child };
}

/** A self-signed placeholder, as a registry host has before certyard. */
function placeholder(dir: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "domain.crt");
  const key = join(dir, "domain.key");
  const old = selfSignedCert("/CN=old");
  writeFileSync(cert, old.certPem);
  writeFileSync(key, old.keyPem, { mode: 0o600 });
  return { cert, key };
}

describe("certyard-agent against a real CA (exec reloads, real TLS verification)", () => {
  let ca: TestCa;
  let fingerprint: string;
  const servers: ChildProcess[] = [];
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-agent-"));
    dirs.push(d);
    return d;
  };
  before(async () => {
    ca = await startCa();
    fingerprint = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
  });
  after(async () => {
    for (const s of servers) s.kill("SIGTERM");
    await ca.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("bootstrap refuses a wrong fingerprint, prints both and stores nothing", async () => {
    const home = join(tmp(), "home");
    const wrong = "ab".repeat(32);
    const r = await cli(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", wrong, "--home", home]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^certyard-agent: root fingerprint mismatch: expected ${wrong}, .* has ${fingerprint}`),
    );
    assert.equal(existsSync(join(home, "ca.json")), false);
    const ok = await cli(AGENT, [
      "bootstrap",
      "--ca",
      ca.url,
      "--fingerprint",
      fingerprint.toUpperCase().match(/../g)?.join(":") ?? "",
      "--home",
      home,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readFileSync(join(home, "root.pem"), "utf8"), ca.rootPem);
  });

  test("cert, reload and verify; renew --force serves a new key; not-due renew does nothing", async () => {
    const dir = tmp();
    const home = join(dir, "home");
    const out = join(dir, "certs");
    await cli(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    const token = await ca.createToken({ name: "agent-host", dns: ["registry.lan"], ip: ["127.0.0.1"] });
    // A self-signed placeholder where registry:2 would read its files, served as it would be.
    const old = placeholder(tmp());
    mkdirSync(out, { recursive: true });
    copyFileSync(old.cert, join(out, "domain.crt"));
    copyFileSync(old.key, join(out, "domain.key"));
    const server = await fileServer(join(out, "domain.crt"), join(out, "domain.key"));
    servers.push(server.child);
    const target = `127.0.0.1:${server.port}`;

    const issued = await cli(
      AGENT,
      argv(["cert"], {
        name: "registry",
        token,
        dns: "registry.lan",
        ip: "127.0.0.1",
        out,
        reload: `exec:kill -HUP ${server.child.pid}`,
        verify: target,
        home,
      }),
    );
    assert.equal(issued.code, 0, issued.stderr);
    assert.equal(statSync(join(out, "domain.key")).mode & 0o777, 0o600);
    const leaf = new X509Certificate(readFileSync(join(out, "domain.crt")));
    assert.equal(leaf.subjectAltName, "DNS:registry.lan, IP Address:127.0.0.1");
    const served = await servedLeaf(target, ca.rootPem);
    assert.equal(served.serial, leaf.serialNumber.toLowerCase());
    assert.equal(
      readFileSync(join(out, "domain.crt"), "utf8").match(/BEGIN CERTIFICATE/g)?.length,
      2,
      "full chain",
    );

    const notDue = await cli(AGENT, ["renew", "--home", home]);
    assert.equal(notDue.code, 0);
    assert.match(notDue.stdout, /registry: not due until/);

    const renewed = await cli(AGENT, ["renew", "--force", "--home", home]);
    assert.equal(renewed.code, 0, renewed.stderr);
    const next = new X509Certificate(readFileSync(join(out, "domain.crt")));
    assert.notEqual(next.serialNumber, leaf.serialNumber);
    assert.equal(next.publicKey.equals(leaf.publicKey), false, "a new key each time");
    assert.equal((await servedLeaf(target, ca.rootPem)).serial, next.serialNumber.toLowerCase());

    const status = JSON.parse((await cli(AGENT, ["status", "--json", "--home", home])).stdout) as {
      name: string;
      serial: string;
      lastResult: { ok: boolean };
    }[];
    assert.equal(status[0]?.serial, next.serialNumber.toLowerCase());
    assert.equal(status[0]?.lastResult.ok, true);

    // Enrolling again under the same name, with a reload that leaves the server as it was: the
    // files go back, and the record keeps the certificate in use while noting the failure.
    const again = await cli(
      AGENT,
      argv(["cert"], {
        name: "registry",
        token,
        dns: "registry.lan",
        out,
        reload: "exec:true",
        verify: target,
        verifyTimeout: "2s",
        home,
      }),
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /previous files restored and reloaded/);
    const after = JSON.parse(
      (await cli(AGENT, ["status", "--json", "--home", home])).stdout,
    ) as typeof status;
    assert.equal(after[0]?.serial, next.serialNumber.toLowerCase());
    assert.equal(after[0]?.lastResult.ok, false);
  });

  test("a reload that leaves the old certificate served: files restored, exit 1, saying what was seen", async () => {
    const dir = tmp();
    const home = join(dir, "home");
    const out = join(dir, "certs");
    const old = placeholder(out);
    const before = { cert: readFileSync(old.cert), key: readFileSync(old.key) };
    const server = await fileServer(old.cert, old.key);
    servers.push(server.child);
    await cli(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    const token = await ca.createToken({ name: "stuck-host", dns: ["registry.lan"] });
    const r = await cli(
      AGENT,
      argv(["cert"], {
        name: "stuck",
        token,
        dns: "registry.lan",
        out,
        reload: "exec:true",
        verify: `127.0.0.1:${server.port}`,
        verifyTimeout: "2s",
        home,
      }),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /did not serve the new certificate: it served a different certificate \(serial .+\); previous files restored and reloaded/,
    );
    assert.deepEqual(readFileSync(old.cert), before.cert);
    assert.deepEqual(readFileSync(old.key), before.key);
    // The rolled-back certificate is not in use, so the agent does not manage it: renew would
    // otherwise take the placeholder files for its credential.
    const status = await cli(AGENT, ["status", "--home", home], { CERTYARD_AGENT_JSON: "yes" });
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout), []);
  });

  test("bad --verify and --token with --join are refused before anything is issued; --out is kept absolute", async () => {
    const dir = tmp();
    const home = join(dir, "home");
    await cli(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    const token = await ca.createToken({ name: "checked-first", dns: ["checked.lan"] });
    const issuedBefore = (await ca.request("/v1/certs", { token: ca.adminToken })).body.toString();
    const badVerify = await cli(
      AGENT,
      argv(["cert"], {
        name: "v",
        token,
        dns: "checked.lan",
        out: join(dir, "v"),
        verify: "nohostport",
        home,
      }),
    );
    assert.equal(badVerify.code, 1);
    assert.equal(
      badVerify.stderr,
      'certyard-agent: --verify: "nohostport" is not HOST:PORT; e.g. 10.0.0.5:5000\n',
    );
    const both = await cli(
      AGENT,
      argv(["cert"], { name: "j", token, join: "cyj1_x", dns: "checked.lan", out: join(dir, "j"), home }),
    );
    assert.equal(both.code, 1);
    assert.match(both.stderr, /^certyard-agent: give --token or --join, not both/);
    assert.equal(existsSync(join(dir, "v")) || existsSync(join(dir, "j")), false, "no files written");
    const records = existsSync(join(home, "certs")) ? readdirSync(join(home, "certs")) : [];
    assert.deepEqual(records, [], "nothing recorded");
    const issuedAfter = (await ca.request("/v1/certs", { token: ca.adminToken })).body.toString();
    assert.equal(issuedAfter, issuedBefore, "nothing issued");

    // A relative --out and reload command, as typed in the directory of the files; renew runs
    // from cron elsewhere.
    writeFileSync(join(dir, "reload.sh"), `#!/bin/sh\ntouch '${join(dir, "reloaded")}'\n`, { mode: 0o755 });
    const r = await cli(
      AGENT,
      argv(["cert"], {
        name: "rel",
        token,
        dns: "checked.lan",
        out: "certs",
        reload: "exec:./reload.sh",
        home,
      }),
      {},
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const record = JSON.parse(readFileSync(join(home, "certs", "rel.json"), "utf8"));
    assert.equal(record.certFile, join(dir, "certs", "domain.crt"));
    rmSync(join(dir, "reloaded"));
    const renewed = await cli(AGENT, ["renew", "--force", "--home", home], {}, tmpdir());
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.ok(existsSync(join(dir, "reloaded")), "the relative reload command ran where cert ran");

    const nowhere = await cli(AGENT, ["renew", "--home", join(dir, "no-such-home")]);
    assert.equal(nowhere.code, 1);
    assert.match(
      nowhere.stderr,
      /no-such-home does not exist: give the --home that certyard-agent cert used/,
    );
    const noStatus = await cli(AGENT, ["status", "--home", join(dir, "no-such-home")]);
    assert.equal(noStatus.code, 1);
    assert.match(noStatus.stderr, /no-such-home does not exist/);
  });

  test("files that cannot be written: nothing half-written, nothing recorded", async () => {
    const dir = tmp();
    const home = join(dir, "home");
    const out = join(dir, "certs");
    await cli(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    const token = await ca.createToken({ name: "unwritable", dns: ["unwritable.lan"] });
    // a directory where the certificate goes is refused before anything is issued
    mkdirSync(join(out, "domain.crt"), { recursive: true });
    const refused = await cli(
      AGENT,
      argv(["cert"], { name: "unwritable", token, dns: "unwritable.lan", out, home }),
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^certyard-agent: \S+\/domain\.crt is not a plain file: /);
    // a certificate file name whose temporary file's name is too long for the file system: the
    // key is written first, then the certificate cannot be (root ignores file modes, so a
    // read-only directory would not stop the test's own writes)
    const certFile = `${"c".repeat(240)}.crt`;
    const r = await cli(
      AGENT,
      argv(["cert"], { name: "unwritable", token, dns: "unwritable.lan", out, home, certFile }),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^certyard-agent: cannot write the new files: .*; nothing was written\n$/);
    assert.equal(
      existsSync(join(out, "domain.key")),
      false,
      "the new key did not stay without its certificate",
    );
    assert.equal(existsSync(join(out, certFile)), false);
    assert.equal(existsSync(join(home, "certs", "unwritable.json")), false, "nothing recorded");
  });

  test("an unreachable Docker engine fails the renewal before any file changes", async () => {
    const dir = tmp();
    const home = join(dir, "home");
    const out = join(dir, "certs");
    await cli(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    const token = await ca.createToken({ name: "docker-host", dns: ["registry.lan"] });
    const env = { DOCKER_HOST: `unix://${join(dir, "no-such.sock")}` };
    const first = await cli(
      AGENT,
      argv(["cert"], { name: "reg", token, dns: "registry.lan", out, reload: "docker:registry", home }),
      env,
    );
    assert.equal(first.code, 1);
    assert.match(first.stderr, /cannot reach the Docker engine/);
    assert.equal(existsSync(join(out, "domain.crt")), false, "nothing written when the engine is down");
  });

  test("an expired certificate cannot renew and says how to enrol again; join strings bootstrap in one step", async (t) => {
    const dir = tmp();
    const home = join(dir, "home");
    const out = join(dir, "certs");
    // A CA whose clock is 10 minutes behind signs a 5-minute certificate (its shortest) that is
    // born expired: a real expired certificate.
    const late = await startCa({ clock: () => Date.now() - 10 * 60_000 });
    t.after(() => late.close());
    // The CLI needs the CA's URL for --join; the test CA did not run `serve`.
    writeFileSync(join(late.dataDir, "serve.json"), JSON.stringify({ url: late.url }));
    const join1 = await cli(
      CA_CLI,
      ["token", "create", "--data", late.dataDir, "--name", "joiner", "--dns", "old.lan", "--join"],
      dbEnv(late.dataDir),
    );
    assert.equal(join1.code, 0, join1.stderr);
    assert.match(join1.stdout, /^cyj1_[A-Za-z0-9_-]+\n$/);
    const r = await cli(
      AGENT,
      argv(["cert"], { name: "old", join: join1.stdout.trim(), dns: "old.lan", out, validity: "5m", home }),
    );
    assert.equal(r.code, 0, r.stderr);
    const lateFingerprint = (await late.request("/v1/root")).json<{ sha256: string }>().sha256;
    assert.equal(JSON.parse(readFileSync(join(home, "ca.json"), "utf8")).fingerprint, lateFingerprint);
    const renew = await cli(AGENT, ["renew", "--force", "--home", home]);
    assert.equal(renew.code, 1);
    assert.match(renew.stdout, /old: FAILED: the certificate expired at .*enrol again with a new token/);
  });
});
