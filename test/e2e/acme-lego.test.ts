import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type ChallTestSrv,
  type Pebble,
  startChallTestSrv,
  startPebble,
  writeExecProvider,
} from "./acme-lego-support.js";
import { startCaProcessWith } from "./acme-support.js";
import { CA_CLI, type CaProcess, freePort, node, sh } from "./support.js";

/**
 * lego 4.9 against `certyard-ca serve` with tls-alpn-01 and dns-01 (exec provider writing TXT
 * records into pebble-challtestsrv, which is also the CA's --acme-dns-resolver), an IP
 * identifier, and the timings of lego and certbot http-01 issuances against us and against pebble.
 */
describe("ACME interop: lego tls-alpn-01, dns-01, IP; timings against pebble", { concurrency: false }, () => {
  let dir: string;
  let cts: ChallTestSrv;
  let ca: CaProcess;
  let pebble: Pebble;
  let httpPort: number;
  let tlsPort: number;
  let root: string;
  let chain: string;
  const seconds: Record<string, number> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-e2e-acme-lego-"));
    cts = await startChallTestSrv();
    httpPort = await freePort();
    tlsPort = await freePort();
    const data = join(dir, "data");
    ca = await startCaProcessWith(data, [
      ...["--acme-http-port", String(httpPort), "--acme-tls-port", String(tlsPort)],
      ...["--acme-dns-resolver", cts.dns],
    ]);
    root = join(data, "root.crt");
    chain = join(data, "intermediate.crt");
    // pebble validates on the same ports: the issuances below run one at a time.
    pebble = await startPebble(dir, cts.dns, httpPort, tlsPort);
  });
  after(async () => {
    await ca?.stop();
    await pebble?.stop();
    await cts?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function eab(name: string): Promise<string[]> {
    const r = await node(CA_CLI, [
      "eab",
      "create",
      "--data",
      ca.data,
      "--name",
      name,
      "--dns",
      "*.test",
      "--ip",
      "127.0.0.1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [kid, hmac] = r.stdout.trim().split(" ");
    assert.ok(kid && hmac);
    return ["--eab", "--kid", kid, "--hmac", hmac];
  }

  async function verifies(certFile: string): Promise<string> {
    const v = await sh("openssl", ["verify", "-x509_strict", "-CAfile", root, "-untrusted", chain, certFile]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const text = await sh("openssl", ["x509", "-in", certFile, "-noout", "-ext", "subjectAltName"]);
    return text.stdout;
  }

  function lego(server: string, ca: string, args: string[], env: Record<string, string> = {}) {
    return sh("lego", [...["--server", server, "--email", "e@x.test", "--accept-tos"], ...args, "run"], {
      env: { LEGO_CA_CERTIFICATES: ca, ...env },
    });
  }
  const ours = () => `${ca.url}/acme/directory`;

  test("lego tls-alpn-01: the certificate verifies to our root", async () => {
    const path = join(dir, "lego-tls");
    const r = await lego(ours(), root, [
      ...(await eab("lego-tls")),
      ...["--domains", "alpn.test", "--tls", "--tls.port", `:${tlsPort}`, "--path", path],
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const san = await verifies(join(path, "certificates", "alpn.test.crt"));
    assert.match(san, /DNS:alpn\.test/);
  });

  test("lego dns-01 through the exec provider and pebble-challtestsrv: verifies to our root", async () => {
    const path = join(dir, "lego-dns");
    const script = join(dir, "exec-provider.sh");
    const log = join(dir, "exec-provider.log");
    writeExecProvider(script, cts.mgmt, log);
    const r = await lego(
      ours(),
      root,
      [
        ...(await eab("lego-dns")),
        ...["--domains", "txt.test", "--dns", "exec", "--dns.resolvers", cts.dns, "--dns.disable-cp"],
        ...["--path", path],
      ],
      { EXEC_PATH: script, EXEC_PROPAGATION_TIMEOUT: "10", EXEC_POLLING_INTERVAL: "1" },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const san = await verifies(join(path, "certificates", "txt.test.crt"));
    assert.match(san, /DNS:txt\.test/);
    const calls = readFileSync(log, "utf8");
    assert.match(calls, /^present _acme-challenge\.txt\.test\. \S+$/m);
    assert.match(calls, /^cleanup _acme-challenge\.txt\.test\. \S+$/m);
  });

  test("lego --domains 127.0.0.1 (http-01): the certificate has an iPAddress SAN", async () => {
    const path = join(dir, "lego-ip");
    const r = await lego(ours(), root, [
      ...(await eab("lego-ip")),
      ...["--domains", "127.0.0.1", "--http", "--http.port", `:${httpPort}`, "--path", path],
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const san = await verifies(join(path, "certificates", "127.0.0.1.crt"));
    assert.match(san, /IP Address:127\.0\.0\.1/);
    assert.doesNotMatch(san, /DNS:/);
  });

  async function timeLego(label: string, server: string, caFile: string, extra: string[]) {
    const path = join(dir, `time-lego-${label}`);
    const started = process.hrtime.bigint();
    const r = await lego(server, caFile, [
      ...extra,
      ...["--domains", `lego-${label}.test`, "--http", "--http.port", `:${httpPort}`, "--path", path],
    ]);
    seconds[`lego ${label}`] = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }

  async function timeCertbot(label: string, server: string, caFile: string, extra: string[]) {
    const base = join(dir, `time-certbot-${label}`);
    const started = process.hrtime.bigint();
    const r = await sh(
      "certbot",
      [
        ...["certonly", "--standalone", "--http-01-port", String(httpPort), "--server", server, ...extra],
        ...["--agree-tos", "-m", "e@x.test", "-d", `cb-${label}.test`, "--non-interactive"],
        ...["--config-dir", join(base, "c"), "--work-dir", join(base, "w"), "--logs-dir", join(base, "l")],
      ],
      { env: { REQUESTS_CA_BUNDLE: caFile } },
    );
    seconds[`certbot ${label}`] = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }

  test("timing: one lego and one certbot http-01 issuance, against certyard and against pebble", async () => {
    await timeLego("certyard", ours(), root, await eab("time-lego"));
    await timeLego("pebble", pebble.directory, pebble.tlsCa, []);
    const [, , kid, , hmac] = await eab("time-certbot");
    await timeCertbot("certyard", ours(), root, ["--eab-kid", kid ?? "", "--eab-hmac-key", hmac ?? ""]);
    await timeCertbot("pebble", pebble.directory, pebble.tlsCa, []);
    for (const [k, v] of Object.entries(seconds))
      console.log(`e2e report: ${k} http-01 issuance ${v.toFixed(2)} s`);
    for (const client of ["lego", "certbot"]) {
      const ratio = (seconds[`${client} certyard`] ?? 0) / (seconds[`${client} pebble`] ?? 1);
      const target = client === "lego" ? 0.1 : 1.0;
      console.log(`e2e report: ${client} certyard/pebble ratio ${ratio.toFixed(3)} (target <= ${target})`);
    }
  });
});
