import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startCa, type TestCa } from "../helpers/ca.js";
import { caCliAsync } from "../helpers/ca-process.js";
import { parseExposition, sampleValue } from "../helpers/prometheus.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const execFileP = promisify(execFile);
const agent = (args: string[]) => execFileP(process.execPath, [AGENT, ...args]);

/** As in agent-daemon.test.ts: a 5m certificate from this CA is due seconds after issue. */
const CLOCK_BEHIND_S = 121;

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** The daemon's JSON log lines, waited on by message. */
function logLines(child: ChildProcess) {
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  let partial = "";
  child.stderr?.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const text of parts) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const w of [...waiters])
        if (line.msg === w.msg) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return {
    lines,
    exited,
    waitFor: (msg: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const seen = lines.find((l) => l.msg === msg);
        if (seen) return resolve(seen);
        waiters.push({ msg, resolve });
        void exited.then((code) =>
          reject(
            new Error(
              `the daemon exited (${code}) before "${msg}":\n${lines.map((l) => JSON.stringify(l)).join("\n")}`,
            ),
          ),
        );
      }),
  };
}

describe("certyard-agent run --metrics-listen", () => {
  let ca: TestCa;
  let dir: string;
  let daemon: ChildProcess | undefined;
  before(async () => {
    ca = await startCa({ clock: () => Date.now() - CLOCK_BEHIND_S * 1000 });
    dir = mkdtempSync(join(tmpdir(), "certyard-agent-metrics-"));
  });
  after(async () => {
    if (daemon && daemon.exitCode === null) daemon.kill("SIGKILL");
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("each managed certificate's expiry and renewal time, and the renewals that failed", async () => {
    const home = join(dir, "home");
    const fingerprint = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
    await agent(["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    const token = await ca.createToken({ name: "m", dns: ["*.lan"] });
    const cert = (name: string, validity: string) =>
      agent([
        "cert",
        "--name",
        name,
        "--token",
        token,
        "--dns",
        `${name}.lan`,
        "--out",
        join(dir, name),
        "--validity",
        validity,
        "--home",
        home,
      ]);
    await cert("steady", "30d");
    await cert("failing", "5m"); // due for renewal within seconds (CLOCK_BEHIND_S)
    // its token revoked, the renewal of "failing" is refused
    const revoked = await caCliAsync(["token", "revoke", "m", "--data", ca.dataDir]);
    assert.equal(revoked.code, 0, revoked.stderr);

    daemon = spawn(process.execPath, [AGENT, "run", "--home", home, "--metrics-listen", "127.0.0.1:0"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log = logLines(daemon);
    const url = String((await log.waitFor("serving metrics")).url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await log.waitFor("renewal to be retried");

    const res = await get(url);
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(res.body);
    const record = (name: string) =>
      JSON.parse(readFileSync(join(home, "certs", `${name}.json`), "utf8")) as {
        notAfter: string;
        renewAt: string;
      };
    for (const name of ["steady", "failing"]) {
      const r = record(name);
      assert.equal(
        sampleValue(samples, "certyard_agent_certificate_expiry_timestamp_seconds", { name }),
        Date.parse(r.notAfter) / 1000,
      );
      assert.equal(
        sampleValue(samples, "certyard_agent_certificate_renewal_timestamp_seconds", { name }),
        Date.parse(r.renewAt) / 1000,
      );
    }
    const failures = (name: string) =>
      sampleValue(samples, "certyard_agent_renewal_failures_total", { name });
    assert.ok((failures("failing") ?? 0) >= 1, res.body);
    assert.equal(failures("steady"), 0);
    assert.ok(
      (sampleValue(samples, "certyard_agent_renewal_failures_in_a_row", { name: "failing" }) ?? 0) >= 1,
    );
    assert.equal(sampleValue(samples, "certyard_agent_renewals_total", { name: "failing" }), 0);
    assert.equal(types.get("certyard_agent_renewal_failures_total"), "counter");
    assert.equal(types.get("certyard_agent_certificate_expiry_timestamp_seconds"), "gauge");

    const other = await get(url.replace("/metrics", "/"));
    assert.equal(other.status, 404);
    assert.match(other.type, /application\/problem\+json/);

    daemon.kill("SIGTERM");
    assert.equal(await log.exited, 0);
    // the listener closed with the daemon
    await assert.rejects(get(url));
  });

  test("a bad --metrics-listen is one line and exit 1, before the daemon starts", async () => {
    const r = await agent(["run", "--home", join(dir, "none"), "--metrics-listen", "localhost"]).then(
      () => assert.fail("accepted"),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--metrics-listen: "localhost" is not HOST:PORT/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
});
