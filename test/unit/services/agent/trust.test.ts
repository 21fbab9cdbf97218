import assert from "node:assert/strict";
import {
  chmodSync,
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
import {
  applyTrust,
  canonicalRoot,
  detectSystemStore,
  inspectTrust,
  parseRegistry,
  planTrust,
  type TrustRequest,
  type TrustState,
  trust,
} from "../../../../services/agent/actions/trust.js";
import { selfSignedCert } from "../../../helpers/openssl.js";

/** A self-signed root made by openssl, as the agent's home would hold it. */
const makeRoot = (): string => selfSignedCert("/CN=Trust Test Root").certPem;

describe("registry names as Docker's certs.d uses them", () => {
  test("HOST:PORT as typed; port 443 and no port give HOST alone; IPv6 keeps its brackets", () => {
    assert.deepEqual(parseRegistry("registry.lan:5000"), {
      host: "registry.lan",
      port: 5000,
      dirName: "registry.lan:5000",
    });
    assert.deepEqual(parseRegistry("registry.lan:443"), {
      host: "registry.lan",
      port: 443,
      dirName: "registry.lan",
    });
    assert.deepEqual(parseRegistry("registry.lan"), {
      host: "registry.lan",
      port: 443,
      dirName: "registry.lan",
    });
    assert.deepEqual(parseRegistry("10.0.0.5:5000"), {
      host: "10.0.0.5",
      port: 5000,
      dirName: "10.0.0.5:5000",
    });
    assert.deepEqual(parseRegistry("[fd00::1]:5000"), {
      host: "fd00::1",
      port: 5000,
      dirName: "[fd00::1]:5000",
    });
    assert.deepEqual(parseRegistry("[fd00::1]:443"), { host: "fd00::1", port: 443, dirName: "[fd00::1]" });
    assert.deepEqual(parseRegistry("localhost:5000").dirName, "localhost:5000");
  });

  test("anything that is not a host name or address is refused (no path tricks)", () => {
    for (const bad of [
      "",
      "fd00::1:5000",
      "../etc:5000",
      "a/b:5000",
      "..",
      "reg.lan:0",
      "reg.lan:65536",
      "reg.lan:",
      "[zz]:5000",
      "[10.0.0.1]:5000",
      "reg..lan:5000",
      "https://reg.lan",
    ]) {
      assert.throws(() => parseRegistry(bad), RangeError, bad);
    }
  });
});

describe("trust plan (pure)", () => {
  let rootPem: string;
  let root: { pem: string; fingerprint: string };
  before(() => {
    rootPem = makeRoot();
    root = canonicalRoot(rootPem);
  });
  const state = (files: Record<string, string | null> = {}, extra: Partial<TrustState> = {}): TrustState => ({
    systemStore: null,
    files,
    ...extra,
  });
  const req = (r: Partial<TrustRequest> = {}): TrustRequest => ({
    rootPem,
    registries: ["registry.lan:5000"],
    dockerCertsDir: "/d",
    containersCertsDir: "/c",
    containerdCertsDir: "/k",
    hostsFile: "/h",
    ...r,
  });

  test("the root is written in canonical PEM, whatever the spacing it was stored with", () => {
    assert.equal(canonicalRoot(`junk\r\n${rootPem.replace(/\n/g, "\r\n")}`).pem, rootPem);
    assert.match(root.fingerprint, /^[0-9a-f]{64}$/);
    assert.throws(() => canonicalRoot("nothing"), /no certificate/);
  });

  test("per registry: Docker's, the containers tools' and containerd's ca.crt, and containerd's hosts.toml", () => {
    const plan = planTrust(
      req({ registries: ["registry.lan:5000", "registry.lan:443", "[fd00::1]:5000"] }),
      state(),
    );
    const per = (d: string) => [
      [`/d/${d}/ca.crt`, true, 0o644],
      [`/c/${d}/ca.crt`, true, 0o644],
      [`/k/${d}/ca.crt`, true, 0o644],
      [`/k/${d}/hosts.toml`, true, 0o644],
    ];
    assert.deepEqual(
      plan.changes.map((c) => [c.path, c.changed, c.mode]),
      [...per("registry.lan:5000"), ...per("registry.lan"), ...per("[fd00::1]:5000")],
    );
    assert.ok(plan.changes.filter((c) => c.path.endsWith("ca.crt")).every((c) => c.content === root.pem));
    assert.equal(plan.updateCommand, null);
    assert.deepEqual(plan.tools, []);
  });

  test("the containers tools' directory is written whether or not it exists yet", () => {
    const plan = planTrust(req(), state());
    assert.ok(plan.changes.some((c) => c.path === "/c/registry.lan:5000/ca.crt" && c.changed));
  });

  test("a file with the same bytes is unchanged", () => {
    const plan = planTrust(req(), state({ "/d/registry.lan:5000/ca.crt": root.pem }));
    assert.equal(plan.changes[0]?.changed, false);
    const stale = planTrust(req(), state({ "/d/registry.lan:5000/ca.crt": `${root.pem}\n` }));
    assert.equal(stale.changes[0]?.changed, true);
  });

  test("--remove: only files holding this root and certyard's hosts.toml go; another certificate stays, with a warning", () => {
    const files = {
      "/d/registry.lan:5000/ca.crt": root.pem,
      "/c/registry.lan:5000/ca.crt": "someone else's\n",
      "/k/registry.lan:5000/hosts.toml": planTrust(req(), state()).changes[3]?.content ?? "",
    };
    const plan = planTrust(req({ remove: true }), state(files));
    assert.deepEqual(
      plan.changes.map((c) => [c.path, c.content, c.changed, c.pruneDir]),
      [
        ["/d/registry.lan:5000/ca.crt", null, true, true],
        ["/k/registry.lan:5000/hosts.toml", null, true, true],
      ],
    );
    assert.deepEqual(plan.warnings, [
      "/c/registry.lan:5000/ca.crt holds another certificate than this agent's root: left as it is",
    ]);
    const foreign = planTrust(
      req({ remove: true }),
      state({ "/k/registry.lan:5000/hosts.toml": "server = 'x'\n" }),
    );
    assert.deepEqual(foreign.changes, [], "a hosts.toml certyard did not write is not removed");
  });

  test("--system on Debian: certyard-<16 hex>.crt and update-ca-certificates, only when it changes", () => {
    const debian = { kind: "debian" as const, dir: "/deb", update: ["update-ca-certificates"] };
    const path = `/deb/certyard-${root.fingerprint.slice(0, 16)}.crt`;
    const plan = planTrust(req({ registries: [], system: true }), state({}, { systemStore: debian }));
    assert.deepEqual(plan.changes, [{ path, content: root.pem, changed: true, mode: 0o644, system: true }]);
    const removal = planTrust(
      req({ registries: [], system: true, remove: true }),
      state({ [path]: root.pem }, { systemStore: debian }),
    );
    assert.deepEqual(
      removal.changes.map((c) => [c.path, c.content]),
      [[path, null]],
    );
    assert.deepEqual(removal.updateCommand, ["update-ca-certificates"], "the store forgets it too");
    assert.deepEqual(plan.updateCommand, ["update-ca-certificates"]);
    const again = planTrust(
      req({ registries: [], system: true }),
      state({ [path]: root.pem }, { systemStore: debian }),
    );
    assert.equal(again.updateCommand, null);
  });

  test("--system on RHEL: the anchors directory and update-ca-trust extract", () => {
    const rhel = { kind: "rhel" as const, dir: "/anchors", update: ["update-ca-trust", "extract"] };
    const plan = planTrust(req({ system: true }), state({}, { systemStore: rhel }));
    assert.equal(plan.changes[4]?.path, `/anchors/certyard-${root.fingerprint.slice(0, 16)}.crt`);
    assert.deepEqual(plan.updateCommand, ["update-ca-trust", "extract"]);
  });

  test("--system without a known store, or nothing to do at all, is an error", () => {
    assert.throws(() => planTrust(req({ system: true }), state()), /no supported trust store/);
    assert.throws(() => planTrust(req({ registries: [] }), state()), /nothing to do/);
  });

  test("--hosts plans the merged hosts file; a name given twice is refused", () => {
    const plan = planTrust(
      req({ registries: [], hosts: ["registry.lan=10.0.0.5"] }),
      state({ "/h": "127.0.0.1 localhost\n" }),
    );
    assert.deepEqual(plan.changes, [
      {
        path: "/h",
        content: "127.0.0.1 localhost\n10.0.0.5 registry.lan # certyard\n",
        changed: true,
        mode: 0o644,
      },
    ]);
    const same = planTrust(
      req({ registries: [], hosts: ["registry.lan=10.0.0.5"] }),
      state({ "/h": plan.changes[0]?.content ?? "" }),
    );
    assert.equal(same.changes[0]?.changed, false);
    const removed = planTrust(
      req({ registries: [], hosts: ["registry.lan=10.0.0.5"], remove: true }),
      state({ "/h": `${plan.changes[0]?.content ?? ""}10.0.0.9 other.lan\n` }),
    );
    assert.equal(removed.changes[0]?.content, "127.0.0.1 localhost\n10.0.0.9 other.lan\n");
    assert.throws(
      () => planTrust(req({ hosts: ["a.lan=10.0.0.1", "A.lan=10.0.0.2"] }), state()),
      /more than once/,
    );
  });
});

describe("trust on disk", () => {
  let dir: string;
  let rootPem: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "certyard-trust-"));
    rootPem = makeRoot();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("which system store: Debian by its directory or its command on PATH, then RHEL, else none", () => {
    const deb = join(dir, "deb");
    const rhel = join(dir, "rhel");
    const bin = join(dir, "bin");
    assert.equal(detectSystemStore({ debianDir: deb, rhelDir: rhel }, ""), null);
    mkdirSync(rhel);
    assert.equal(detectSystemStore({ debianDir: deb, rhelDir: rhel }, "")?.kind, "rhel");
    mkdirSync(bin);
    writeFileSync(join(bin, "update-ca-certificates"), "#!/bin/sh\n");
    chmodSync(join(bin, "update-ca-certificates"), 0o755);
    assert.equal(detectSystemStore({ debianDir: deb, rhelDir: rhel }, `/nonexistent:${bin}`)?.kind, "debian");
    mkdirSync(deb);
    assert.deepEqual(detectSystemStore({ debianDir: deb, rhelDir: rhel }, ""), {
      kind: "debian",
      dir: deb,
      update: ["update-ca-certificates"],
    });
  });

  test("writes every file, then a second run changes nothing; --remove takes it all out again", () => {
    const hostsFile = join(dir, "hosts");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    const stores = { debianDir: join(dir, "store"), rhelDir: join(dir, "none") };
    mkdirSync(stores.debianDir);
    const ran: string[][] = [];
    const env = { stores, pathEnv: "", run: (c: string[]) => void ran.push(c) };
    const request: TrustRequest = {
      rootPem,
      registries: ["registry.lan:5000", "registry.lan:443"],
      system: true,
      hosts: ["registry.lan=10.0.0.5"],
      dockerCertsDir: join(dir, "docker"),
      containersCertsDir: join(dir, "containers"),
      containerdCertsDir: join(dir, "containerd"),
      hostsFile,
    };
    const fp = canonicalRoot(rootPem).fingerprint.slice(0, 16);
    const per = (r: string) => [
      join(dir, "docker", r, "ca.crt"),
      join(dir, "containers", r, "ca.crt"),
      join(dir, "containerd", r, "ca.crt"),
      join(dir, "containerd", r, "hosts.toml"),
    ];
    const systemFile = join(stores.debianDir, `certyard-${fp}.crt`);
    const paths = [...per("registry.lan:5000"), ...per("registry.lan"), systemFile, hostsFile];
    const first = trust(request, env);
    assert.deepEqual(first.lines, [...paths.map((p) => `wrote ${p}`), "ran update-ca-certificates"]);
    assert.deepEqual(ran, [["update-ca-certificates"]]);
    for (const p of paths.filter((p) => p.endsWith(".crt"))) {
      assert.equal(readFileSync(p, "utf8"), rootPem);
      assert.equal(statSync(p).mode & 0o777, 0o644);
    }
    assert.equal(readFileSync(hostsFile, "utf8"), "127.0.0.1 localhost\n10.0.0.5 registry.lan # certyard\n");

    const mtimes = paths.map((p) => statSync(p).mtimeMs);
    const second = trust(request, env);
    assert.deepEqual(
      second.lines,
      paths.map((p) => `unchanged ${p}`),
    );
    assert.deepEqual(ran, [["update-ca-certificates"]], "the update command ran once");
    assert.deepEqual(
      paths.map((p) => statSync(p).mtimeMs),
      mtimes,
    );

    writeFileSync(join(dir, "docker", "registry.lan", "client.cert"), "the operator's\n");
    const removed = trust({ ...request, remove: true }, env);
    assert.deepEqual(removed.lines, [
      ...paths.slice(0, -1).map((p) => `removed ${p}`),
      `wrote ${hostsFile}`,
      "ran update-ca-certificates",
    ]);
    assert.equal(readFileSync(hostsFile, "utf8"), "127.0.0.1 localhost\n");
    assert.deepEqual(readdirSync(join(dir, "containerd")), [], "emptied HOST:PORT folders are removed");
    assert.deepEqual(readdirSync(join(dir, "docker")), ["registry.lan"], "a folder with other files stays");
    assert.deepEqual(trust({ ...request, remove: true }, env).lines, [`unchanged ${hostsFile}`]);
  });

  test("an existing file keeps its mode when rewritten; the plan can be inspected before applying", () => {
    const hostsFile = join(dir, "hosts-600");
    writeFileSync(hostsFile, "", { mode: 0o600 });
    const request: TrustRequest = { rootPem, registries: [], hosts: ["a.lan=10.0.0.1"], hostsFile };
    const plan = planTrust(request, inspectTrust(request));
    assert.deepEqual(
      plan.changes.map((c) => c.changed),
      [true],
    );
    assert.deepEqual(applyTrust(plan), [`wrote ${hostsFile}`]);
    assert.equal(statSync(hostsFile).mode & 0o777, 0o600);
  });

  test("a failing update command is reported with its output", () => {
    const stores = { debianDir: join(dir, "store2"), rhelDir: join(dir, "none") };
    mkdirSync(stores.debianDir);
    const request: TrustRequest = { rootPem, registries: [], system: true };
    const plan = planTrust(request, inspectTrust(request, { stores, pathEnv: "" }));
    assert.deepEqual(plan.updateCommand, ["update-ca-certificates"]);
    const failing = {
      ...plan,
      updateCommand: [process.execPath, "-e", "console.error('no permission'); process.exitCode = 3"],
    };
    assert.throws(() => applyTrust(failing), /failed \(exit 3\): no permission/);
  });
});
