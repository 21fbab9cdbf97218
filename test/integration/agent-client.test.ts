import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { trust } from "../../services/agent/actions/trust.js";
import { doctor } from "../../services/agent/doctor/index.js";
import { AgentHome } from "../../services/agent/state.js";
import { certificatesFromPem, fingerprint } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));

interface Issued {
  certificate: string;
  chain: string;
  fullchain: string;
  keyPem: string;
}

interface Registry {
  port: number;
  /** resolves with the SNI of the next completed handshake (false or null: none sent) */
  nextHandshake(): Promise<string | false | null>;
  close(): Promise<void>;
}

/** A stand-in for registry:2: HTTPS on 127.0.0.1 with the given certificate file content. */
async function serve(certPem: string, keyPem: string): Promise<Registry> {
  const server: Server = createHttpsServer({ cert: certPem, key: keyPem }, (_req, res) => {
    res.writeHead(401, { "docker-distribution-api-version": "registry/2.0" });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    nextHandshake: async () => {
      const [socket] = (await once(server, "secureConnection")) as [TLSSocket];
      return socket.servername;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs the built CLI without blocking this process (its TLS servers must keep answering). */
const cli = (args: string[], stdin = "") => runAsync(AGENT, args, { stdin });

describe("doctor against real TLS servers with certificates from the real CA", () => {
  let ca: TestCa;
  let token: string;
  let dir: string;
  let rootFile: string;
  const servers: Registry[] = [];

  async function issue(san: string[]): Promise<Issued> {
    const csr = makeCsr({ san });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
    assert.equal(res.status, 201, res.body.toString());
    return { ...res.json<Omit<Issued, "keyPem">>(), keyPem: csr.keyPem };
  }
  async function registry(certPem: string, keyPem: string): Promise<Registry> {
    const r = await serve(certPem, keyPem);
    servers.push(r);
    return r;
  }

  before(async () => {
    ca = await startCa();
    token = await ca.createToken({ name: "registry", dns: ["*.lan"], ip: ["127.0.0.1"] });
    dir = mkdtempSync(join(tmpdir(), "certyard-client-"));
    rootFile = join(dir, "root.pem");
    writeFileSync(rootFile, ca.rootPem);
  });
  after(async () => {
    for (const s of servers) await s.close();
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a full chain the agent trusts but Docker does not yet; trust fixes it, twice without a change", async () => {
    const leaf = await issue(["DNS:registry.lan", "IP:127.0.0.1"]);
    const reg = await registry(leaf.fullchain, leaf.keyPem);
    const target = `127.0.0.1:${reg.port}`;
    const home = join(dir, "home");
    const [rootDer] = certificatesFromPem(ca.rootPem);
    assert.ok(rootDer);
    new AgentHome(home).saveCa({ url: ca.url, fingerprint: fingerprint(rootDer) }, ca.rootPem);
    const dockerCertsDir = join(dir, "docker-certs");
    const o = { target, home, dockerCertsDir, systemBundles: [] };

    const handshake = reg.nextHandshake();
    const before = await doctor(o);
    assert.equal(before.ok, false);
    assert.deepEqual(
      before.findings.map((f) => f.code),
      ["not-trusted-by-docker"],
    );
    assert.ok(
      before.lines.includes("problem 1: x509: certificate signed by unknown authority"),
      before.lines.join("\n"),
    );
    assert.ok(before.lines.includes(`  fix: certyard-agent trust --registry ${target}`));
    assert.ok(!(await handshake), "no SNI for an IP address, as Go does");

    const hostsFile = join(dir, "hosts");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    const request = {
      rootPem: new AgentHome(home).rootPem(),
      registries: [target],
      hosts: ["registry.lan=127.0.0.1"],
      dockerCertsDir,
      containersCertsDir: join(dir, "containers-certs"),
      containerdCertsDir: join(dir, "containerd-certs"),
      hostsFile,
    };
    const caCrt = join(dockerCertsDir, target, "ca.crt");
    const written = [
      caCrt,
      join(dir, "containers-certs", target, "ca.crt"),
      join(dir, "containerd-certs", target, "ca.crt"),
      join(dir, "containerd-certs", target, "hosts.toml"),
      hostsFile,
    ];
    assert.deepEqual(
      trust(request).lines,
      written.map((f) => `wrote ${f}`),
    );
    const mtimes = [statSync(caCrt).mtimeMs, statSync(hostsFile).mtimeMs];
    assert.deepEqual(
      trust(request).lines,
      written.map((f) => `unchanged ${f}`),
    );
    assert.deepEqual([statSync(caCrt).mtimeMs, statSync(hostsFile).mtimeMs], mtimes);

    const afterTrust = await doctor(o);
    assert.deepEqual(afterTrust.findings, []);
    assert.equal(afterTrust.ok, true);
    assert.match(
      afterTrust.lines[1] ?? "",
      new RegExp(
        `^ok: ${target} serves a valid chain for 127\\.0\\.0\\.1 \\(3 certificates up to the root "Test Root CA" .*\\), expiring \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\(in 29 days\\)$`,
      ),
    );
    assert.match(afterTrust.lines[2] ?? "", /^note: Docker treats 127\.0\.0\.0\/8 as an insecure registry/);

    const fromDockerDir = await doctor({
      target,
      home: join(dir, "not-bootstrapped"),
      dockerCertsDir,
      systemBundles: [],
    });
    assert.equal(fromDockerDir.ok, true);
    assert.match(fromDockerDir.lines[0] ?? "", /checked against Docker's .*docker-certs\/127\.0\.0\.1:\d+$/);
  });

  test("the server sends the leaf without the intermediate", async () => {
    const leaf = await issue(["IP:127.0.0.1"]);
    const reg = await registry(leaf.certificate, leaf.keyPem);
    const target = `127.0.0.1:${reg.port}`;
    const report = await doctor({
      target,
      caFile: rootFile,
      dockerCertsDir: join(dir, "none"),
      systemBundles: [],
    });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.findings.map((f) => f.code),
      ["incomplete-chain"],
    );
    assert.equal(
      report.lines[0],
      `${target}: the server sent 1 certificate(s); checked against --ca-file ${rootFile}`,
    );
    assert.equal(report.lines[1], "problem 1: x509: certificate signed by unknown authority");
    assert.match(report.lines[2] ?? "", /why: the server sends only the leaf/);
    assert.match(report.lines[3] ?? "", /fix: serve the full chain/);
    assert.equal(
      report.lines[4],
      `docker login/pull would fail with: Get "https://${target}/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
    );
  });

  test("a certificate without the address clients use", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    const reg = await registry(leaf.fullchain, leaf.keyPem);
    const report = await doctor({
      target: `127.0.0.1:${reg.port}`,
      caFile: rootFile,
      dockerCertsDir: join(dir, "none"),
      systemBundles: [],
    });
    assert.deepEqual(
      report.findings.map((f) => [f.code, f.dockerMessage]),
      [
        [
          "no-ip-san",
          "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs",
        ],
        ["not-trusted-by-docker", "x509: certificate signed by unknown authority"],
      ],
    );
    assert.match(
      report.lines.join("\n"),
      /fix: reissue with the address: certyard-agent cert --name ID \.\.\. --ip 127\.0\.0\.1/,
    );
  });

  test("a name the certificate lacks, with SNI sent for the name", async () => {
    const leaf = await issue(["DNS:other.lan", "DNS:mirror.lan"]);
    const reg = await registry(leaf.fullchain, leaf.keyPem);
    const dockerCertsDir = join(dir, "name-certs");
    mkdirSync(join(dockerCertsDir, `registry.lan:${reg.port}`), { recursive: true });
    writeFileSync(join(dockerCertsDir, `registry.lan:${reg.port}`, "ca.crt"), ca.rootPem);
    const handshake = reg.nextHandshake();
    const report = await doctor({
      target: `registry.lan:${reg.port}`,
      connectHost: "127.0.0.1",
      caFile: rootFile,
      dockerCertsDir,
      systemBundles: [],
    });
    assert.deepEqual(
      report.findings.map((f) => f.dockerMessage),
      ["x509: certificate is valid for other.lan, mirror.lan, not registry.lan"],
    );
    assert.equal(await handshake, "registry.lan");
  });

  test("nothing listening, and something that does not speak TLS: one clear line each", async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const address = closed.address();
    const port = typeof address === "object" && address ? address.port : 0;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      doctor({ target: `127.0.0.1:${port}`, caFile: rootFile }),
      new RegExp(`^Error: cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`),
    );

    const plain = createTcpServer((s) => {
      s.on("data", () => s.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
      s.on("error", () => {});
    });
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    const plainAddress = plain.address();
    const plainPort = typeof plainAddress === "object" && plainAddress ? plainAddress.port : 0;
    try {
      await assert.rejects(
        doctor({ target: `127.0.0.1:${plainPort}`, caFile: rootFile }),
        /^Error: TLS handshake with 127\.0\.0\.1:\d+ failed: .*it does not speak TLS there \(Docker would say: http: server gave HTTP response to HTTPS client\)$/,
      );
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  test("through the CLI: doctor's exit codes, trust's lines, htpasswd with the password on stdin", async () => {
    const leaf = await issue(["IP:127.0.0.1"]);
    const good = await registry(leaf.fullchain, leaf.keyPem);
    const bad = await registry(leaf.certificate, leaf.keyPem);
    const trusted = join(dir, "cli-docker-certs");
    mkdirSync(join(trusted, `127.0.0.1:${good.port}`), { recursive: true });
    writeFileSync(join(trusted, `127.0.0.1:${good.port}`, "ca.crt"), ca.rootPem);

    const ok = await cli([
      "doctor",
      `127.0.0.1:${good.port}`,
      "--ca-file",
      rootFile,
      "--docker-certs-dir",
      trusted,
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: 127\.0\.0\.1:\d+ serves a valid chain/m);
    const ko = await cli(["doctor", `127.0.0.1:${bad.port}`, "--ca-file", rootFile]);
    assert.equal(ko.code, 1);
    assert.match(ko.stdout, /^problem 1: x509: certificate signed by unknown authority$/m);
    assert.match(ko.stdout, /^ {2}fix: serve the full chain/m);
    const refused = await cli(["doctor", "127.0.0.1:1", "--ca-file", rootFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^certyard-agent: cannot connect to 127\.0\.0\.1:1: connection refused/);

    const home = join(dir, "cli-home");
    new AgentHome(home).saveCa({ url: ca.url, fingerprint: "unused" }, ca.rootPem);
    const args = [
      "trust",
      "--home",
      home,
      "--registry",
      "registry.lan:5000",
      "--registry",
      "registry.lan:443",
    ];
    args.push(
      "--docker-certs-dir",
      join(dir, "cli-trust"),
      "--containers-certs-dir",
      join(dir, "cli-podman"),
    );
    args.push("--containerd-certs-dir", join(dir, "cli-containerd"));
    const first = await cli(args);
    assert.equal(first.code, 0, first.stderr);
    const files = ["registry.lan:5000", "registry.lan"].flatMap((r) => [
      join(dir, "cli-trust", r, "ca.crt"),
      join(dir, "cli-podman", r, "ca.crt"),
      join(dir, "cli-containerd", r, "ca.crt"),
      join(dir, "cli-containerd", r, "hosts.toml"),
    ]);
    assert.equal(first.stdout, files.map((f) => `wrote ${f}\n`).join(""));
    const second = await cli(args);
    assert.equal(second.stdout, first.stdout.replace(/^wrote /gm, "unchanged "));
    assert.equal(readFileSync(join(dir, "cli-trust", "registry.lan", "ca.crt"), "utf8"), ca.rootPem);
    const removed = await cli([...args, "--remove"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, files.map((f) => `removed ${f}\n`).join(""));
    assert.deepEqual(readdirSync(join(dir, "cli-containerd")), [], "the emptied HOST:PORT folders are gone");
    assert.equal((await cli([...args, "--remove"])).stdout, "nothing of certyard's to remove\n");

    const file = join(dir, "auth", "htpasswd");
    assert.equal(
      (await cli(["htpasswd", "--file", file, "--cost", "4", "add", "alice"], "s3cret\n")).code,
      0,
    );
    assert.match(readFileSync(file, "utf8"), /^alice:\$2y\$04\$[./A-Za-z0-9]{53}\n$/);
    assert.equal((await cli(["htpasswd", "--file", file, "verify", "alice"], "s3cret\n")).code, 0);
    const wrong = await cli(["htpasswd", "--file", file, "verify", "alice"], "nope\n");
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, "wrong password for alice\n");
    const missing = await cli(["htpasswd", "--file", file, "remove", "bob"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'certyard-agent: no user "bob" in the htpasswd file\n');
    const empty = await cli(["htpasswd", "--file", file, "add", "carol"], "\n");
    assert.equal(empty.code, 1);
    assert.equal(empty.stderr, "certyard-agent: the password is empty\n");
  });
});
