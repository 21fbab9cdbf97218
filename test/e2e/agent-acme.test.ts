import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
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
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { tlsFetch } from "../../services/agent/issuers/tls-fetch.js";
import { type Pebble, startPebble } from "./acme-lego-support.js";
import {
  AGENT,
  containerStartedAt,
  docker,
  freePort,
  node,
  removeContainer,
  runRegistry,
  sh,
  until,
} from "./support.js";

/**
 * The agent as an ACME client against pebble, Let's Encrypt's test server, with real http-01
 * validation (pebble resolves every name to 127.0.0.1 through pebble-challtestsrv), then
 * `renew --force` restarting a real registry:2 that serves the new chain.
 */
describe("agent cert --acme against pebble, and renew restarts registry:2", { concurrency: false }, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-acme-e2e-"));
  const home = join(work, "home");
  const out = join(work, "certs");
  const suffix = process.pid.toString(36);
  const registryName = `cy-acme-registry-${suffix}`;
  const children: ChildProcess[] = [];
  let pebble: Pebble | undefined;
  let directory: string;
  let tlsCa: string;
  let pebbleRoot: string;
  let rootFile: string;
  let httpPort: number;
  let challtest: string;
  let registryPort: number;

  const agent = (args: string[]) => node(AGENT, [...args, "--home", home, "--log-level", "warn"]);

  function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.on("exit", (code) => {
      if (code && code !== 0) process.stderr.write(`${cmd} exited ${code}:\n${log}\n`);
    });
    children.push(child);
    return child;
  }

  before(async () => {
    const [dnsPort, ctsMgmt, tlsPort] = await Promise.all([freePort(), freePort(), freePort()]);
    httpPort = await freePort();
    registryPort = await freePort();
    start("pebble-challtestsrv", [
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-dns01",
      `127.0.0.1:${dnsPort}`,
      "-management",
      `127.0.0.1:${ctsMgmt}`,
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
    ]);
    await until("challtestsrv to answer", async () => {
      const res = await fetch(`http://127.0.0.1:${ctsMgmt}/add-a`, {
        method: "POST",
        body: JSON.stringify({ host: "registry.test", addresses: ["127.0.0.1"] }),
      });
      return res.ok;
    });
    challtest = `http://127.0.0.1:${ctsMgmt}`;
    pebble = await startPebble(work, `127.0.0.1:${dnsPort}`, httpPort, tlsPort);
    directory = pebble.directory;
    tlsCa = pebble.tlsCa;
    const pinned = tlsFetch({ ca: readFileSync(tlsCa, "utf8") });
    pebbleRoot = await (await pinned.fetch(`${pebble.management}/roots/0`)).text();
    pinned.close();
    rootFile = join(work, "pebble-root.pem");
    writeFileSync(rootFile, pebbleRoot);
  });

  after(async () => {
    await removeContainer(registryName);
    await pebble?.stop();
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  });

  const verifies = async () => {
    const full = join(out, "fullchain.pem");
    const pems =
      readFileSync(full, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.ok(pems.length >= 2, "leaf and intermediate");
    const leafFile = join(work, "leaf.pem");
    const chainFile = join(work, "chain.pem");
    writeFileSync(leafFile, `${pems[0]}\n`);
    writeFileSync(chainFile, `${pems.slice(1).join("\n")}\n`);
    const v = await sh("openssl", ["verify", "-CAfile", rootFile, "-untrusted", chainFile, leafFile]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const leaf = new X509Certificate(pems[0] ?? "");
    assert.ok(
      leaf.checkPrivateKey(
        (await import("node:crypto")).createPrivateKey(readFileSync(join(out, "privkey.pem"), "utf8")),
      ),
    );
    return leaf;
  };

  let firstSerial = "";

  test("1. cert --acme with http-01 writes fullchain.pem and privkey.pem that verify to pebble's root", async () => {
    const r = await agent([
      "cert",
      "--name",
      "pebble",
      "--acme",
      directory,
      "--acme-ca-cert",
      tlsCa,
      "--email",
      "ops@example.test",
      "--dns",
      "registry.test",
      "--ip",
      "127.0.0.1",
      "--http-01-port",
      String(httpPort),
      "--out",
      out,
      "--reload",
      `docker:${registryName}`,
      "--verify",
      `127.0.0.1:${registryPort}`,
      "--verify-ca",
      rootFile,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pebble: serial [0-9a-f]+/);
    const leaf = await verifies();
    assert.match(leaf.subjectAltName ?? "", /DNS:registry\.test/);
    assert.match(leaf.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    firstSerial = leaf.serialNumber;
    assert.equal(statSync(join(out, "privkey.pem")).mode & 0o777, 0o600);
    const record = JSON.parse(readFileSync(join(home, "certs", "pebble.json"), "utf8"));
    assert.equal(record.issuer.kind, "acme");
    assert.deepEqual(record.issuer.challenge, { kind: "http-01", port: String(httpPort) });
    const accounts = join(home, "acme");
    const files = (await import("node:fs")).readdirSync(accounts);
    assert.equal(files.length, 1);
    assert.equal(statSync(join(accounts, files[0] ?? "")).mode & 0o777, 0o600);
  });

  test("2. registry:2 serves it; renew --force gets a new chain and restarts the registry, which serves it", async () => {
    await runRegistry({
      name: registryName,
      port: registryPort,
      certDir: out,
      certFile: "fullchain.pem",
      keyFile: "privkey.pem",
    });
    const target = `127.0.0.1:${registryPort}`;
    let last = "";
    await until("registry:2 to serve TLS", async () => {
      const s = await servedLeaf(target, pebbleRoot).catch((e: Error) => ({ chainError: e.message }));
      last = String(s.chainError);
      return s.chainError === null;
    }).catch(async (e: Error) => {
      const logs = await docker(["logs", registryName]);
      throw new Error(`${e.message}: ${last}\n${logs.stdout}${logs.stderr}`);
    });
    const before = await servedLeaf(target, pebbleRoot);
    assert.equal(before.serial, firstSerial.toLowerCase());
    const startedBefore = await containerStartedAt(registryName);

    const r = await agent(["renew", "--name", "pebble", "--force"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /pebble: renewed/);
    const leaf = await verifies();
    assert.notEqual(leaf.serialNumber, firstSerial);
    assert.notEqual(await containerStartedAt(registryName), startedBefore);
    const served = await servedLeaf(target, pebbleRoot);
    assert.equal(served.serial, leaf.serialNumber.toLowerCase());
    assert.equal(served.chainError, null);
  });

  test("3. dns-01 through a hook that sets and clears the TXT record in pebble-challtestsrv", async () => {
    const hook = join(work, "dns-hook.sh");
    const calls = join(work, "dns-hook.log");
    writeFileSync(
      hook,
      [
        "#!/bin/sh",
        "set -e",
        `echo "$CERTYARD_ACME_ACTION $CERTYARD_ACME_RECORD_NAME $CERTYARD_ACME_RECORD_VALUE" >> '${calls}'`,
        'if [ "$CERTYARD_ACME_ACTION" = present ]; then',
        `  curl -sf -X POST -d "{\\"host\\":\\"$CERTYARD_ACME_RECORD_NAME.\\",\\"value\\":\\"$CERTYARD_ACME_RECORD_VALUE\\"}" ${challtest}/set-txt`,
        "else",
        `  curl -sf -X POST -d "{\\"host\\":\\"$CERTYARD_ACME_RECORD_NAME.\\"}" ${challtest}/clear-txt`,
        "fi",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const dnsOut = join(work, "dns-certs");
    const r = await agent([
      "cert",
      "--name",
      "pebble-dns",
      "--acme",
      directory,
      "--acme-ca-cert",
      tlsCa,
      "--dns",
      "dns.registry.test",
      "--dns-01-hook",
      hook,
      "--out",
      dnsOut,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(calls, "utf8").trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? "", /^present _acme-challenge\.dns\.registry\.test [A-Za-z0-9_-]{43}$/);
    assert.match(lines[1] ?? "", /^cleanup _acme-challenge\.dns\.registry\.test /);
    const leaf = new X509Certificate(readFileSync(join(dnsOut, "fullchain.pem")));
    assert.match(leaf.subjectAltName ?? "", /DNS:dns\.registry\.test/);
  });

  test("4. --webroot: the file is written where a web server on the http-01 port serves it, then removed", async () => {
    const webroot = join(work, "www");
    mkdirSync(webroot, { recursive: true });
    const served: string[] = [];
    const server = createServer((req, res) => {
      const file = join(webroot, (req.url ?? "/").split("?")[0] ?? "/");
      if (!file.startsWith(webroot) || !existsSync(file)) return void res.writeHead(404).end();
      served.push(req.url ?? "");
      res.end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(httpPort, "127.0.0.1", resolve));
    try {
      const r = await agent([
        "cert",
        "--name",
        "pebble-webroot",
        "--acme",
        directory,
        "--acme-ca-cert",
        tlsCa,
        "--dns",
        "www.registry.test",
        "--webroot",
        webroot,
        "--out",
        join(work, "www-certs"),
      ]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.ok(
      served.some((u) => u.startsWith("/.well-known/acme-challenge/")),
      "pebble fetched the token",
    );
    assert.deepEqual(readdirSync(join(webroot, ".well-known", "acme-challenge")), []);
  });
});
