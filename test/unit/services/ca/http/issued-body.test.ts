import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { issuedBody } from "../../../../../services/ca/http/sign.js";
import type { IssuedCertificate } from "../../../../../shared/api.js";

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;

function issued(certificate: string, chain: string, serial = "0a1b2c"): IssuedCertificate {
  return {
    serial,
    notBefore: "2026-12-03T13:00:00.000Z",
    notAfter: "2027-03-03T13:00:00.000Z",
    certificate,
    chain,
    fullchain: certificate + chain,
  };
}

describe("issuedBody: the 201 answer of POST /v1/sign", () => {
  const leaf = pem("CERTIFICATE", "MIIB".repeat(100));
  const intermediate = pem("CERTIFICATE", "MIIC".repeat(120));

  test("is JSON.stringify(issued), byte for byte", () => {
    for (const i of [issued(leaf, intermediate), issued(leaf, intermediate, "ff"), issued(leaf, "")]) {
      assert.deepEqual(issuedBody(i), Buffer.from(JSON.stringify(i)));
      assert.deepEqual(JSON.parse(issuedBody(i).toString("utf8")), i);
    }
  });

  test("follows a new chain (a rotation) and back", () => {
    const cross = pem("CERTIFICATE", "MIID".repeat(90));
    for (const chain of [intermediate, intermediate + cross, intermediate, '"quoted" \\ ünïcode\t']) {
      const i = issued(leaf, chain);
      assert.deepEqual(issuedBody(i), Buffer.from(JSON.stringify(i)));
    }
  });

  test("writes characters JSON escapes and UTF-8 beyond ASCII as JSON.stringify does", () => {
    const i = issued('"certificate"\n\u2028é😀\u0001', 'chain\u00a0"\\"', 's"é');
    assert.deepEqual(issuedBody(i), Buffer.from(JSON.stringify(i)));
  });

  test("a fullchain that is not the certificate and the chain is written as it is", () => {
    const i = { ...issued(leaf, intermediate), fullchain: intermediate + leaf };
    assert.deepEqual(issuedBody(i), Buffer.from(JSON.stringify(i)));
    const shorter = { ...issued(leaf, intermediate), fullchain: leaf };
    assert.deepEqual(issuedBody(shorter), Buffer.from(JSON.stringify(shorter)));
  });
});
