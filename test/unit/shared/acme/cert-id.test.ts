import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import { certIdFrom, certIdOf, parseCertId, serialContent } from "../../../../shared/acme/cert-id.js";
import { opensslText, selfSignedCert } from "../../../helpers/openssl.js";

describe("RFC 9773 4.1 CertID", () => {
  test("the RFC's example: AKI 69:88:5B:..., serial 00:87:65:43:21", () => {
    const aki = Buffer.from("69885b6b87464041e1b37b847ba0ae2cde01c8d4", "hex");
    assert.equal(certIdFrom(aki, "0087654321"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert.equal(certIdFrom(aki, "87654321").split(".")[1], "AIdlQyE");
  });

  test("parseCertId gives back both parts, and null for anything else", () => {
    const aki = Buffer.from("69885b6b87464041e1b37b847ba0ae2cde01c8d4", "hex");
    const parts = parseCertId(certIdFrom(aki, "87654321"));
    assert.equal(parts?.keyId.toString("hex"), aki.toString("hex"));
    assert.equal(parts?.serialHex, "0087654321");
    for (const bad of ["", "abc", "a.b.c", ".AIdlQyE", "aYhba4dGQEHhs3uEe6CuLN4ByNQ."])
      assert.equal(parseCertId(bad), null, bad);
  });

  test("serial content octets are minimal, with a 00 before a set top bit", () => {
    assert.equal(serialContent("0001").toString("hex"), "01");
    assert.equal(serialContent("7f").toString("hex"), "7f");
    assert.equal(serialContent("abc").toString("hex"), "0abc");
    assert.equal(serialContent("80").toString("hex"), "0080");
  });

  test("certIdOf takes the AKI keyIdentifier and the serial that openssl reads in the certificate", () => {
    const { certPem } = selfSignedCert("/CN=certid", ["authorityKeyIdentifier=keyid:always"]);
    const text = opensslText(certPem);
    const akiHex = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/
      .exec(text)?.[1]
      ?.replace(/:/g, "");
    assert.ok(akiHex, text);
    const cert = new X509Certificate(certPem);
    const [aki, serial] = certIdOf(cert.raw).split(".");
    assert.equal(Buffer.from(aki ?? "", "base64url").toString("hex"), akiHex.toLowerCase());
    const serialBytes = Buffer.from(serial ?? "", "base64url");
    assert.equal(BigInt(`0x${serialBytes.toString("hex")}`), BigInt(`0x${cert.serialNumber}`));
    assert.ok((serialBytes[0] ?? 0) < 0x80, "a positive INTEGER's content");
  });

  test("a certificate without an AKI has no CertID", () => {
    const { certPem } = selfSignedCert("/CN=no-aki", ["authorityKeyIdentifier=none"]);
    assert.throws(() => certIdOf(new X509Certificate(certPem).raw), /no authority key identifier/);
  });
});
