import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startCaProcessWith } from "./acme-support.js";
import { AGENT, CA_CLI, type CaProcess, freePort, node, sh } from "./support.js";

/**
 * The agent against this project's own ACME directory: External Account Binding, an IP
 * identifier validated over http-01, and the CA's renewal info (RFC 9773) setting renewAt.
 */
describe("agent cert --acme against certyard's own /acme/directory", { concurrency: false }, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-acme-own-"));
  const data = join(work, "ca");
  const home = join(work, "home");
  const out = join(work, "certs");
  let ca: CaProcess;
  let url: string;
  let httpPort: number;

  const agent = (args: string[]) => node(AGENT, [...args, "--home", home, "--log-level", "warn"]);

  interface HostRow {
    name: string;
    host: string;
    servedSha256: string | null;
    newestSha256: string | null;
    drift: boolean;
    renewAt: string | null;
    error: string | null;
  }
  /** `hosts list --json` on the CA's data directory. */
  const hosts = async (): Promise<HostRow[]> => {
    const r = await node(CA_CLI, ["hosts", "list", "--json", "--data", data]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as HostRow[];
  };
  /** The SHA-256 of the leaf in the files, as hosts list shows it (lower-case hex, no colons). */
  const leafSha256 = () =>
    new X509Certificate(readFileSync(join(out, "fullchain.pem"))).fingerprint256
      .replace(/:/g, "")
      .toLowerCase();
  /** Issue 18: an ACME-managed host on our CA reports as a bootstrapped one does. */
  const assertReported = async (renewAt: string) => {
    const rows = await hosts();
    assert.equal(rows.length, 1, JSON.stringify(rows));
    const row = rows[0] as HostRow;
    assert.equal(row.name, "own");
    assert.equal(row.host, hostname());
    assert.equal(row.servedSha256, leafSha256());
    assert.equal(row.newestSha256, row.servedSha256);
    assert.equal(row.drift, false);
    assert.equal(row.renewAt, renewAt);
    assert.equal(row.error, null);
  };

  before(async () => {
    httpPort = await freePort();
    ca = await startCaProcessWith(data, [
      "--acme-http-port",
      String(httpPort),
      // the agent answers on loopback, which validation refuses unless allowed
      "--acme-validation-allow",
      "127.0.0.0/8",
    ]);
    url = ca.url;
  });

  after(async () => {
    await ca.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("EAB account, IP identifier over http-01, renewal window from renewal info; renew sends replaces", async () => {
    const eab = await node(CA_CLI, ["eab", "create", "--name", "agent", "--ip", "127.0.0.1", "--data", data]);
    assert.equal(eab.code, 0, eab.stderr);
    const [kid = "", hmac = ""] = eab.stdout.trim().split(/\s+/);
    const root = join(data, "root.crt");
    const args = [
      "--acme",
      `${url}/acme/directory`,
      "--acme-ca-cert",
      root,
      "--eab-kid",
      kid,
      "--eab-hmac-key",
      hmac,
    ];
    const r = await agent([
      "cert",
      "--name",
      "own",
      ...args,
      "--ip",
      "127.0.0.1",
      "--http-01-port",
      String(httpPort),
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const v = await sh("openssl", [
      "verify",
      "-CAfile",
      root,
      "-untrusted",
      join(out, "fullchain.pem"),
      join(out, "fullchain.pem"),
    ]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const rec = JSON.parse(readFileSync(join(home, "certs", "own.json"), "utf8"));
    assert.ok(rec.renewalInfo, "the CA's renewal window was recorded");
    const at = Date.parse(rec.renewAt);
    assert.ok(
      at >= Date.parse(rec.renewalInfo.start) && at <= Date.parse(rec.renewalInfo.end),
      "renewAt inside the window",
    );
    const first = new X509Certificate(readFileSync(join(out, "fullchain.pem"))).serialNumber;
    // the agent reported what it got, over mutual TLS with it, to the CA beside the directory
    await assertReported(rec.renewAt);

    const renewed = await agent(["renew", "--name", "own", "--force"]);
    assert.equal(renewed.code, 0, renewed.stderr + renewed.stdout);
    const second = new X509Certificate(readFileSync(join(out, "fullchain.pem"))).serialNumber;
    assert.notEqual(second, first);

    // RFC 9773 4.2: renew asks for the window again. Not due; then the certificate is revoked,
    // the CA's window for it moves into the past, and the next plain renew replaces it.
    const notDue = await agent(["renew", "--name", "own"]);
    assert.equal(notDue.code, 0, notDue.stderr + notDue.stdout);
    assert.match(notDue.stdout, /own: not due until/);
    const revoked = await node(CA_CLI, ["revoke", second, "--data", data, "--reason", "keyCompromise"]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const moved = await agent(["renew", "--name", "own"]);
    assert.equal(moved.code, 0, moved.stderr + moved.stdout);
    assert.match(moved.stdout, /own: renewed/);
    assert.notEqual(new X509Certificate(readFileSync(join(out, "fullchain.pem"))).serialNumber, second);
    // the renewal's report replaced the host's row: the new certificate, no drift
    await assertReported(JSON.parse(readFileSync(join(home, "certs", "own.json"), "utf8")).renewAt);
  });
});
