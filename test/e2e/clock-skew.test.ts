import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { argv } from "../helpers/argv.js";
import { fakeTimeEnv, startCaAt } from "./fault-support.js";
import {
  AGENT,
  CA_CLI,
  type CaProcess,
  freePort,
  node,
  removeContainer,
  runRegistry,
  sh,
  TEST_ADDR,
  until,
} from "./support.js";

/**
 * Five minutes of clock skew between the agent and the CA, either way, made real with faketime
 * (libfaketime under the agent's or the CA's node): bootstrap, the first certificate and a
 * renewal that restarts registry:2 and verifies what it serves must all work.
 */
describe("clock skew of five minutes between agent and CA", { concurrency: false }, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-e2e-skew-"));
  const containers: string[] = [];
  const cas: CaProcess[] = [];
  after(async () => {
    for (const c of containers) await removeContainer(c);
    for (const ca of cas) await ca.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * The whole life of one host: the CA set up (init) and serving under `ca`'s shifts, every agent
   * command under `agentShift`.
   */
  async function hostLife(
    label: string,
    ca: { init: string | null; serve: string | null },
    agentShift: string | null,
  ) {
    const dir = join(work, label);
    const init = await sh(
      process.execPath,
      [CA_CLI, "init", "--data", join(dir, "ca")],
      ca.init ? { env: fakeTimeEnv(ca.init) } : {},
    );
    assert.equal(init.code, 0, init.stderr);
    const server = await startCaAt(join(dir, "ca"), await freePort(), ca.serve ? fakeTimeEnv(ca.serve) : {});
    cas.push(server);
    const rootPem = readFileSync(join(server.data, "root.crt"), "utf8");
    const home = join(dir, "home");
    const certs = join(dir, "certs");
    const agent = (args: string[]) =>
      node(AGENT, [...args, "--home", home], agentShift ? { env: fakeTimeEnv(agentShift) } : {});
    if (agentShift) {
      const clock = await sh(process.execPath, ["-e", "process.stdout.write(String(Date.now()))"], {
        env: fakeTimeEnv(agentShift),
      });
      const shift = Number(clock.stdout) - Date.now();
      assert.ok(
        Math.abs(shift - Number.parseInt(agentShift, 10) * 60_000) < 30_000,
        `libfaketime shifts node's clock (${shift} ms)`,
      );
    }

    const fp = (await node(CA_CLI, ["fingerprint", "--data", server.data])).stdout.trim();
    const boot = await agent(["bootstrap", "--ca", server.url, "--fingerprint", fp]);
    assert.equal(boot.code, 0, boot.stderr);
    const port = await freePort();
    const target = `${TEST_ADDR}:${port}`;
    const container = `cy-skew-${label}-${process.pid.toString(36)}`;
    containers.push(container);
    const token = (
      await node(CA_CLI, argv(["token", "create"], { data: server.data, name: label, ip: TEST_ADDR }))
    ).stdout.trim();
    const first = await agent(
      argv(["cert"], {
        name: label,
        token,
        ip: TEST_ADDR,
        out: certs,
        reload: `docker:${container}`,
        verify: target,
      }),
    );
    assert.equal(first.code, 0, first.stderr);
    await runRegistry({ name: container, port, certDir: certs });
    const serial = () =>
      new X509Certificate(readFileSync(join(certs, "domain.crt"))).serialNumber.toLowerCase();
    const before = serial();
    await until(
      "registry:2 to serve the first certificate",
      async () => (await servedLeaf(target, rootPem)).serial === before,
    );

    const renewed = await agent(["renew", "--force", "--name", label, "--verify-timeout", "20s"]);
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.notEqual(serial(), before);
    assert.equal((await servedLeaf(target, rootPem)).serial, serial());
  }

  test("the agent five minutes behind the CA (libfaketime -5m on the agent; the CA was set up ten minutes before)", async () => {
    await hostLife("behind", { init: "-10m", serve: null }, "-5m");
  });

  test("the agent five minutes ahead of the CA (libfaketime -5m on the CA, from its set-up on)", async () => {
    await hostLife("ahead", { init: "-5m", serve: "-5m" }, null);
  });
});
