import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { argv, type FlagValue } from "../helpers/argv.js";
import {
  AGENT,
  CA_CLI,
  type CaProcess,
  containerStartedAt,
  docker,
  freePort,
  node,
  removeContainer,
  runRegistry,
  sh,
  startCaProcess,
  TEST_ADDR,
  until,
} from "./support.js";

/**
 * The seed scenario with certyard, all real: a CA process, the agent CLI, the Docker engine
 * restarting a registry:2 container on an address outside 127.0.0.0/8 (so Docker checks TLS),
 * docker login/push/pull and skopeo through the root the agent installs.
 */
describe("registry host and Docker client, end to end", { concurrency: false }, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-e2e-"));
  const home = join(work, "home");
  const certs = join(work, "certs");
  const auth = join(work, "auth");
  const certsD = "/etc/docker/certs.d";
  const suffix = process.pid.toString(36);
  const registryName = `cy-registry-${suffix}`;
  let ca: CaProcess;
  let fingerprint: string;
  let port: number;
  let target: string;
  let rootPem: string;

  const agent = (args: string[], opts?: Parameters<typeof node>[2]) =>
    node(AGENT, [...args, "--home", home], opts);
  const createToken = async (flags: Record<string, FlagValue>) =>
    (await node(CA_CLI, argv(["token", "create"], { data: ca.data, ...flags }))).stdout.trim();

  before(async () => {
    ca = await startCaProcess(join(work, "ca"));
    fingerprint = (await node(CA_CLI, ["fingerprint", "--data", ca.data])).stdout.trim();
    rootPem = readFileSync(join(ca.data, "root.crt"), "utf8");
    port = await freePort();
    target = `${TEST_ADDR}:${port}`;
  });

  after(async () => {
    for (const name of [registryName, `cy-noip-${suffix}`, `cy-leafonly-${suffix}`, `cy-dummy-${suffix}`]) {
      await removeContainer(name);
    }
    // trust wrote these three: Docker's, the containers tools' and containerd's
    for (const d of [certsD, "/etc/containers/certs.d", "/etc/containerd/certs.d"]) {
      rmSync(join(d, target), { recursive: true, force: true });
    }
    await docker(["logout", target]);
    await ca.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("1. bootstrap refuses a wrong fingerprint, then pins the root; htpasswd add", async () => {
    const wrong = await agent(["bootstrap", "--ca", ca.url, "--fingerprint", "00".repeat(32)]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /fingerprint mismatch/);
    const ok = await agent(["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint]);
    assert.equal(ok.code, 0, ok.stderr);
    const added = await node(AGENT, ["htpasswd", "--file", join(auth, "htpasswd"), "add", "alice"], {
      input: "s3cret\n",
    });
    assert.equal(added.code, 0, added.stderr);
    assert.match(readFileSync(join(auth, "htpasswd"), "utf8"), /^alice:\$2[aby]\$/);
  });

  test("2. cert for a DNS name and the registry's IP; the first docker reload is skipped; registry:2 runs with it", async () => {
    const token = await createToken({
      name: "registry-host",
      dns: "registry.lan",
      ip: `${TEST_ADDR}/32`,
    });
    const r = await agent(
      argv(["cert"], {
        name: "registry",
        token,
        dns: "registry.lan",
        ip: TEST_ADDR,
        out: certs,
        reload: `docker:${registryName}`,
        verify: target,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /container does not exist yet/);
    assert.equal(statSync(join(certs, "domain.key")).mode & 0o777, 0o600);
    await runRegistry({ name: registryName, port, certDir: certs, authDir: auth });
    await until(
      "registry:2 to serve TLS",
      async () => (await servedLeaf(target, rootPem)).chainError === null,
    );
  });

  test("3. docker login fails with an unknown authority before trust; login, push, pull and skopeo work after", async () => {
    const login = () => docker(["login", target, "-u", "alice", "--password-stdin"], { input: "s3cret\n" });
    const before = await login();
    assert.notEqual(before.code, 0);
    assert.match(before.stderr, /x509: certificate signed by unknown authority/);

    const trust = await agent(["trust", "--registry", target, "--docker-certs-dir", certsD]);
    assert.equal(trust.code, 0, trust.stderr);
    assert.equal(readFileSync(join(certsD, target, "ca.crt"), "utf8"), rootPem);
    const mtime = statSync(join(certsD, target, "ca.crt")).mtimeMs;
    const again = await agent(["trust", "--registry", target, "--docker-certs-dir", certsD]);
    assert.equal(again.code, 0);
    assert.equal(statSync(join(certsD, target, "ca.crt")).mtimeMs, mtime, "a second trust changes nothing");

    const afterLogin = await login();
    assert.equal(afterLogin.code, 0, afterLogin.stderr);
    const image = `${target}/e2e/registry:1`;
    assert.equal((await docker(["tag", "registry:2", image])).code, 0);
    const push = await docker(["push", image]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal((await docker(["rmi", image])).code, 0);
    const pull = await docker(["pull", image]);
    assert.equal(pull.code, 0, pull.stderr);

    const certDir = join(work, "skopeo-certs");
    mkdirSync(certDir, { recursive: true });
    const empty = join(work, "skopeo-empty");
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(certDir, "ca.crt"), rootPem);
    const dest = `docker://${target}/e2e/copy:1`;
    const refused = await sh("skopeo", [
      "copy",
      "--dest-cert-dir",
      empty,
      "--dest-creds",
      "alice:s3cret",
      "docker-daemon:registry:2",
      dest,
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /x509: certificate signed by unknown authority/);
    const copied = await sh("skopeo", [
      "copy",
      "--dest-cert-dir",
      certDir,
      "--dest-creds",
      "alice:s3cret",
      "docker-daemon:registry:2",
      dest,
    ]);
    assert.equal(copied.code, 0, copied.stderr);
  });

  test("4. renew --force restarts the container, the new serial is served, push works again", async () => {
    const startedBefore = await containerStartedAt(registryName);
    const oldSerial = new X509Certificate(readFileSync(join(certs, "domain.crt"))).serialNumber;
    const r = await agent(["renew", "--force", "--name", "registry"]);
    assert.equal(r.code, 0, r.stderr);
    const leaf = new X509Certificate(readFileSync(join(certs, "domain.crt")));
    assert.notEqual(leaf.serialNumber, oldSerial);
    assert.notEqual(await containerStartedAt(registryName), startedBefore, "the container was restarted");
    assert.equal((await servedLeaf(target, rootPem)).serial, leaf.serialNumber.toLowerCase());
    const push = await docker(["push", `${target}/e2e/registry:1`]);
    assert.equal(push.code, 0, push.stderr);
  });

  test("5a. a reload that leaves the old certificate served: rollback, old files back, exit 1", async () => {
    const dummy = `cy-dummy-${suffix}`;
    await runRegistry({ name: dummy, port: await freePort(), certDir: certs });
    const before = {
      cert: readFileSync(join(certs, "domain.crt")),
      key: readFileSync(join(certs, "domain.key")),
    };
    const token = await createToken({
      name: "wrong-reload",
      dns: "registry.lan",
      ip: TEST_ADDR,
    });
    // The new files go where the registry reads them, but the reload restarts another container.
    const r = await agent(
      argv(["cert"], {
        name: "wrong-reload",
        token,
        dns: "registry.lan",
        ip: TEST_ADDR,
        out: certs,
        reload: `docker:${dummy}`,
        verify: target,
        verifyTimeout: "5s",
      }),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /did not serve the new certificate: it served a different certificate .*previous files restored and reloaded/,
    );
    assert.deepEqual(readFileSync(join(certs, "domain.crt")), before.cert);
    assert.deepEqual(readFileSync(join(certs, "domain.key")), before.key);
  });

  test("5b. the Docker socket unreachable: renew exits 1 and the files are untouched", async () => {
    const before = statSync(join(certs, "domain.crt"));
    const content = readFileSync(join(certs, "domain.crt"));
    const r = await agent(["renew", "--force", "--name", "registry"], {
      env: { DOCKER_HOST: `unix://${join(work, "nope.sock")}` },
    });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /registry: FAILED: cannot reach the Docker engine/);
    assert.deepEqual(readFileSync(join(certs, "domain.crt")), content);
    assert.equal(statSync(join(certs, "domain.crt")).mtimeMs, before.mtimeMs);
  });

  test("5c. doctor names a certificate without the IP SAN and a chain missing its intermediate", async () => {
    const token = await createToken({
      name: "doctor",
      dns: "registry.lan",
      ip: TEST_ADDR,
      uses: "2",
    });
    const dnsOnly = join(work, "dns-only");
    const r = await agent(argv(["cert"], { name: "dns-only", token, dns: "registry.lan", out: dnsOnly }));
    assert.equal(r.code, 0, r.stderr);
    const noIpPort = await freePort();
    await runRegistry({ name: `cy-noip-${suffix}`, port: noIpPort, certDir: dnsOnly });
    await until("the no-IP registry", async () =>
      Boolean(await servedLeaf(`${TEST_ADDR}:${noIpPort}`, rootPem)),
    );
    const noIp = await agent(["doctor", `${TEST_ADDR}:${noIpPort}`]);
    assert.equal(noIp.code, 1);
    assert.match(
      noIp.stdout + noIp.stderr,
      /x509: cannot validate certificate for 10\.203\.0\.1 because it doesn't contain any IP SANs/,
    );

    const leafOnly = join(work, "leaf-only");
    mkdirSync(leafOnly, { recursive: true });
    const r2 = await agent(
      argv(["cert"], { name: "leaf-only", token, dns: "registry.lan", ip: TEST_ADDR, out: leafOnly }),
    );
    assert.equal(r2.code, 0, r2.stderr);
    const full = readFileSync(join(leafOnly, "domain.crt"), "utf8");
    writeFileSync(
      join(leafOnly, "leaf.crt"),
      `${full.split("-----END CERTIFICATE-----")[0]}-----END CERTIFICATE-----\n`,
    );
    const leafPort = await freePort();
    await runRegistry({
      name: `cy-leafonly-${suffix}`,
      port: leafPort,
      certDir: leafOnly,
      certFile: "leaf.crt",
    });
    await until("the leaf-only registry", async () =>
      Boolean(await servedLeaf(`${TEST_ADDR}:${leafPort}`, rootPem)),
    );
    const chain = await agent(["doctor", `${TEST_ADDR}:${leafPort}`]);
    assert.equal(chain.code, 1);
    assert.match(chain.stdout + chain.stderr, /x509: certificate signed by unknown authority/);
    assert.match(chain.stdout + chain.stderr, /intermediate/);

    const good = await agent(["doctor", target]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
  });

  test("6. docker-compose accepts compose.yaml, and asks for CERTYARD_HOST when it is not set", async () => {
    const file = new URL("../../../compose.yaml", import.meta.url).pathname;
    const r = await sh("docker-compose", ["-f", file, "config"], { env: { CERTYARD_HOST: "10.0.0.4" } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /CERTYARD_URL: https:\/\/10\.0\.0\.4:8443/);
    const { CERTYARD_HOST: _, ...withoutHost } = process.env;
    const missing = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn("docker-compose", ["-f", file, "config", "-q"], { env: withoutHost });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("close", (code) => resolve({ code, stderr }));
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /set CERTYARD_HOST to the address other hosts reach this one at/);
  });

  test("renewal downtime against a bare docker restart (a measurement, printed)", async () => {
    const downtime = async (action: () => Promise<unknown>) => {
      let firstFail = 0;
      let lastFail = 0;
      let running = true;
      const probe = (async () => {
        while (running) {
          const ok = await servedLeaf(target, rootPem, 1000).then(
            (s) => s.chainError === null,
            () => false,
          );
          const t = performance.now();
          if (!ok) {
            if (!firstFail) firstFail = t;
            lastFail = t;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      await action();
      await until(
        "the registry to answer again",
        async () => (await servedLeaf(target, rootPem)).chainError === null,
      );
      running = false;
      await probe;
      return firstFail ? lastFail - firstFail : 0;
    };
    // One restart is a noisy sample (165 to 210 ms here), so three alternating rounds, medians.
    const bares: number[] = [];
    const renews: number[] = [];
    for (let round = 0; round < 3; round++) {
      bares.push(await downtime(() => docker(["restart", registryName])));
      renews.push(await downtime(() => agent(["renew", "--force", "--name", "registry"])));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    const [bare, renew] = [median(bares), median(renews)];
    const ratio = bare > 0 ? renew / bare : Number.NaN;
    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
    process.stdout.write(
      `e2e report: TLS downtime during renew --force median ${renew.toFixed(0)} ms (${ms(renews)}), bare docker restart median ${bare.toFixed(0)} ms (${ms(bares)}), ratio ${ratio.toFixed(2)}\n`,
    );
    const leaf = new X509Certificate(readFileSync(join(certs, "domain.crt")));
    assert.equal((await servedLeaf(target, rootPem)).serial, leaf.serialNumber.toLowerCase());
  });

  test("run: the daemon starts, idles, and stops cleanly on SIGTERM; its idle RSS against a bare node", async () => {
    const rssOf = (pid: number) =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    const daemon = spawn(process.execPath, [AGENT, "run", "--home", home], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    daemon.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    await until("the daemon to start and check the root", async () => log.includes("root checked"));
    const bare = spawn(process.execPath, ["-e", "console.log('up'); setInterval(() => {}, 1000)"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    await new Promise((resolve) => bare.stdout?.once("data", resolve));
    const agentRss = rssOf(daemon.pid ?? 0);
    const bareRss = rssOf(bare.pid ?? 0);
    bare.kill("SIGKILL");
    process.stdout.write(
      `e2e report: agent daemon idle RSS ${(agentRss / 1024).toFixed(1)} MiB, bare node ${(bareRss / 1024).toFixed(1)} MiB, ratio ${(agentRss / bareRss).toFixed(2)}\n`,
    );
    const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
    daemon.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(log, /agent stopped/);
    assert.doesNotMatch(log, /renewal failed/);
  });
});
