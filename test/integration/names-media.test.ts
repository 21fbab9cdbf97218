import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import type { AcmeBed } from "../helpers/acme-bed.js";
import { startAcmeBed } from "../helpers/acme-bed.js";
import { type HttpResult, startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

const PROBLEMS = "https://certyard.dev/problems/";

function assertProblem(res: HttpResult, status: number, kind: string) {
  assert.equal(res.status, status, res.body.toString());
  assert.match(String(res.headers["content-type"]), /^application\/problem\+json/);
  assert.equal(res.json().type, `${PROBLEMS}${kind}`, res.body.toString());
}

/** The SAN entries of an issued leaf, as node lists them ("DNS:a, IP Address:b"). */
const sansOf = (pem: string) => new X509Certificate(pem).subjectAltName?.split(", ") ?? [];

/**
 * Issue 14, "Names": at most 100 names, DNS names lower case and once each in what is issued, an
 * "xn--" label a real A-label; and a body of a media type an endpoint does not take is a 415.
 */
describe("names in what is issued, and media types", () => {
  let ca: TestCa;
  let token: string;
  before(async () => {
    ca = await startCa();
    token = await ca.createToken({ name: "names", dns: ["**.lan"], ip: ["10.0.0.0/24"], uses: 100 });
  });
  after(() => ca.close());

  const sign = (csrPem: string, headers?: Record<string, string>) =>
    ca.request("/v1/sign", { method: "POST", body: { csr: csrPem }, token, headers });

  test("DNS names are issued in lower case, each name once (before: as the CSR spelt them, duplicates too)", async () => {
    const csr = makeCsr({
      subject: "/CN=Registry.LAN",
      san: ["DNS:Registry.LAN", "DNS:registry.lan", "IP:10.0.0.5", "IP:10.0.0.5", "DNS:xn--bcher-kva.lan"],
    });
    const res = await sign(csr.csrPem);
    assert.equal(res.status, 201, res.body.toString());
    const leaf = res.json<Issued>().certificate;
    assert.deepEqual(sansOf(leaf), ["DNS:registry.lan", "IP Address:10.0.0.5", "DNS:xn--bcher-kva.lan"]);
    assert.equal(new X509Certificate(leaf).subject, "CN=registry.lan");
    // renewal issues the same names, with a CSR that spells them otherwise
    const again = makeCsr({ san: ["DNS:REGISTRY.lan", "IP:10.0.0.5", "DNS:XN--BCHER-KVA.lan"] });
    const renewed = await ca.request("/v1/renew", {
      method: "POST",
      body: { csr: again.csrPem },
      cert: res.json<Issued>().fullchain,
      key: csr.keyPem,
    });
    assert.equal(renewed.status, 201, renewed.body.toString());
    assert.deepEqual(sansOf(renewed.json<Issued>().certificate), [
      "DNS:registry.lan",
      "DNS:xn--bcher-kva.lan",
      "IP Address:10.0.0.5",
    ]);
  });

  test("at most 100 names per certificate (before: 3,000 were accepted)", async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `DNS:h${i}.lan`);
    const refused = await sign(makeCsr({ san: names(101) }).csrPem);
    assertProblem(refused, 400, "badCSR");
    assert.match(String(refused.json().detail), /at most 100 names; the CSR asks for 101/);
    const issued = await sign(makeCsr({ san: names(100) }).csrPem);
    assert.equal(issued.status, 201, issued.body.toString());
    assert.equal(sansOf(issued.json<Issued>().certificate).length, 100);
  });

  test("a label starting xn-- must be an IDNA A-label (before: any xn-- label was issued)", async () => {
    const res = await sign(makeCsr({ san: ["DNS:xn--abc.lan"] }).csrPem);
    assertProblem(res, 400, "badName");
    assert.match(String(res.json().detail), /"xn--abc" is not a valid IDNA A-label/);
  });

  test("every JSON endpoint refuses another media type with 415 problem+json (before: read it as JSON)", async () => {
    const held = makeCsr({ san: ["DNS:media.lan"] });
    const issued = await sign(held.csrPem);
    assert.equal(issued.status, 201);
    const body = JSON.stringify({ csr: held.csrPem });
    const cases: [string, Parameters<TestCa["request"]>[1]][] = [
      ["/v1/sign", { raw: body, token, headers: { "content-type": "text/plain" } }],
      ["/v1/sign", { raw: body, token, headers: { "content-type": "application/x-www-form-urlencoded" } }],
      [
        "/v1/renew",
        {
          raw: "{}",
          cert: issued.json<Issued>().fullchain,
          key: held.keyPem,
          headers: { "content-type": "text/plain" },
        },
      ],
      [
        "/v1/revoke",
        {
          raw: JSON.stringify({ serial: issued.json<Issued>().serial }),
          token: ca.adminToken,
          headers: { "content-type": "application/x-www-form-urlencoded" },
        },
      ],
      ["/v1/tokens", { raw: '{"name":"x"}', token: ca.adminToken, headers: { "content-type": "text/json" } }],
    ];
    for (const [path, o] of cases) {
      const res = await ca.request(path, { method: "POST", ...o });
      assertProblem(res, 415, "unsupportedMediaType");
      assert.match(String(res.json().detail), /must be application\/json/, path);
    }
    // nothing happened: the certificate is not revoked and renews, the token "x" does not exist
    const list = await ca.request("/v1/certs", { token: ca.adminToken });
    const rec = list
      .json<{ certificates: { serial: string; revokedAt?: unknown }[] }>()
      .certificates.find((c) => c.serial === issued.json<Issued>().serial);
    assert.ok(rec && !rec.revokedAt, "not revoked");
    // with a charset parameter the type is still application/json
    const ok = await sign(makeCsr({ san: ["DNS:charset.lan"] }).csrPem, {
      "content-type": "application/json; charset=utf-8",
    });
    assert.equal(ok.status, 201, ok.body.toString());
  });
});

describe("names over ACME", () => {
  let bed: AcmeBed;
  before(async () => {
    bed = await startAcmeBed({ eab: { name: "names", dns: ["**.lan"] } });
  });
  after(() => bed.close());

  test("newOrder refuses an xn-- label that is not an A-label, and lowercases and merges the rest", async () => {
    const client = await bed.newClient();
    const bad = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "dns", value: "xn--abc.lan" }],
    });
    assert.equal(bad.status, 403, bad.body.toString());
    assert.equal(bad.json().type, "urn:ietf:params:acme:error:rejectedIdentifier");
    const good = await client.post(client.url("newOrder"), {
      identifiers: [
        { type: "dns", value: "Registry.LAN" },
        { type: "dns", value: "registry.lan" },
        { type: "dns", value: "xn--bcher-kva.lan" },
      ],
    });
    assert.equal(good.status, 201, good.body.toString());
    assert.deepEqual(good.json<{ identifiers: unknown[] }>().identifiers, [
      { type: "dns", value: "registry.lan" },
      { type: "dns", value: "xn--bcher-kva.lan" },
    ]);
  });

  test("newOrder takes at most 100 identifiers, as /v1/sign takes at most 100 names", async () => {
    const client = await bed.newClient();
    const names = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "dns", value: `h${i}.lan` }));
    const tooMany = await client.post(client.url("newOrder"), { identifiers: names(101) });
    assert.equal(tooMany.status, 400, tooMany.body.toString());
    assert.equal(tooMany.json().type, "urn:ietf:params:acme:error:malformed");
    assert.match(tooMany.json<{ detail: string }>().detail, /at most 100 identifiers/);
    const hundred = await client.post(client.url("newOrder"), { identifiers: names(100) });
    assert.equal(hundred.status, 201, hundred.body.toString());
  });
});
