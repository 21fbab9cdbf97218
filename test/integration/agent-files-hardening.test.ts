import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startCa, type TestCa } from "../helpers/ca.js";
import { selfSignedCert } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));

/** Every file under DIR (symlinks not followed) whose content holds NEEDLE. */
function filesHolding(dir: string, needle: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((p) => lstatSync(p).isFile() && readFileSync(p, "utf8").includes(needle));
}

/**
 * The files the agent deploys, backs up and restores are its own: a symlink at a target or at
 * the backup folder is refused (before a certificate is asked for), never read or written
 * through, and --cert-file/--key-file stay inside --out. Against a real CA; the reload that fails
 * (so that the old code rolled back) is a real command.
 */
describe("the agent's files: no symlinks followed, nothing outside --out", () => {
  let ca: TestCa;
  let dir: string;
  let n = 0;
  let tokens = 0;
  before(async () => {
    ca = await startCa();
    dir = mkdtempSync(join(tmpdir(), "certyard-agent-files-"));
  });
  after(async () => {
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const issuedCount = async () =>
    (await ca.request("/v1/certs", { token: ca.adminToken })).json<{ certificates: unknown[] }>().certificates
      .length;

  /** A host enrolled once (`cert --name s` into out/), with a reload that fails once `failFlag` exists. */
  async function enrolled() {
    const base = join(dir, `host-${++n}`);
    const home = join(base, "home");
    const out = join(base, "out");
    const failFlag = join(base, "fail-reloads");
    const certArgs = async (extra: string[] = []) => [
      "cert",
      "--name",
      "s",
      "--token",
      await ca.createToken({ name: `t-${++tokens}`, dns: ["a.lan"] }),
      "--dns",
      "a.lan",
      "--out",
      out,
      "--reload",
      `exec:test ! -e '${failFlag}'`,
      "--home",
      home,
      ...extra,
    ];
    const bootstrap = await runAsync(AGENT, [
      "bootstrap",
      "--ca",
      ca.url,
      "--fingerprint",
      (await ca.request("/v1/root")).json<{ sha256: string }>().sha256,
      "--home",
      home,
    ]);
    assert.equal(bootstrap.code, 0, bootstrap.stderr);
    const first = await runAsync(AGENT, await certArgs());
    assert.equal(first.code, 0, first.stderr);
    return {
      base,
      home,
      out,
      failFlag,
      again: async (extra: string[] = []) => runAsync(AGENT, await certArgs(extra)),
    };
  }

  test("a symlink at --out/domain.key: refused before a certificate is asked for; its target is never copied in as the key", async () => {
    const h = await enrolled();
    const other = selfSignedCert("/CN=another service");
    const otherKey = join(h.base, "another-service.key");
    writeFileSync(otherKey, other.keyPem, { mode: 0o600 });
    rmSync(join(h.out, "domain.key"));
    symlinkSync(otherKey, join(h.out, "domain.key"));
    writeFileSync(h.failFlag, "");
    const before = await issuedCount();

    const r = await h.again();
    assert.deepEqual(
      filesHolding(h.base, other.keyPem),
      [otherKey],
      "the other key is nowhere but where it was",
    );
    assert.ok(lstatSync(join(h.out, "domain.key")).isSymbolicLink(), "the link is left as it was");
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^certyard-agent: \S+\/out\/domain\.key is a symbolic link: the agent reads and replaces only plain files, never through links; remove it or choose another --out$/,
    );
    assert.equal(
      await issuedCount(),
      before,
      "no certificate was issued for a deployment that cannot happen",
    );
  });

  test("a symlink at --out/domain.crt is refused the same way", async () => {
    const h = await enrolled();
    const elsewhere = join(h.base, "elsewhere.crt");
    writeFileSync(elsewhere, "not ours\n");
    rmSync(join(h.out, "domain.crt"));
    symlinkSync(elsewhere, join(h.out, "domain.crt"));
    const r = await h.again();
    assert.equal(readFileSync(elsewhere, "utf8"), "not ours\n");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /out\/domain\.crt is a symbolic link/);
  });

  test("the backup folder replaced by a symlink: refused, no copy of the key lands where it points", async () => {
    const h = await enrolled();
    const key = readFileSync(join(h.out, "domain.key"), "utf8");
    const outside = join(h.base, "outside");
    mkdirSync(outside);
    const backup = join(h.home, "backup", "s");
    rmSync(backup, { recursive: true });
    symlinkSync(outside, backup);
    const r = await h.again();
    assert.deepEqual(readdirSync(outside), [], "nothing written through the link");
    assert.equal(readFileSync(join(h.out, "domain.key"), "utf8"), key, "the key in use is untouched");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /home\/backup\/s is a symbolic link: .* remove it \(the agent makes it again\)$/m);
  });

  test("a failed reload restores the previous plain files, read from where they were", async () => {
    const h = await enrolled();
    const before = {
      cert: readFileSync(join(h.out, "domain.crt"), "utf8"),
      key: readFileSync(join(h.out, "domain.key"), "utf8"),
    };
    writeFileSync(h.failFlag, "");
    const r = await h.again();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /reload failed: .*previous files restored/);
    assert.equal(readFileSync(join(h.out, "domain.crt"), "utf8"), before.cert);
    assert.equal(readFileSync(join(h.out, "domain.key"), "utf8"), before.key);
    assert.equal(readFileSync(join(h.home, "backup", "s", "key.pem"), "utf8"), before.key);
  });

  test("--key-file and --cert-file stay inside --out: .. and absolute paths elsewhere are refused in one line", async () => {
    const h = await enrolled();
    const cases: Array<[string[], RegExp]> = [
      [
        ["--key-file", "../escaped.key"],
        /^certyard-agent: --key-file "\.\.\/escaped\.key" is not inside --out \S+\/out: give a file name in it/,
      ],
      [
        ["--cert-file", join(h.base, "escaped.crt")],
        /^certyard-agent: --cert-file "\S+\/escaped\.crt" is not inside --out/,
      ],
      [
        ["--key-file", "sub/../../escaped.key"],
        /--key-file "sub\/\.\.\/\.\.\/escaped\.key" is not inside --out/,
      ],
      [["--cert-file", "."], /--cert-file "\." is not inside --out/],
      [
        ["--cert-file", "same.pem", "--key-file", "same.pem"],
        /--cert-file and --key-file are both \S+\/out\/same\.pem/,
      ],
    ];
    const before = await issuedCount();
    for (const [extra, said] of cases) {
      const r = await h.again(extra);
      assert.equal(r.code, 1, `${extra.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, said);
    }
    assert.deepEqual(
      readdirSync(h.base).filter((f) => f.startsWith("escaped")),
      [],
      "nothing written outside --out",
    );
    assert.equal(await issuedCount(), before);
    const inside = await h.again([
      "--key-file",
      join(h.out, "keys", "registry.key"),
      "--cert-file",
      "chain.pem",
    ]);
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(await issuedCount(), before + 1);
    assert.ok(existsSync(join(h.out, "keys", "registry.key")));
    assert.ok(existsSync(join(h.out, "chain.pem")));
  });
});
