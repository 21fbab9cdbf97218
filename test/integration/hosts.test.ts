import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { IssuedCertificate } from "../../shared/api.js";
import { certificatesFromPem, fingerprint } from "../../shared/x509/pem.js";
import { argv } from "../helpers/argv.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { caCliAsync } from "../helpers/ca-process.js";
import { makeCsr, selfSignedCert } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const FILE_SERVER = fileURLToPath(new URL("../helpers/tls-file-server.js", import.meta.url));

interface HostRow {
  name: string;
  host: string;
  lastSeen: string;
  servedSha256: string | null;
  newestSha256: string | null;
  drift: boolean;
  renewAt: string | null;
  error: string | null;
}

const leafSha = (pem: string) => fingerprint(certificatesFromPem(pem)[0] ?? Buffer.alloc(0));

/** A TLS server serving the files; SIGHUP makes it read them again, as a registry restart. */
async function fileServer(certFile: string, keyFile: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [FILE_SERVER, certFile, keyFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("exit", (code) => reject(new Error(`file server exited ${code}`)));
  });
  return { port, child };
}

describe("host reports: the agent tells the CA what it serves (real CA, real agent CLI, mutual TLS)", () => {
  let ca: TestCa;
  let offset = 0;
  let work: string;
  let server: { port: number; child: ChildProcess };
  const home = () => join(work, "home");
  const out = () => join(work, "certs");
  const served = () => join(work, "served");
  const agent = (args: string[]) => runAsync(AGENT, [...args, "--home", home(), "--log-level", "warn"]);
  const hosts = async () => {
    const res = await ca.request("/v1/hosts", { token: ca.adminToken });
    assert.equal(res.status, 200, res.body.toString());
    return res.json<HostRow[]>();
  };
  /** What the registry serves goes back to what the agent wrote, and it restarts. */
  const reload = () =>
    `exec:cp ${out()}/domain.crt ${out()}/domain.key ${served()}/ && kill -HUP ${server.child.pid}`;

  before(async () => {
    ca = await startCa({ clock: () => Date.now() + offset });
    work = mkdtempSync(join(tmpdir(), "certyard-hosts-"));
    mkdirSync(served());
    const old = selfSignedCert("/CN=old");
    writeFileSync(join(served(), "domain.crt"), old.certPem);
    writeFileSync(join(served(), "domain.key"), old.keyPem, { mode: 0o600 });
    copyFileSync(join(served(), "domain.crt"), join(work, "placeholder.crt"));
    copyFileSync(join(served(), "domain.key"), join(work, "placeholder.key"));
    server = await fileServer(join(served(), "domain.crt"), join(served(), "domain.key"));
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await ca.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("cert reports the fingerprint its --verify target serves; GET /v1/hosts and hosts list --json agree", async () => {
    const fp = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
    const token = await ca.createToken({ name: "hosts", ip: ["127.0.0.1"] });
    const boot = await runAsync(AGENT, ["bootstrap", "--ca", ca.url, "--fingerprint", fp, "--home", home()]);
    assert.equal(boot.code, 0, boot.stderr);
    const r = await agent(
      argv(["cert"], {
        name: "registry",
        token,
        ip: "127.0.0.1",
        out: out(),
        reload: reload(),
        verify: `127.0.0.1:${server.port}`,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    const certPem = readFileSync(join(out(), "domain.crt"), "utf8");
    const record = JSON.parse(readFileSync(join(home(), "certs", "registry.json"), "utf8")) as {
      renewAt: string;
    };
    const rows = await hosts();
    assert.equal(rows.length, 1);
    const row = rows[0] as HostRow;
    assert.deepEqual(
      { ...row, lastSeen: undefined },
      {
        name: "registry",
        host: hostname(),
        lastSeen: undefined,
        servedSha256: leafSha(certPem),
        newestSha256: leafSha(certPem),
        drift: false,
        renewAt: record.renewAt,
        error: null,
      },
    );
    assert.ok(Math.abs(Date.parse(row.lastSeen) - (Date.now() + offset)) < 60_000, row.lastSeen);
    const cli = await caCliAsync(["hosts", "list", "--json", "--data", ca.dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), rows);
    const table = await caCliAsync(["hosts", "list", "--data", ca.dataDir]);
    assert.match(
      table.stdout,
      new RegExp(`^registry\\t${hostname()}\\t\\S+\\tok\\t${record.renewAt}\\t$`, "m"),
    );
  });

  test("a host that serves another certificate drifts (renew reports every run, due or not); renewing ends it", async () => {
    copyFileSync(join(work, "placeholder.crt"), join(served(), "domain.crt"));
    copyFileSync(join(work, "placeholder.key"), join(served(), "domain.key"));
    server.child.kill("SIGHUP");
    const notDue = await agent(["renew"]);
    assert.equal(notDue.code, 0, notDue.stderr);
    assert.match(notDue.stdout, /registry: not due until/);
    let row = (await hosts())[0] as HostRow;
    assert.equal(row.servedSha256, leafSha(readFileSync(join(work, "placeholder.crt"), "utf8")));
    assert.equal(row.drift, true);
    const cli = await caCliAsync(["hosts", "list", "--data", ca.dataDir]);
    assert.match(cli.stdout, /^registry\t\S+\t\S+\tDRIFT\t/m);

    const renewed = await agent(["renew", "--force"]);
    assert.equal(renewed.code, 0, renewed.stderr);
    const now = leafSha(readFileSync(join(out(), "domain.crt"), "utf8"));
    row = (await hosts())[0] as HostRow;
    assert.deepEqual([row.servedSha256, row.newestSha256, row.drift], [now, now, false]);
  });

  test("a renewal that fails is reported with its error, and the newest certificate is the one renewed elsewhere", async () => {
    // The certificate in the files is renewed behind the agent's back: the agent's own renewal
    // is then refused (its certificate has a successor), and the host serves an older one.
    const cert = readFileSync(join(out(), "domain.crt"), "utf8");
    const key = readFileSync(join(out(), "domain.key"), "utf8");
    const elsewhere = await ca.request("/v1/renew", { method: "POST", cert, key });
    assert.equal(elsewhere.status, 201, elsewhere.body.toString());
    const r = await agent(["renew", "--force"]);
    assert.equal(r.code, 1);
    const row = (await hosts())[0] as HostRow;
    assert.match(row.error ?? "", /renewed already/);
    assert.equal(row.servedSha256, leafSha(cert));
    assert.equal(row.newestSha256, leafSha(elsewhere.json<IssuedCertificate>().certificate));
    assert.equal(row.drift, true);
  });

  test("a report the CA refuses is a warning: cert still succeeds", async () => {
    // Another host's certificate, for other names, under the same managed name and host name:
    // the row of registry@host belongs to certificates for 127.0.0.1.
    const token = await ca.createToken({ name: "other", ip: ["127.0.0.2"] });
    const r = await agent(
      argv(["cert"], { name: "registry", token, ip: "127.0.0.2", out: join(work, "other") }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /could not report to the CA/);
    assert.match(r.stderr, /reported by certificates for 127\.0\.0\.1/);
  });

  describe("POST /v1/hosts/report refuses", () => {
    let issued: IssuedCertificate;
    let keyPem: string;
    before(async () => {
      const token = await ca.createToken({ name: "api", dns: ["api.lan"] });
      const csr = makeCsr({ san: ["DNS:api.lan"] });
      const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem, validity: "48h" }, token });
      assert.equal(res.status, 201);
      issued = res.json<IssuedCertificate>();
      keyPem = csr.keyPem;
    });
    const report = (body: unknown, client?: { cert: string; key: string }) =>
      ca.request("/v1/hosts/report", { body, ...client });
    const problem = (
      res: { status: number; headers: Record<string, unknown>; body: Buffer },
      status: number,
      detail: RegExp,
    ) => {
      assert.equal(res.status, status, res.body.toString());
      assert.match(String(res.headers["content-type"]), /^application\/problem\+json/);
      assert.match(JSON.parse(res.body.toString()).detail, detail);
    };

    test("without a client certificate, or with one it did not issue", async () => {
      problem(await report({ name: "api", host: "h1" }), 401, /present the current certificate/);
      const foreign = selfSignedCert("/CN=api.lan");
      problem(
        await report({ name: "api", host: "h1" }, { cert: foreign.certPem, key: foreign.keyPem }),
        401,
        /not issued by this CA/,
      );
    });

    test("a body outside the contract", async () => {
      const client = { cert: issued.fullchain, key: keyPem };
      problem(await report({ name: "api", host: "h1", servedSha256: "abc" }, client), 400, /servedSha256/);
      problem(await report({ name: "api", host: "h1", extra: 1 }, client), 400, /extra/);
      problem(await report({ name: "../x", host: "h1" }, client), 400, /name/);
      problem(await report({ name: "api", host: "h1", renewAt: "tomorrow" }, client), 400, /renewAt/);
      const none = await hosts();
      assert.equal(
        none.some((h) => h.name === "api"),
        false,
        "nothing recorded",
      );
    });

    test("an expired certificate still reports; a revoked one does not; GET /v1/hosts wants the admin token", async () => {
      const client = { cert: issued.fullchain, key: keyPem };
      offset = 3 * 86_400_000;
      try {
        const res = await report({ name: "api", host: "h1", servedSha256: "AB".repeat(32) }, client);
        assert.equal(res.status, 204, res.body.toString());
      } finally {
        offset = 0;
      }
      const row = (await hosts()).find((h) => h.name === "api");
      assert.equal(row?.servedSha256, "ab".repeat(32));
      assert.equal(row?.drift, true);
      const revoked = await ca.request("/v1/revoke", {
        body: { serial: issued.serial },
        token: ca.adminToken,
      });
      assert.equal(revoked.status, 200);
      problem(await report({ name: "api", host: "h1" }, client), 401, /revoked/);
      problem(await ca.request("/v1/hosts"), 401, /admin token/);
    });
  });
});
