import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { normalizeSerial } from "../../services/ca/core/types.js";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { encodePem } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr, opensslCrlText, opensslVerify, selfSignedCert } from "../helpers/openssl.js";

describe("renewal over mutual TLS, revocation and the CRL", () => {
  let ca: TestCa;
  let token: string;
  // The CA's clock: real time plus an offset the expiry test moves forward.
  let offset = 0;
  before(async () => {
    ca = await startCa({ clock: () => Date.now() + offset });
    token = await ca.createToken({
      name: "host",
      dns: ["registry.lan"],
      ip: ["10.0.0.5"],
      maxValidity: "90d",
    });
  });
  after(() => ca.close());

  async function enrol(validity?: string) {
    const csr = makeCsr({ subject: "/CN=registry.lan", san: ["DNS:registry.lan", "IP:10.0.0.5"] });
    const res = await ca.request("/v1/sign", {
      body: { csr: csr.csrPem, ...(validity ? { validity } : {}) },
      token,
    });
    assert.equal(res.status, 201, res.body.toString());
    return { issued: res.json<Issued>(), keyPem: csr.keyPem };
  }

  test("the current certificate renews itself with a new key; names and lifetime carry over", async () => {
    const { issued, keyPem } = await enrol("72h");
    const next = makeCsr({ san: ["DNS:registry.lan", "IP:10.0.0.5"] });
    const res = await ca.request("/v1/renew", {
      body: { csr: next.csrPem },
      cert: issued.fullchain,
      key: keyPem,
    });
    assert.equal(res.status, 201, res.body.toString());
    const renewed = res.json<Issued>();
    assert.notEqual(renewed.serial, issued.serial);
    assert.equal(Date.parse(renewed.notAfter) - Date.parse(renewed.notBefore), 72 * 3_600_000);
    const cert = new X509Certificate(renewed.certificate);
    assert.equal(cert.subjectAltName, "DNS:registry.lan, IP Address:10.0.0.5");
    assert.ok(
      cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(next.keyPem)),
      "the CSR's new key",
    );
    assert.ok(opensslVerify(renewed.certificate, renewed.chain, ca.rootPem).ok);
  });

  test("without a CSR the renewal keeps the current key", async () => {
    const { issued, keyPem } = await enrol();
    const res = await ca.request("/v1/renew", { method: "POST", cert: issued.fullchain, key: keyPem });
    assert.equal(res.status, 201, res.body.toString());
    const renewed = new X509Certificate(res.json<Issued>().certificate);
    assert.ok(renewed.publicKey.equals(new X509Certificate(issued.certificate).publicKey));
  });

  test("a renewal CSR asking for other names is refused with 403", async () => {
    const { issued, keyPem } = await enrol();
    const other = makeCsr({ san: ["DNS:other.lan"] });
    const res = await ca.request("/v1/renew", {
      body: { csr: other.csrPem },
      cert: issued.fullchain,
      key: keyPem,
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers["content-type"], "application/problem+json");
  });

  test("no client certificate, or one from another CA, is 401", async () => {
    const none = await ca.request("/v1/renew", { body: {} });
    assert.equal(none.status, 401);
    const other = await startCa();
    try {
      const t = await other.createToken({ name: "x", dns: ["registry.lan"] });
      const csr = makeCsr({ san: ["DNS:registry.lan"] });
      const foreign = (
        await other.request("/v1/sign", { body: { csr: csr.csrPem }, token: t })
      ).json<Issued>();
      const res = await ca.request("/v1/renew", { body: {}, cert: foreign.fullchain, key: csr.keyPem });
      assert.equal(res.status, 401);
      assert.match(res.json<{ detail: string }>().detail, /not issued by this CA/);
    } finally {
      await other.close();
    }
  });

  test("a certificate of another issuer under the serial of one of ours is 401, and ours still renews", async () => {
    const { issued, keyPem } = await enrol();
    const forged = selfSignedCert(
      "/CN=registry.lan",
      ["subjectAltName=DNS:registry.lan,IP:10.0.0.5"],
      issued.serial,
    );
    assert.equal(normalizeSerial(new X509Certificate(forged.certPem).serialNumber), issued.serial);
    const res = await ca.request("/v1/renew", { body: {}, cert: forged.certPem, key: forged.keyPem });
    assert.equal(res.status, 401);
    assert.match(res.json<{ detail: string }>().detail, /not issued by this CA/);
    const own = await ca.request("/v1/renew", { body: {}, cert: issued.fullchain, key: keyPem });
    assert.equal(own.status, 201, own.body.toString());
  });

  test("a revoked certificate cannot renew, and its serial is in the CRL", async () => {
    const { issued, keyPem } = await enrol();
    const before = await ca.request("/crl");
    assert.equal(before.status, 200);
    assert.doesNotMatch(opensslCrlText(before.body), new RegExp(issued.serial, "i"));

    const rev = await ca.request("/v1/revoke", {
      body: { serial: issued.serial, reason: "keyCompromise" },
      token: ca.adminToken,
    });
    assert.equal(rev.status, 200, rev.body.toString());
    const again = await ca.request("/v1/revoke", { body: { serial: issued.serial }, token: ca.adminToken });
    assert.equal(again.status, 409);

    const res = await ca.request("/v1/renew", { body: {}, cert: issued.fullchain, key: keyPem });
    assert.equal(res.status, 401);
    assert.match(res.json<{ detail: string }>().detail, /revoked/);

    const crl = await ca.request("/crl");
    assert.equal(crl.headers["content-type"], "application/pkix-crl");
    const text = opensslCrlText(crl.body);
    assert.match(
      text,
      new RegExp(
        `Serial Number: ${issued.serial.toUpperCase()}\\n\\s+Revocation Date: .+\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`,
      ),
    );
    assert.match(text, /Issuer: CN ?= ?Test Intermediate CA/);
    const number = (t: string) => Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(t)?.[1]);
    assert.ok(number(text) > number(opensslCrlText(before.body)), "a new CRL number after the revocation");
    // Relying parties check the CRL's signature against the intermediate, then the serial.
    const crlPem = encodePem("X509 CRL", crl.body);
    const revoked = opensslVerify(issued.certificate, issued.chain, ca.rootPem, [], crlPem);
    assert.equal(revoked.ok, false);
    assert.match(revoked.output, /certificate revoked/);
    const fresh = await enrol();
    const good = opensslVerify(fresh.issued.certificate, fresh.issued.chain, ca.rootPem, [], crlPem);
    assert.ok(good.ok, good.output);
  });

  test("a certificate revokes itself over mutual TLS, and only itself", async () => {
    const a = await enrol();
    const b = await enrol();
    const other = await ca.request("/v1/revoke", {
      body: { serial: b.issued.serial },
      cert: a.issued.fullchain,
      key: a.keyPem,
    });
    assert.equal(other.status, 403);
    const self = await ca.request("/v1/revoke", {
      body: { serial: a.issued.serial },
      cert: a.issued.fullchain,
      key: a.keyPem,
    });
    assert.equal(self.status, 200, self.body.toString());
    const nobody = await ca.request("/v1/revoke", { body: { serial: b.issued.serial } });
    assert.equal(nobody.status, 401);
  });

  test("an expired certificate cannot renew and is told to enrol again", async () => {
    const { issued, keyPem } = await enrol("24h");
    offset = 25 * 3_600_000;
    try {
      const res = await ca.request("/v1/renew", { body: {}, cert: issued.fullchain, key: keyPem });
      assert.equal(res.status, 401);
      assert.match(res.json<{ detail: string }>().detail, /expired.*enrol again/);
    } finally {
      offset = 0;
    }
  });
});
