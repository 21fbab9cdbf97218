import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { AgentContext } from "../../services/agent/commands/context.js";
import { chainsTo, reportTarget } from "../../services/agent/commands/report.js";
import type { Managed } from "../../services/agent/state.js";
import { AgentHome } from "../../services/agent/state.js";
import { argv } from "../helpers/argv.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { selfSignedCert } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const DAY = 86_400_000;

describe("the agent's reports: daily from run, and only to certyard", () => {
  let ca: TestCa;
  let offset = 0;
  let work: string;
  const home = () => join(work, "home");
  const lastSeen = async () => {
    const res = await ca.request("/v1/hosts", { token: ca.adminToken });
    const rows = res.json<{ name: string; lastSeen: string }[]>();
    return Date.parse(rows.find((r) => r.name === "web")?.lastSeen ?? "");
  };
  before(async () => {
    ca = await startCa({ clock: () => Date.now() + offset });
    work = mkdtempSync(join(tmpdir(), "certyard-report-"));
    const fp = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
    const boot = await runAsync(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fp, "--home", home()]);
    assert.equal(boot.code, 0, boot.stderr);
    const token = await ca.createToken({ name: "web", ip: ["127.0.0.1"] });
    const r = await runAsync(
      AGENT,
      argv(["cert"], { name: "web", token, ip: "127.0.0.1", out: join(work, "out"), home: home() }),
    );
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await ca.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("run reports at start (and then daily), in a child process", async () => {
    const afterCert = await lastSeen();
    assert.ok(Number.isFinite(afterCert), "cert reported");
    // The CA's clock a day on: the daemon's report is the one that moves lastSeen that far.
    offset = DAY;
    const daemon = spawn(process.execPath, [AGENT, "run", "--home", home(), "--log-format", "json"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    const reported = new Promise<void>((resolve, reject) => {
      daemon.stderr.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.includes('"msg":"reported to the CA"')) resolve();
        if (log.includes("reporting to the CA failed")) reject(new Error(log));
      });
      daemon.once("exit", (code) => reject(new Error(`run exited ${code}: ${log}`)));
    });
    try {
      await reported;
    } finally {
      daemon.kill("SIGTERM");
    }
    assert.equal(await new Promise((r) => daemon.once("exit", r)), 0);
    assert.ok(
      (await lastSeen()) >= afterCert + DAY - 60_000,
      "the daemon's report, a day later by the CA's clock",
    );
  });

  test("report --name: one line per certificate; a certificate of another CA is not reported", async () => {
    const r = await runAsync(AGENT, ["report", "--name", "web", "--home", home()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^web: reported to ${ca.url.replace(/[.]/g, "\\.")}\\n$`));
    const other = selfSignedCert("/CN=other.lan");
    const ctx = { home: new AgentHome(home()) } as unknown as AgentContext;
    const acme: Managed = {
      ...(JSON.parse(readFileSync(join(home(), "certs", "web.json"), "utf8")) as Managed),
      issuer: {
        kind: "acme",
        directory: "https://acme.example/acme/directory",
        caCertFile: join(work, "other.pem"),
      },
    };
    // the ACME server's own TLS is another CA's (as pebble's is)
    writeFileSync(join(work, "other.pem"), selfSignedCert("/CN=acme server CA").certPem);
    // chains to neither the pinned root nor the ACME server's CA file: nowhere to report
    assert.equal(reportTarget(ctx, acme, other.certPem), null);
    assert.equal(chainsTo(other.certPem, ca.rootPem), false);
    // ours, from an ACME directory, on a host not bootstrapped: to the CA beside the directory
    const ours = readFileSync(join(work, "out", "domain.crt"), "utf8");
    writeFileSync(join(work, "root.pem"), ca.rootPem);
    const bare = { home: new AgentHome(join(work, "nohome")) } as unknown as AgentContext;
    const target = reportTarget(
      bare,
      { ...acme, issuer: { ...acme.issuer, caCertFile: join(work, "root.pem") } as Managed["issuer"] },
      ours,
    );
    assert.deepEqual(target, { url: "https://acme.example", rootPem: ca.rootPem });
  });
});
