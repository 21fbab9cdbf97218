import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startCa, type TestCa } from "../helpers/ca.js";
import { runAsync } from "../helpers/run-async.js";
import { dbEnv } from "../helpers/test-db.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const CA_CLI = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));

const agent = (args: string[], stdin = "") => runAsync(AGENT, args, { stdin });

describe("secrets from files or standard input, not argv (where ps shows them)", () => {
  let ca: TestCa;
  let dir: string;
  before(async () => {
    ca = await startCa();
    dir = mkdtempSync(join(tmpdir(), "certyard-secret-files-"));
  });
  after(async () => {
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("bootstrap --join-file - reads the join string from stdin; cert --token-file reads the token", async () => {
    const made = spawnSync(
      process.execPath,
      [
        CA_CLI,
        "token",
        "create",
        "--data",
        ca.dataDir,
        "--name",
        "j",
        "--dns",
        "a.lan",
        "--join",
        "--url",
        ca.url,
      ],
      { encoding: "utf8", env: { ...process.env, ...dbEnv(ca.dataDir) } },
    );
    assert.equal(made.status, 0, made.stderr);
    const home = join(dir, "home");
    const boot = await agent(["bootstrap", "--join-file", "-", "--home", home], made.stdout);
    assert.equal(boot.code, 0, boot.stderr);
    assert.match(boot.stdout, new RegExp(`bootstrapped .*: CA ${ca.url}`));

    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${await ca.createToken({ name: "t", dns: ["a.lan"] })}\n`, { mode: 0o600 });
    const out = join(dir, "out");
    const cert = await agent([
      "cert",
      "--name",
      "a",
      "--token-file",
      tokenFile,
      "--dns",
      "a.lan",
      "--out",
      out,
      "--home",
      home,
    ]);
    assert.equal(cert.code, 0, cert.stderr);
    assert.match(readFileSync(join(out, "domain.crt"), "utf8"), /BEGIN CERTIFICATE/);
  });

  test("both forms, an empty file, a missing file and a second line are one-line errors", async () => {
    const home = join(dir, "home2");
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    const twoLines = join(dir, "two");
    writeFileSync(twoLines, "cyt_a\ncyt_b\n");
    const base = ["cert", "--name", "x", "--dns", "a.lan", "--out", join(dir, "x"), "--home", home];
    for (const [args, said] of [
      [[...base, "--token", "cyt_x", "--token-file", empty], /give --token or --token-file, not both/],
      [[...base, "--token-file", empty], /--token-file: .*empty is empty/],
      [[...base, "--token-file", join(dir, "nope")], /--token-file: cannot read .*nope: ENOENT/],
      [[...base, "--token-file", twoLines], /--token-file: .*two holds more than the token \(one line\)/],
      [["bootstrap", "--join-file", "-", "--home", home], /--join-file: standard input is empty/],
    ] as const) {
      const r = await agent([...args]);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, /^certyard-agent: [^\n]+\n$/, args.join(" "));
      assert.match(r.stderr, said, args.join(" "));
    }
  });
});
