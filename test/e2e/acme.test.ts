import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createEab, startCaProcessWith, startFakeDns } from "./acme-support.js";
import { type CaProcess, freePort, sh } from "./support.js";

/**
 * Real ACME clients against `certyard-ca serve`: lego and certbot (http-01, with EAB) get
 * certificates that verify to our root; a name outside the EAB's policy is refused. DNS names
 * resolve to 127.0.0.1 through pebble-challtestsrv, given to the CA as --acme-dns-resolver.
 */
describe("ACME interop: lego and certbot", () => {
  let dir: string;
  let ca: CaProcess;
  let dns: Awaited<ReturnType<typeof startFakeDns>>;
  let httpPort: number;
  let root: string;
  let chain: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-e2e-acme-"));
    dns = await startFakeDns();
    httpPort = await freePort();
    const data = join(dir, "data");
    ca = await startCaProcessWith(data, [
      "--acme-http-port",
      String(httpPort),
      "--acme-dns-resolver",
      dns.address,
      // the clients answer on loopback, which validation refuses unless allowed
      "--acme-validation-allow",
      "127.0.0.0/8",
    ]);
    root = join(data, "root.crt");
    chain = join(data, "intermediate.crt");
  });
  after(async () => {
    await ca?.stop();
    await dns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const eab = (name: string, ...policy: string[]) => createEab(ca.data, name, ...policy);

  async function verifies(certFile: string): Promise<void> {
    const v = await sh("openssl", ["verify", "-x509_strict", "-CAfile", root, "-untrusted", chain, certFile]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  }

  const lego = (kid: string, hmac: string, domain: string, path: string) =>
    sh(
      "lego",
      [
        ...["--server", `${ca.url}/acme/directory`, "--eab", "--kid", kid, "--hmac", hmac],
        ...["--email", "e@x.test", "--accept-tos", "--domains", domain],
        ...["--http", "--http.port", `:${httpPort}`, "--path", path, "run"],
      ],
      { env: { LEGO_CA_CERTIFICATES: root } },
    );

  test("lego, http-01, a DNS name: the certificate verifies to our root, quickly", async () => {
    const [kid, hmac] = await eab("lego", "--dns", "*.test");
    const path = join(dir, "lego");
    const started = Date.now();
    const r = await lego(kid, hmac, "reg.test", path);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.code, 0, r.stderr);
    await verifies(join(path, "certificates", "reg.test.crt"));
    const text = await sh("openssl", [
      "x509",
      "-in",
      join(path, "certificates", "reg.test.crt"),
      "-noout",
      "-ext",
      "subjectAltName",
    ]);
    assert.match(text.stdout, /DNS:reg\.test/);
    // lego honours Retry-After and we validate before answering: no 5 s waits.
    assert.ok(seconds < 3, `lego took ${seconds}s`);
  });

  test("lego: a name outside the EAB policy is refused with rejectedIdentifier", async () => {
    const [kid, hmac] = await eab("lego-narrow", "--dns", "only.test");
    const r = await lego(kid, hmac, "other.test", join(dir, "lego-narrow"));
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /rejectedIdentifier/);
  });

  const certbot = (kid: string, hmac: string, domain: string, base: string) =>
    sh(
      "certbot",
      [
        ...["certonly", "--standalone", "--http-01-port", String(httpPort)],
        ...["--server", `${ca.url}/acme/directory`, `--eab-kid=${kid}`, `--eab-hmac-key=${hmac}`],
        ...["--agree-tos", "-m", "e@x.test", "-d", domain, "--non-interactive"],
        ...["--config-dir", join(base, "c"), "--work-dir", join(base, "w"), "--logs-dir", join(base, "l")],
      ],
      { env: { REQUESTS_CA_BUNDLE: root } },
    );

  test("certbot certonly --standalone: the certificate verifies to our root", async () => {
    const [kid, hmac] = await eab("certbot", "--dns", "*.test");
    const base = join(dir, "certbot");
    const r = await certbot(kid, hmac, "cb.test", base);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await verifies(join(base, "c", "live", "cb.test", "cert.pem"));
    const full = readFileSync(join(base, "c", "live", "cb.test", "fullchain.pem"), "utf8");
    assert.equal(full.match(/BEGIN CERTIFICATE/g)?.length, 2);
  });

  test("certbot: a name outside the EAB policy is refused", async () => {
    const [kid, hmac] = await eab("certbot-narrow", "--dns", "*.test");
    const base = join(dir, "certbot-narrow");
    const r = await certbot(kid, hmac, "evil.example", base);
    assert.notEqual(r.code, 0);
    const log = readFileSync(join(base, "l", "letsencrypt.log"), "utf8");
    assert.match(log, /urn:ietf:params:acme:error:rejectedIdentifier/);
  });
});
