import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
import { caEnv } from "../helpers/ca-process.js";

const BIN = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));

/** serve in a fresh directory, until it has announced itself; stopped after the suite. */
async function serve(dir: string, flags: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, "serve", "--data", join(dir, "data"), "--listen", "127.0.0.1:0", "--workers", "1", ...flags],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...caEnv(["serve", "--data", join(dir, "data")]) },
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("admin token:")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const port = Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
  const url = /^public URL: (\S+)$/m.exec(stdout)?.[1] ?? "";
  /** Stops serve and returns all it wrote on stderr. */
  const stop = async () => {
    const closed = new Promise((resolve) => child.once("close", resolve));
    child.kill("SIGTERM");
    await closed;
    return stderr;
  };
  return { child, port, url, stop };
}

/** The serving certificate's subjectAltName, as node prints it. */
function servedSans(port: number, rootPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca: rootPem, servername: "ca" }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(der).subjectAltName ?? "");
    });
    socket.on("error", reject);
  });
}

describe("serve's public URL", () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-url-"));
    dirs.push(d);
    return d;
  };

  test("without --url it is a guess, and serve says so on stderr with how to set it", async () => {
    const s = await serve(tmp(), []);
    children.push(s.child);
    assert.match(s.url, /^https:\/\/[^/]+:\d+$/);
    assert.match(
      await s.stop(),
      new RegExp(
        `certyard-ca: warning: the public URL ${s.url.replace(/[.[\]]/g, "\\$&")} is a guess; .* --url https://HOST:PORT \\(or CERTYARD_URL\\)`,
      ),
    );
  });

  test("with --url there is no warning, and the serving certificate carries the URL's host", async () => {
    const dir = tmp();
    const s = await serve(dir, ["--url", "https://ca.example.lan:8443", "--tls-dns", "ca"]);
    children.push(s.child);
    assert.equal(s.url, "https://ca.example.lan:8443");
    const sans = await servedSans(s.port, readFileSync(join(dir, "data", "root.crt"), "utf8"));
    assert.match(sans, /DNS:ca\b/);
    assert.match(sans, /DNS:ca\.example\.lan/);
    assert.doesNotMatch(await s.stop(), /is a guess/);
  });
});
