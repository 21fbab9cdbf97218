import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { argv } from "../helpers/argv.js";
import {
  type OwnDockerd,
  type Relay,
  runRegistryOn,
  startCaAt,
  startOwnDockerd,
  startRelay,
} from "./fault-support.js";
import { AGENT, CA_CLI, type CaProcess, freePort, node, TEST_ADDR, until } from "./support.js";

/**
 * Renewal under real faults, each on a registry:2 host managed by the agent: the Docker engine
 * (one of the test's own, never the shared one) stops while a renewal is under way, the registry
 * cannot start on the new certificate, the CA is down when the renewal is due. In each case the
 * host keeps serving the certificate it had, the agent fails (exit 1) or the daemon backs off and
 * retries, and the key, certificate and record stay consistent.
 */
describe("renewal faults: the engine stops, the registry will not start, the CA is down", {
  concurrency: false,
}, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-e2e-faults-"));
  const home = join(work, "home");
  let engine: OwnDockerd;
  let ca: CaProcess;
  let caPort: number;
  let relay: Relay;
  let rootPem: string;
  const hosts: Record<string, { certDir: string; target: string; container: string }> = {};

  const agent = (args: string[], env: Record<string, string> = {}) =>
    node(AGENT, [...args, "--home", home], { env: { DOCKER_HOST: engine.host, ...env } });
  const servedSerial = async (target: string) => (await servedLeaf(target, rootPem)).serial;
  const fileSerial = (certDir: string) =>
    new X509Certificate(readFileSync(join(certDir, "domain.crt"))).serialNumber.toLowerCase();
  const files = (certDir: string) => ({
    cert: readFileSync(join(certDir, "domain.crt"), "utf8"),
    key: readFileSync(join(certDir, "domain.key"), "utf8"),
  });
  const record = (name: string) =>
    JSON.parse(readFileSync(join(home, "certs", `${name}.json`), "utf8")) as {
      serial: string;
      renewAt: string;
      lastResult?: { ok: boolean; message: string };
    };
  /** The record, the files and what is served all name the same certificate, whose key is in domain.key. */
  const consistent = async (name: string) => {
    const h = hosts[name];
    assert.ok(h);
    const serial = fileSerial(h.certDir);
    assert.equal(record(name).serial.toLowerCase(), serial, "the record names the certificate in the file");
    assert.equal(await servedSerial(h.target), serial, "the registry serves it");
    const leaf = new X509Certificate(readFileSync(join(h.certDir, "domain.crt")));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(files(h.certDir).key)));
    assert.equal(statSync(join(h.certDir, "domain.key")).mode & 0o777, 0o600);
  };

  /** cert NAME for TEST_ADDR, then registry:2 started on it (the first reload is skipped: no container yet). */
  async function enrol(name: string, registryKeyFile?: string) {
    const certDir = join(work, name);
    const port = await freePort();
    const h = {
      certDir,
      target: `${TEST_ADDR}:${port}`,
      container: `cy-fault-${name}-${process.pid.toString(36)}`,
    };
    hosts[name] = h;
    const token = (
      await node(CA_CLI, argv(["token", "create"], { data: ca.data, name, ip: TEST_ADDR }))
    ).stdout.trim();
    const r = await agent(
      argv(["cert"], {
        name,
        token,
        ip: TEST_ADDR,
        out: certDir,
        reload: `docker:${h.container}`,
        verify: h.target,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    if (registryKeyFile) copyFileSync(join(certDir, "domain.key"), join(certDir, registryKeyFile));
    await runRegistryOn(engine, { name: h.container, port, certDir, keyFile: registryKeyFile });
    await until(
      "registry:2 to serve the certificate",
      async () => (await servedSerial(h.target)) === fileSerial(certDir),
    );
    return h;
  }

  before(async () => {
    engine = await startOwnDockerd();
    caPort = await freePort();
    ca = await startCaAt(join(work, "ca"), caPort);
    rootPem = readFileSync(join(ca.data, "root.crt"), "utf8");
    relay = await startRelay(caPort);
    const fp = (await node(CA_CLI, ["fingerprint", "--data", ca.data])).stdout.trim();
    const boot = await agent(["bootstrap", "--ca", `https://127.0.0.1:${relay.port}`, "--fingerprint", fp]);
    assert.equal(boot.code, 0, boot.stderr);
  });

  after(async () => {
    relay?.close();
    await ca?.stop();
    await engine?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test("the engine stops while the CA is signing: old files back, the old certificate still served, exit 1; renewal works once the engine is back", async () => {
    const h = await enrol("engine");
    const before = { ...files(h.certDir), serial: fileSerial(h.certDir) };
    let stopped = false;
    // The engine answered the agent's preflight; it stops as the agent connects to the CA.
    relay.beforeNext = async () => {
      await engine.stop();
      stopped = true;
    };
    const r = await agent(["renew", "--force", "--name", "engine"]);
    assert.ok(stopped, "the engine stopped during the renewal");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /engine: FAILED: reload failed: cannot reach the Docker engine.*; previous files restored, but reloading them failed/,
    );
    assert.deepEqual(files(h.certDir), { cert: before.cert, key: before.key }, "the previous files are back");
    assert.equal(await servedSerial(h.target), before.serial, "the registry kept serving its certificate");
    await consistent("engine");
    assert.equal(record("engine").lastResult?.ok, false);

    await engine.start();
    const again = await agent(["renew", "--force", "--name", "engine"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.notEqual(fileSerial(h.certDir), before.serial);
    await consistent("engine");
  });

  test("the registry cannot start on the new certificate: rolled back, the old one served again, exit 1", async () => {
    // registry:2 reads its key from a copy the operator made once (stale.key): with the new
    // certificate it refuses to start ("private key does not match public key"); with the old
    // one, restored, it starts again.
    const h = await enrol("wontstart", "stale.key");
    const before = { ...files(h.certDir), serial: fileSerial(h.certDir) };
    const r = await agent(["renew", "--force", "--name", "wontstart", "--verify-timeout", "5s"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /wontstart: FAILED: \S+ did not serve the new certificate: .*; previous files restored and reloaded/,
    );
    const logs = await engine.docker(["logs", h.container]);
    assert.match(
      logs.stdout + logs.stderr,
      /private key does not match public key/,
      "it really failed to start",
    );
    assert.deepEqual(files(h.certDir), { cert: before.cert, key: before.key });
    await until(
      "the registry to serve the old certificate again",
      async () => (await servedSerial(h.target)) === before.serial,
    );
    await consistent("wontstart");
    assert.equal(
      (await engine.docker(["inspect", "--format", "{{.State.Running}}", h.container])).stdout.trim(),
      "true",
    );
  });

  test("the CA is down when the renewal is due: the daemon backs off, keeps the current certificate, and renews once the CA is back", async () => {
    const h = hosts.engine;
    assert.ok(h);
    const before = { ...files(h.certDir), serial: fileSerial(h.certDir) };
    await ca.stop();
    // cron's way first: renew exits 1 and changes nothing
    const due = record("engine");
    writeFileSync(
      join(home, "certs", "engine.json"),
      JSON.stringify({ ...due, renewAt: new Date(Date.now() - 60_000).toISOString() }),
    );
    const r = await agent(["renew", "--name", "engine"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /engine: FAILED: renewal failed: /);
    assert.deepEqual(files(h.certDir), { cert: before.cert, key: before.key });

    const daemon = spawn(process.execPath, [AGENT, "run", "--home", home, "--log-format", "json"], {
      env: { ...process.env, DOCKER_HOST: engine.host },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    daemon.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    try {
      await until("the daemon to back off", async () => /"msg":"renewal to be retried"/.test(log), 60_000);
      const retry = log
        .split("\n")
        .map((l) =>
          l.startsWith("{") ? (JSON.parse(l) as { msg?: string; retryInMs?: number; attempt?: number }) : {},
        )
        .find((e) => e.msg === "renewal to be retried");
      assert.equal(retry?.attempt, 1);
      assert.ok(
        (retry?.retryInMs ?? 0) > 50_000 && (retry?.retryInMs ?? 0) <= 60_000,
        `backoff ${retry?.retryInMs} ms`,
      );
      assert.equal(await servedSerial(h.target), before.serial, "the current certificate is still served");
      await consistent("engine");

      ca = await startCaAt(ca.data, caPort);
      await until(
        "the daemon's retry to renew",
        async () => fileSerial(h.certDir) !== before.serial && /"msg":"renewed"/.test(log),
        150_000,
      );
      await consistent("engine");
    } finally {
      const exited = new Promise<number | null>((resolve) => daemon.once("exit", resolve));
      daemon.kill("SIGTERM");
      assert.equal(await exited, 0);
    }
  });
});
