import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { certificatesFromPem, encodePem } from "../../shared/x509/pem.js";
import { argv } from "../helpers/argv.js";
import {
  AGENT,
  CA_CLI,
  type CaProcess,
  docker,
  freePort,
  node,
  removeContainer,
  runRegistry,
  startCaProcess,
  TEST_ADDR,
  until,
} from "./support.js";

const pems = (text: string) => certificatesFromPem(text).map((d) => encodePem("CERTIFICATE", d));

/**
 * `certyard-ca rotate root`, taken up by a running serve, with a registry host and a Docker client that each run the agent,
 * all real: the CA process, registry:2 restarted by the agent through the Docker engine on an
 * address Docker checks TLS for, and `docker push` before the rotation, while the registry still
 * serves the old root's certificate, after it renewed onto the new root (the client still
 * trusting only the old one), after the client's check-root, and with the new root alone.
 */
describe("a root rotation: the registry host and a client keep pushing throughout", {
  concurrency: false,
}, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-e2e-rotation-"));
  const hostHome = join(work, "host-home");
  const clientHome = join(work, "client-home");
  const certs = join(work, "certs");
  const auth = join(work, "auth");
  const certsD = "/etc/docker/certs.d";
  const registryName = `cy-rotation-${process.pid.toString(36)}`;
  let ca: CaProcess;
  let target: string;
  let oldRoot: string;
  let newRoot: string;

  const host = (args: string[]) => node(AGENT, [...args, "--home", hostHome]);
  const client = (args: string[]) => node(AGENT, [...args, "--home", clientHome]);
  const push = async (tag: string) => {
    const image = `${target}/e2e/rotation:${tag}`;
    assert.equal((await docker(["tag", "registry:2", image])).code, 0);
    const r = await docker(["push", image]);
    assert.equal(r.code, 0, `push ${tag}: ${r.stderr}`);
  };
  const caCrt = () => readFileSync(join(certsD, target, "ca.crt"), "utf8");
  /** how many roots the CA serves, asked as a client that trusts only the old root */
  const rootsServed = () =>
    new Promise<number>((resolve, reject) => {
      get(`${ca.url}/roots.pem`, { ca: oldRoot }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve(pems(body).length));
      }).on("error", reject);
    });

  before(async () => {
    ca = await startCaProcess(join(work, "ca"));
    target = `${TEST_ADDR}:${await freePort()}`;
    oldRoot = readFileSync(join(ca.data, "root.crt"), "utf8");
  });
  after(async () => {
    await removeContainer(registryName);
    for (const d of [certsD, "/etc/containers/certs.d", "/etc/containerd/certs.d"]) {
      rmSync(join(d, target), { recursive: true, force: true });
    }
    await docker(["logout", target]);
    await ca.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("1. before: the registry host enrols, the client trusts the root, push", async () => {
    const fp = (await node(CA_CLI, ["fingerprint", "--data", ca.data])).stdout.trim();
    for (const run of [host, client]) {
      const b = await run(["bootstrap", "--ca", ca.url, "--fingerprint", fp]);
      assert.equal(b.code, 0, b.stderr);
    }
    mkdirSync(auth, { recursive: true });
    const added = await node(AGENT, ["htpasswd", "--file", join(auth, "htpasswd"), "add", "bob"], {
      input: "rotate\n",
    });
    assert.equal(added.code, 0, added.stderr);
    const token = (
      await node(
        CA_CLI,
        argv(["token", "create"], { data: ca.data, name: "rot-host", ip: `${TEST_ADDR}/32` }),
      )
    ).stdout.trim();
    const port = target.split(":")[1] as string;
    const cert = await host(
      argv(["cert"], {
        name: "registry",
        token,
        ip: TEST_ADDR,
        out: certs,
        reload: `docker:${registryName}`,
        verify: target,
      }),
    );
    assert.equal(cert.code, 0, cert.stderr);
    await runRegistry({ name: registryName, port: Number(port), certDir: certs, authDir: auth });
    await until(
      "registry:2 to serve TLS",
      async () => (await servedLeaf(target, oldRoot)).chainError === null,
    );

    const trust = await client(["trust", "--registry", target, "--docker-certs-dir", certsD]);
    assert.equal(trust.code, 0, trust.stderr);
    assert.deepEqual(pems(caCrt()), pems(oldRoot));
    const login = await docker(["login", target, "-u", "bob", "--password-stdin"], { input: "rotate\n" });
    assert.equal(login.code, 0, login.stderr);
    await push("before");
  });

  test("2. rotate root while serve runs: the registry still serves the old root's certificate; push", async () => {
    const r = await node(CA_CLI, ["rotate", "root", "--data", ca.data]);
    assert.equal(r.code, 0, r.stderr);
    // serve takes the rotation up by itself; its new TLS chain reaches the old root too
    await until("serve to serve both roots", async () => (await rootsServed()) === 2, 60_000);
    newRoot = readFileSync(join(ca.data, "root.crt"), "utf8");
    assert.notEqual(newRoot, oldRoot);
    const served = await servedLeaf(target, oldRoot);
    assert.equal(served.chainError, null);
    await push("during-old-leaf");
  });

  test("3. the registry host renews onto the new intermediate; the client, trusting only the old root, pushes through the cross-certificate", async () => {
    const r = await host(["renew", "--force", "--name", "registry"]);
    assert.equal(r.code, 0, r.stderr);
    const chain = pems(readFileSync(join(certs, "domain.crt"), "utf8"));
    assert.equal(chain.length, 3, "leaf, the new intermediate, the new root certified by the old");
    const intermediate = new X509Certificate(chain[1] as string);
    assert.ok(intermediate.checkIssued(new X509Certificate(newRoot)), "issued under the new root");
    // the registry serves the new chain, and it verifies against the old root alone
    const leaf = new X509Certificate(chain[0] as string);
    await until(
      "the renewed certificate to be served",
      async () => (await servedLeaf(target, oldRoot)).serial === leaf.serialNumber.toLowerCase(),
    );
    assert.deepEqual(pems(caCrt()), pems(oldRoot), "the client has not looked at the CA yet");
    await push("during-new-leaf");
  });

  test("4. after: check-root installs the new root beside the old one where trust wrote; push, and with the new root alone", async () => {
    for (const run of [client, host]) {
      const r = await run(["check-root"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /rotated its root: trusts the new root [0-9a-f]{64} \(cross-signed\)/);
    }
    assert.deepEqual(pems(caCrt()), [...pems(oldRoot), ...pems(newRoot)]);
    await push("after");
    // what a client holds once the old root has expired and check-root took it out
    writeFileSync(join(certsD, target, "ca.crt"), newRoot);
    await push("new-root-only");
    for (const tag of ["before", "during-old-leaf", "during-new-leaf", "after", "new-root-only"]) {
      const image = `${target}/e2e/rotation:${tag}`;
      assert.equal((await docker(["rmi", image])).code, 0);
      const pull = await docker(["pull", image]);
      assert.equal(pull.code, 0, `pull ${tag}: ${pull.stderr}`);
    }
    // and the renewal after the rotation keeps working
    const again = await host(["renew", "--force", "--name", "registry"]);
    assert.equal(again.code, 0, again.stderr);
  });
});
