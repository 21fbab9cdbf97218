import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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
    containersCertsDirExists: false,
    systemStore: null,
    files,
    ...extra,
  });
  const req = (r: Partial<TrustRequest> = {}): TrustRequest => ({
    rootPem,
    registries: ["registry.lan:5000"],
    dockerCertsDir: "/d",
    containersCertsDir: "/c",
    hostsFile: "/h",
    ...r,
  });

  test("the root is written in canonical PEM, whatever the spacing it was stored with", () => {
    assert.equal(canonicalRoot(`junk\r\n${rootPem.replace(/\n/g, "\r\n")}`).pem, rootPem);
    assert.match(root.fingerprint, /^[0-9a-f]{64}$/);
    assert.throws(() => canonicalRoot("nothing"), /no certificate/);
  });

  test("one ca.crt per registry under Docker's directory, named as Docker looks it up", () => {
    const plan = planTrust(
      req({ registries: ["registry.lan:5000", "registry.lan:443", "[fd00::1]:5000"] }),
      state(),
    );
    assert.deepEqual(
      plan.changes.map((c) => [c.path, c.changed, c.mode]),
      [
        ["/d/registry.lan:5000/ca.crt", true, 0o644],
        ["/d/registry.lan/ca.crt", true, 0o644],
        ["/d/[fd00::1]:5000/ca.crt", true, 0o644],
      ],
    );
    assert.ok(plan.changes.every((c) => c.content === root.pem));
    assert.equal(plan.updateCommand, null);
  });

  test("podman's directory too, only when it exists", () => {
    const plan = planTrust(req(), state({}, { containersCertsDirExists: true }));
    assert.deepEqual(
      plan.changes.map((c) => c.path),
      ["/d/registry.lan:5000/ca.crt", "/c/registry.lan:5000/ca.crt"],
    );
  });

  test("a file with the same bytes is unchanged", () => {
    const plan = planTrust(req(), state({ "/d/registry.lan:5000/ca.crt": root.pem }));
    assert.equal(plan.changes[0]?.changed, false);
    const stale = planTrust(req(), state({ "/d/registry.lan:5000/ca.crt": `${root.pem}\n` }));
    assert.equal(stale.changes[0]?.changed, true);
  });

  test("--system on Debian: certyard-<16 hex>.crt and update-ca-certificates, only when it changes", () => {
    const debian = { kind: "debian" as const, dir: "/deb", update: ["update-ca-certificates"] };
    const path = `/deb/certyard-${root.fingerprint.slice(0, 16)}.crt`;
    const plan = planTrust(req({ registries: [], system: true }), state({}, { systemStore: debian }));
    assert.deepEqual(plan.changes, [{ path, content: root.pem, changed: true, mode: 0o644, system: true }]);
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
    assert.equal(plan.changes[1]?.path, `/anchors/certyard-${root.fingerprint.slice(0, 16)}.crt`);
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

  test("writes every file, then a second run changes nothing: same bytes, same mtimes, no update command", () => {
    const hostsFile = join(dir, "hosts");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    mkdirSync(join(dir, "containers"));
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
      hostsFile,
    };
    const fp = canonicalRoot(rootPem).fingerprint.slice(0, 16);
    const paths = [
      join(dir, "docker", "registry.lan:5000", "ca.crt"),
      join(dir, "containers", "registry.lan:5000", "ca.crt"),
      join(dir, "docker", "registry.lan", "ca.crt"),
      join(dir, "containers", "registry.lan", "ca.crt"),
      join(stores.debianDir, `certyard-${fp}.crt`),
      hostsFile,
    ];
    const first = trust(request, env);
    assert.deepEqual(first.lines, [...paths.map((p) => `wrote ${p}`), "ran update-ca-certificates"]);
    assert.deepEqual(ran, [["update-ca-certificates"]]);
    for (const p of paths.slice(0, 5)) {
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
    assert.throws(() => applyTrust(failing), /failed: no permission/);
  });
});
