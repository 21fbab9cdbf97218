import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { type CsrKey, makeCsr, opensslText, opensslVerify } from "../helpers/openssl.js";

describe("POST /v1/sign over real HTTPS", () => {
  let ca: TestCa;
  let token: string;
  before(async () => {
    ca = await startCa();
    token = await ca.createToken({
      name: "registry",
      dns: ["registry.lan", "*.lan"],
      ip: ["10.0.0.0/24", "fd00::/64"],
    });
  });
  after(() => ca.close());

  for (const key of ["ec-p256", "ec-p384", "rsa-2048"] as CsrKey[]) {
    test(`a ${key} CSR from openssl gets the whole profile and passes openssl verify -x509_strict`, async () => {
      const csr = makeCsr({
        key,
        subject: "/CN=registry.lan",
        san: ["DNS:registry.lan", "IP:10.0.0.5", "IP:fd00::5"],
      });
      const sentAt = Date.now();
      const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
      assert.equal(res.status, 201, res.body.toString());
      const issued = res.json<Issued>();
      assert.equal(issued.fullchain, issued.certificate + issued.chain);

      const verify = opensslVerify(issued.certificate, issued.chain, ca.rootPem, ["-purpose", "sslserver"]);
      assert.ok(verify.ok, verify.output);

      const text = opensslText(issued.certificate);
      assert.match(
        text,
        /X509v3 Subject Alternative Name: \n\s+DNS:registry\.lan, IP Address:10\.0\.0\.5, IP Address:FD00:0:0:0:0:0:0:5\n/,
      );
      assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
      assert.match(
        text,
        /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/,
      );
      const ku = key.startsWith("rsa") ? "Digital Signature, Key Encipherment" : "Digital Signature";
      assert.match(text, new RegExp(`X509v3 Key Usage: critical\\n\\s+${ku}\\n`));
      assert.match(text, /X509v3 Subject Key Identifier: \n\s+[0-9A-F:]{59}/);
      assert.match(text, /X509v3 Authority Key Identifier: \n\s+[0-9A-F:]{59}/);
      assert.match(text, /X509v3 CRL Distribution Points: \n\s+Full Name:\n\s+URI:https:\/\/.+\/crl/);
      assert.match(text, /Subject: CN ?= ?registry\.lan\n/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);

      const cert = new X509Certificate(issued.certificate);
      const chain = new X509Certificate(issued.chain);
      assert.ok(cert.verify(chain.publicKey));
      assert.equal(cert.serialNumber.toLowerCase().replace(/^00/, ""), issued.serial);
      // the issuance time in ms (6 bytes), then 96 random bits: 18 bytes, a positive INTEGER
      assert.match(issued.serial, /^[0-7][0-9a-f]{35}$/);
      const serialMs = Number.parseInt(issued.serial.slice(0, 12), 16);
      assert.ok(serialMs >= sentAt && serialMs <= Date.now(), `serial's time ${serialMs}`);
      const notBefore = Date.parse(issued.notBefore);
      const notAfter = Date.parse(issued.notAfter);
      assert.ok(
        // five minutes, from the CA's time rounded down to a whole second
        Date.now() - notBefore <= 6 * 60_000 && Date.now() - notBefore >= 5 * 60_000,
        "backdated five minutes, for clock skew",
      );
      assert.equal(notAfter - notBefore, 30 * 86_400_000, "30 days by default");
      assert.equal(new Date(cert.validTo).getTime(), notAfter);
    });
  }

  test("a CN that is not one of the SANs is dropped and the SAN becomes critical", async () => {
    const csr = makeCsr({ subject: "/CN=something-else/O=Acme", san: ["DNS:a.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
    assert.equal(res.status, 201);
    const issued = res.json<Issued>();
    const text = opensslText(issued.certificate);
    assert.match(text, /Subject: ?\n/);
    assert.match(text, /X509v3 Subject Alternative Name: critical\n\s+DNS:a\.lan\n/);
    assert.ok(opensslVerify(issued.certificate, issued.chain, ca.rootPem).ok);
  });

  test("an IP-only certificate carries the IP SAN, which Docker's Go TLS needs", async () => {
    const csr = makeCsr({ san: ["IP:10.0.0.7"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem, validity: "24h" }, token });
    assert.equal(res.status, 201);
    const issued = res.json<Issued>();
    const verify = opensslVerify(issued.certificate, issued.chain, ca.rootPem, ["-verify_ip", "10.0.0.7"]);
    assert.ok(verify.ok, verify.output);
    assert.equal(Date.parse(issued.notAfter) - Date.parse(issued.notBefore), 86_400_000);
  });

  test("every issued certificate is in the inventory with its names and key fingerprint", async () => {
    const csr = makeCsr({ san: ["DNS:inv.lan", "IP:10.0.0.9"] });
    const issued = (await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token })).json<Issued>();
    const res = await ca.request("/v1/certs", { token: ca.adminToken });
    assert.equal(res.status, 200);
    const row = res
      .json<{ certificates: { serial: string; dns: string[]; ips: string[]; keySha256: string }[] }>()
      .certificates.find((c) => c.serial === issued.serial);
    assert.ok(row, "the new serial is listed");
    assert.deepEqual(row.dns, ["inv.lan"]);
    assert.deepEqual(row.ips, ["10.0.0.9"]);
    assert.match(row.keySha256, /^[0-9a-f]{64}$/);
    const soon = await ca.request("/v1/certs?expiring=1d", { token: ca.adminToken });
    assert.equal(
      soon.json<{ certificates: unknown[] }>().certificates.length,
      1,
      "only the 24h certificate expires within a day",
    );
  });

  test("GET /v1/root, /roots.pem, /chain.pem and /healthz", async () => {
    const root = (await ca.request("/v1/root")).json<{ pem: string; sha256: string }>();
    assert.equal(root.pem, ca.rootPem);
    assert.match(root.sha256, /^[0-9a-f]{64}$/);
    assert.equal((await ca.request("/roots.pem")).body.toString(), ca.rootPem);
    const chain = (await ca.request("/chain.pem")).body.toString();
    assert.ok(new X509Certificate(chain).verify(new X509Certificate(ca.rootPem).publicKey));
    assert.deepEqual((await ca.request("/healthz")).json(), { status: "ok" });
  });
});

describe("a CA with P-384 keys", () => {
  test("signs with ecdsa-with-SHA384 and openssl verifies the chain", async () => {
    const ca = await startCa({ keyType: "ec-p384" });
    try {
      const token = await ca.createToken({ name: "t", dns: ["x.lan"] });
      const res = await ca.request("/v1/sign", {
        body: { csr: makeCsr({ san: ["DNS:x.lan"] }).csrPem },
        token,
      });
      assert.equal(res.status, 201);
      const issued = res.json<Issued>();
      assert.match(opensslText(issued.certificate), /Signature Algorithm: ecdsa-with-SHA384/);
      const v = opensslVerify(issued.certificate, issued.chain, ca.rootPem);
      assert.ok(v.ok, v.output);
    } finally {
      await ca.close();
    }
  });
});
