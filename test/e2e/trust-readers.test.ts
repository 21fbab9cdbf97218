import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { rootCertificates } from "../../services/agent/actions/root-certs.js";
import { servedLeaf } from "../../services/agent/actions/verify.js";
import { AgentHome } from "../../services/agent/state.js";
import { AGENT, freePort, node, sh, TEST_ADDR, until } from "./support.js";

/**
 * What `trust --registry` writes, read by the real clients at their default places: skopeo and
 * podman (/etc/containers/certs.d), containerd's ctr (/etc/containerd/certs.d with its
 * hosts.toml), and keytool on the default JDK's cacerts (--java). A registry (Debian's
 * docker-registry, the registry:2 binary) serves TLS on the test address with a leaf from a
 * root made here. Every client fails with an unknown authority before trust, works after it,
 * and fails again after trust --remove, which leaves /etc and the JDK's store as they were.
 */

function ossl(args: string[]) {
  return sh("openssl", args).then((r) => assert.equal(r.code, 0, r.stderr));
}

async function rootAndLeaf(dir: string, ip: string): Promise<void> {
  const f = (n: string) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await ossl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("root.key"),
    "-out",
    f("root.pem"),
    "-subj",
    "/CN=Readers Test Root",
    "-days",
    "3",
  ]);
  await ossl([
    "req",
    "-new",
    ...ec,
    "-keyout",
    f("leaf.key"),
    "-out",
    f("leaf.csr"),
    "-subj",
    "/CN=registry",
  ]);
  writeFileSync(f("ext"), `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`);
  await ossl([
    "x509",
    "-req",
    "-in",
    f("leaf.csr"),
    "-CA",
    f("root.pem"),
    "-CAkey",
    f("root.key"),
    "-CAcreateserial",
    "-out",
    f("leaf.pem"),
    "-days",
    "2",
    "-extfile",
    f("ext"),
  ]);
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A one-layer image in an OCI layout, made by hand, for skopeo to push. */
async function tinyImage(dir: string): Promise<void> {
  mkdirSync(join(dir, "rootfs"), { recursive: true });
  writeFileSync(join(dir, "rootfs", "hello.txt"), "certyard\n");
  const tar = await sh("tar", ["-C", join(dir, "rootfs"), "-cf", join(dir, "layer.tar"), "hello.txt"]);
  assert.equal(tar.code, 0, tar.stderr);
  const layerTar = readFileSync(join(dir, "layer.tar"));
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [sha256(layerTar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const layout = join(dir, "oci");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  for (const blob of [layer, config, manifest]) {
    writeFileSync(join(layout, "blobs", "sha256", sha256(blob).slice(7)), blob);
  }
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": "1" },
        },
      ],
    }),
  );
}

describe("trust read by skopeo, podman, ctr and keytool at their default places", {
  concurrency: false,
}, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-readers-"));
  const home = join(work, "home");
  let target: string;
  let registry: ChildProcess;
  let rootPem: string;
  let image: string;
  const placed = () => [
    `/etc/docker/certs.d/${target}`,
    `/etc/containers/certs.d/${target}`,
    `/etc/containerd/certs.d/${target}`,
  ];
  const agent = (args: string[]) => node(AGENT, [...args, "--home", home]);
  const skopeoInspect = () => sh("skopeo", ["inspect", "--raw", `docker://${image}`]);
  const ctrFetch = () =>
    sh("ctr", ["content", "fetch-object", "--hosts-dir", "/etc/containerd/certs.d", image]);
  const podmanPull = () =>
    sh("podman", [
      "--root",
      join(work, "podman-root"),
      "--runroot",
      join(work, "podman-run"),
      "--storage-driver",
      "vfs",
      "pull",
      image,
    ]);
  const alias = () => `certyard-${rootCertificates(rootPem)[0]?.fingerprint.slice(0, 16)}`;

  before(async () => {
    await rootAndLeaf(work, TEST_ADDR);
    rootPem = readFileSync(join(work, "root.pem"), "utf8");
    new AgentHome(home).saveCa({ url: "https://ca.invalid:8443", fingerprint: "unused" }, rootPem);
    const port = await freePort();
    target = `${TEST_ADDR}:${port}`;
    image = `${target}/e2e/tiny:1`;
    for (const d of placed()) assert.equal(existsSync(d), false, `${d} exists before the test`);
    writeFileSync(
      join(work, "registry.yml"),
      [
        "version: 0.1",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${join(work, "registry-data")}`,
        "http:",
        `  addr: ${target}`,
        "  tls:",
        `    certificate: ${join(work, "leaf.pem")}`,
        `    key: ${join(work, "leaf.key")}`,
        "",
      ].join("\n"),
    );
    registry = spawn("docker-registry", ["serve", join(work, "registry.yml")], { stdio: "ignore" });
    await until(
      "the registry to serve TLS",
      async () => (await servedLeaf(target, rootPem)).chainError === null,
    );
    await tinyImage(work);
  });

  after(async () => {
    await agent(["trust", "--registry", target, "--java", "--remove"]);
    for (const d of placed()) rmSync(d, { recursive: true, force: true });
    registry?.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  });

  test("before trust each client refuses the registry's certificate", async () => {
    const copied = await sh("skopeo", ["copy", `oci:${join(work, "oci")}:1`, `docker://${image}`]);
    assert.notEqual(copied.code, 0);
    assert.match(copied.stderr, /x509: certificate signed by unknown authority/);
    const fetched = await ctrFetch();
    assert.notEqual(fetched.code, 0);
    assert.match(fetched.stderr, /x509: certificate signed by unknown authority/);
  });

  test("after trust: skopeo pushes and inspects, podman pulls, ctr fetches through hosts.toml; a second trust changes nothing", async () => {
    const r = await agent(["trust", "--registry", target]);
    assert.equal(r.code, 0, r.stderr);
    const hostsToml = `/etc/containerd/certs.d/${target}/hosts.toml`;
    assert.equal(
      r.stdout,
      [
        `wrote /etc/docker/certs.d/${target}/ca.crt`,
        `wrote /etc/containers/certs.d/${target}/ca.crt`,
        `wrote /etc/containerd/certs.d/${target}/ca.crt`,
        `wrote ${hostsToml}`,
        "",
      ].join("\n"),
    );
    assert.match(
      readFileSync(hostsToml, "utf8"),
      new RegExp(`ca = "/etc/containerd/certs.d/${target}/ca.crt"`),
    );
    const mtime = statSync(hostsToml).mtimeMs;
    const again = await agent(["trust", "--registry", target]);
    assert.match(again.stdout, /^(unchanged .*\n){4}$/);
    assert.equal(statSync(hostsToml).mtimeMs, mtime);

    const copied = await sh("skopeo", ["copy", `oci:${join(work, "oci")}:1`, `docker://${image}`]);
    assert.equal(copied.code, 0, copied.stderr);
    const inspected = await skopeoInspect();
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.equal(JSON.parse(inspected.stdout).schemaVersion, 2);
    const pulled = await podmanPull();
    assert.equal(pulled.code, 0, pulled.stderr);
    const fetched = await ctrFetch();
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(JSON.parse(fetched.stdout).mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.doesNotMatch(fetched.stderr, /failed to decode/, "containerd parsed the hosts.toml");
  });

  test("doctor says what containerd here makes of certs.d", async () => {
    const r = await agent(["doctor", target]);
    assert.match(r.stdout, /^containerd: .*config_path/m, r.stdout + r.stderr);
  });

  test("--java into the default JDK's cacerts, read back by keytool -list -cacerts, and out again", async () => {
    const list = () => sh("keytool", ["-list", "-cacerts", "-storepass", "changeit", "-alias", alias()]);
    assert.notEqual((await list()).code, 0);
    const r = await agent(["trust", "--java"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `imported ${alias()} into the JDK's cacerts\n`);
    const listed = await list();
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /trustedCertEntry/);
    const removed = await agent(["trust", "--java", "--remove"]);
    assert.equal(removed.stdout, `removed ${alias()} from the JDK's cacerts\n`);
    assert.notEqual((await list()).code, 0);
  });

  test("trust --remove: the clients refuse again, and /etc holds nothing of it", async () => {
    const r = await agent(["trust", "--registry", target, "--remove"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("removed ")).length, 4);
    for (const d of placed()) assert.equal(existsSync(d), false, `${d} is gone`);
    const inspected = await skopeoInspect();
    assert.match(inspected.stderr, /x509: certificate signed by unknown authority/);
    const fetched = await ctrFetch();
    assert.match(fetched.stderr, /x509: certificate signed by unknown authority/);
  });
});
