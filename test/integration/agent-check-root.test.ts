import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { AgentHome } from "../../services/agent/state.js";
import { certificatesFromPem, fingerprint } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));

const agent = (args: string[], env: Record<string, string> = {}) => runAsync(AGENT, args, { env });

describe("check-root and --log-format: each result said once, for people or for machines", () => {
  let ca: TestCa;
  const homes: string[] = [];
  const home = (fp: string, url = ca.url) => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-check-root-"));
    homes.push(dir);
    new AgentHome(dir).saveCa({ url, fingerprint: fp }, ca.rootPem);
    return dir;
  };
  let pinned = "";
  before(async () => {
    ca = await startCa();
    pinned = fingerprint(certificatesFromPem(ca.rootPem)[0] as Uint8Array);
  });
  after(async () => {
    await ca.close();
    for (const d of homes) rmSync(d, { recursive: true, force: true });
  });

  test("the pinned root: exit 0, the result on stdout, nothing on stderr", async () => {
    const r = await agent(["check-root", "--home", home(pinned)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `ok: ${ca.url} serves the pinned root ${pinned}\n`);
    assert.equal(r.stderr, "");
  });

  test("another root with --log-format text: exit 1, one error line a person reads, nothing on stdout", async () => {
    const other = "ab".repeat(32);
    const r = await agent(["check-root", "--home", home(other), "--log-format", "text"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? "",
      new RegExp(
        `^certyard-agent: error: MISMATCH: ${ca.url} serves the root ${pinned}, but ${other} is pinned`,
      ),
    );
    assert.match(lines[0] ?? "", /\(url=https:\/\/127\.0\.0\.1:\d+, pinned=ab/);
  });

  test("not a terminal and no flag: one JSON line (pino) with the same message", async () => {
    const r = await agent(["check-root", "--home", home("cd".repeat(32))]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    const event = JSON.parse(lines[0] ?? "") as { level: number; name: string; msg: string; served: string };
    assert.equal(event.level, 50);
    assert.equal(event.name, "certyard-agent");
    assert.match(event.msg, /^MISMATCH: /);
    assert.equal(event.served, pinned);
  });

  test("the format comes from the environment too, and the flag may stand before the command", async () => {
    const unreachable = home(pinned, "https://127.0.0.1:1");
    const fromEnv = await agent(["check-root", "--home", unreachable], { CERTYARD_AGENT_LOG_FORMAT: "text" });
    assert.equal(fromEnv.code, 1);
    assert.match(
      fromEnv.stderr,
      /^certyard-agent: error: FAILED: cannot fetch the root from the CA: .*ECONNREFUSED/,
    );
    const before = await agent(["--log-format", "text", "check-root", "--home", unreachable]);
    assert.match(before.stderr, /^certyard-agent: error: FAILED: /);
  });

  test("an unknown format is a one-line usage error", async () => {
    const r = await agent(["check-root", "--home", home(pinned), "--log-format", "xml"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^certyard-agent: option '--log-format <format>' argument 'xml' is invalid/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  });
});
