import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseRegistry } from "../../../../services/agent/actions/registry-name.js";
import { trust } from "../../../../services/agent/actions/trust.js";
import {
  builderFile,
  buildkitCaKey,
  editBuilder,
} from "../../../../services/agent/actions/trust-buildkit.js";
import { hostsToml } from "../../../../services/agent/actions/trust-containerd.js";
import { trustEnvironment } from "../../../../services/agent/config.js";
import { selfSignedCert } from "../../../helpers/openssl.js";

/** Python's tomllib (TOML 1.0) as a real TOML reader: what buildkitd and containerd would decode. */
const toml = (text: string): unknown =>
  JSON.parse(
    execFileSync(
      "python3",
      ["-c", "import json,sys,tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))"],
      {
        input: text,
        encoding: "utf8",
      },
    ),
  );

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString();

/** A builder file as `docker buildx create --name ci --driver docker-container --buildkitd-config` stores it. */
function builderJson(files: Record<string, string> | null, driver = "docker-container"): string {
  return JSON.stringify({
    Name: "ci",
    Driver: driver,
    Nodes: [
      {
        Name: "ci0",
        Endpoint: "unix:///var/run/docker.sock",
        Platforms: null,
        DriverOpts: { network: "host" },
        Flags: ["--allow-insecure-entitlement=network.host"],
        Files: files,
      },
    ],
    Dynamic: false,
  });
}

describe("containerd's hosts.toml", () => {
  test("server and [host] ca, as containerd's hosts.go decodes them", () => {
    const r = parseRegistry("10.0.0.5:5000");
    const text = hostsToml(r, "/etc/containerd/certs.d/10.0.0.5:5000/ca.crt");
    assert.deepEqual(toml(text), {
      server: "https://10.0.0.5:5000",
      host: { "https://10.0.0.5:5000": { ca: "/etc/containerd/certs.d/10.0.0.5:5000/ca.crt" } },
    });
    assert.match(text, /^# Written by certyard-agent trust --registry 10\.0\.0\.5:5000;/);
    assert.deepEqual(toml(hostsToml(parseRegistry("[fd00::1]:443"), "/k/ca.crt")), {
      server: "https://[fd00::1]",
      host: { "https://[fd00::1]": { ca: "/k/ca.crt" } },
    });
  });

  test("someone else's hosts.toml is refused in one line naming the file and the line to add; nothing is written", () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-containerd-"));
    try {
      const file = join(dir, "registry.lan:5000", "hosts.toml");
      mkdirSync(join(dir, "registry.lan:5000"));
      const mine =
        'server = "https://registry.lan:5000"\n[host."https://mirror.lan"]\n  capabilities = ["pull"]\n';
      writeFileSync(file, mine);
      const docker = join(dir, "docker");
      assert.throws(
        () =>
          trust({
            rootPem: selfSignedCert("/CN=Refusal Root").certPem,
            registries: ["registry.lan:5000"],
            dockerCertsDir: docker,
            containersCertsDir: join(dir, "containers"),
            containerdCertsDir: dir,
          }),
        (e: Error) =>
          e.message ===
            `refusing to replace ${file}: certyard did not write it; add ca = "${join(dir, "registry.lan:5000", "ca.crt")}" under its [host."https://registry.lan:5000"] yourself (and put the root in ${join(dir, "registry.lan:5000", "ca.crt")}), or move the file away and run trust again` &&
          !e.message.includes("\n"),
      );
      assert.equal(readFileSync(file, "utf8"), mine);
      assert.throws(() => statSync(docker), /ENOENT/, "no other file was written either");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a buildx builder's buildkitd.toml", () => {
  let rootPem: string;
  const file = "/home/u/.docker/buildx/instances/ci";
  const regs = ["10.0.0.5:5000", "registry.lan"].map(parseRegistry);
  before(() => {
    rootPem = selfSignedCert("/CN=Buildkit Root").certPem;
  });

  test("the builder's file is instances/NAME, lower-cased as buildx stores it; a bad name is refused", () => {
    assert.equal(builderFile("/b", "CI-Builder"), "/b/instances/ci-builder");
    for (const bad of ["", "1ci", "../x", "a/b", "ci builder"])
      assert.throws(() => builderFile("/b", bad), /invalid --buildkit/);
  });

  test("adds a [registry] table per registry with the root under /etc/buildkit/certs, keeping the rest", () => {
    const own = 'debug = true\n\n[registry."docker.io"]\n  mirrors = ["10.0.0.5:5000"]\n';
    const text = builderJson({ "buildkitd.toml": b64(own) });
    const edit = editBuilder(text, file, regs, rootPem, false);
    assert.equal(edit.changed, true);
    const node = JSON.parse(edit.content).Nodes[0];
    assert.deepEqual(node.DriverOpts, { network: "host" }, "what certyard does not know is kept");
    assert.deepEqual(node.Flags, ["--allow-insecure-entitlement=network.host"]);
    const config = unb64(node.Files["buildkitd.toml"]);
    assert.ok(config.startsWith(own));
    assert.deepEqual(toml(config), {
      debug: true,
      registry: {
        "docker.io": { mirrors: ["10.0.0.5:5000"] },
        "10.0.0.5:5000": { ca: ["/etc/buildkit/certs/10.0.0.5_5000/certyard-ca.crt"] },
        "registry.lan": { ca: ["/etc/buildkit/certs/registry.lan/certyard-ca.crt"] },
      },
    });
    assert.equal(unb64(node.Files[buildkitCaKey(regs[0] as never).key]), rootPem);
    assert.equal(buildkitCaKey(regs[0] as never).key, "certs/10.0.0.5_5000/certyard-ca.crt");

    const again = editBuilder(edit.content, file, regs, rootPem, false);
    assert.deepEqual(again, { content: edit.content, changed: false }, "a second run changes nothing");

    const removed = editBuilder(edit.content, file, regs, rootPem, true);
    assert.equal(removed.changed, true);
    const back = JSON.parse(removed.content).Nodes[0].Files;
    assert.deepEqual(Object.keys(back), ["buildkitd.toml"]);
    assert.equal(unb64(back["buildkitd.toml"]).trimEnd(), own.trimEnd());
  });

  test("a builder made without a config gets one, and loses it again on --remove", () => {
    const text = builderJson(null);
    const edit = editBuilder(text, file, regs.slice(0, 1), rootPem, false);
    const files = JSON.parse(edit.content).Nodes[0].Files;
    assert.deepEqual(Object.keys(files).sort(), ["buildkitd.toml", "certs/10.0.0.5_5000/certyard-ca.crt"]);
    const removed = editBuilder(edit.content, file, regs.slice(0, 1), rootPem, true);
    assert.equal(JSON.parse(removed.content).Nodes[0].Files, null);
  });

  test("refuses a builder whose config already has the registry, or has no buildkitd.toml to take", () => {
    for (const own of [
      '[registry."10.0.0.5:5000"]\n  http = true\n',
      "[registry.'10.0.0.5:5000']\n  insecure = true\n",
      '[registry]\n  "10.0.0.5:5000" = { http = true }\n',
      'registry."10.0.0.5:5000".http = true\n',
      'registry = { "x" = { http = true } }\n',
    ]) {
      assert.throws(
        () =>
          editBuilder(builderJson({ "buildkitd.toml": b64(own) }), file, regs.slice(0, 1), rootPem, false),
        /^Error: refusing to edit the buildkitd.toml of builder ci \(node ci0 in \/home\/u\/\.docker\/buildx\/instances\/ci\)/,
        own,
      );
    }
    assert.throws(
      () => editBuilder(builderJson(null, "remote"), file, regs, rootPem, false),
      /"remote" driver/,
    );
    assert.throws(() => editBuilder("{", file, regs, rootPem, false), /is not a buildx builder/);
  });

  test("on disk: the builder file keeps its mode 0600; a missing builder is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-buildx-"));
    try {
      mkdirSync(join(dir, "instances"));
      writeFileSync(join(dir, "instances", "ci"), builderJson(null), { mode: 0o600 });
      const request = {
        rootPem,
        registries: ["10.0.0.5:5000"],
        buildkit: "ci",
        buildxDir: dir,
        dockerCertsDir: join(dir, "d"),
        containersCertsDir: join(dir, "c"),
        containerdCertsDir: join(dir, "k"),
      };
      assert.ok(trust(request).lines.includes(`wrote ${join(dir, "instances", "ci")}`));
      assert.equal(statSync(join(dir, "instances", "ci")).mode & 0o777, 0o600);
      assert.ok(trust(request).lines.includes(`unchanged ${join(dir, "instances", "ci")}`));
      assert.throws(
        () => trust({ ...request, buildkit: "other" }),
        new RegExp(
          `--buildkit other: no buildx builder of that name \\(no ${join(dir, "instances", "other")}\\)`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("whose home trust looks in", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "certyard-env-"));
    writeFileSync(
      join(dir, "passwd"),
      "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:,,,:/home/alice:/bin/bash\n",
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("under sudo, the invoking user's; buildx's folder as buildx finds it; the Java keystore override", () => {
    const passwd = join(dir, "passwd");
    assert.deepEqual(trustEnvironment({ HOME: "/root", SUDO_USER: "alice", PATH: "/bin" }, 0, passwd), {
      userHome: "/home/alice",
      buildxDir: "/home/alice/.docker/buildx",
      javaKeystore: null,
      pathEnv: "/bin",
    });
    assert.equal(trustEnvironment({ HOME: "/h", SUDO_USER: "alice" }, 1000, passwd).userHome, "/h");
    assert.equal(
      trustEnvironment({ HOME: "/h", DOCKER_CONFIG: "/dc" }, 1000, passwd).buildxDir,
      "/dc/buildx",
    );
    assert.equal(
      trustEnvironment({ HOME: "/h", BUILDX_CONFIG: "/bx", DOCKER_CONFIG: "/dc" }, 1000, passwd).buildxDir,
      "/bx",
    );
    assert.equal(
      trustEnvironment({ HOME: "/h", CERTYARD_AGENT_JAVA_CACERTS: "/k" }, 1000, passwd).javaKeystore,
      "/k",
    );
  });
});
