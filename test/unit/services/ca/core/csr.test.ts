import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { describe, test } from "node:test";
import { parseCsr, parseCsrAsync, withCommonNameAsSan } from "../../../../../services/ca/core/csr.js";
import { Problem, type ProblemKind } from "../../../../../shared/problem.js";
import { children, readElement } from "../../../../../shared/x509/der.js";
import { decodePem } from "../../../../../shared/x509/pem.js";
import { type CsrKey, makeCsr } from "../../../../helpers/openssl.js";

function expectProblem(fn: () => unknown, kind: ProblemKind): Problem {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Problem, `expected a ${kind} Problem, got ${String(thrown)}`);
  assert.equal(thrown.kind, kind, thrown.message);
  assert.equal(thrown.status, kind === "rejectedIdentifier" ? 403 : 400);
  return thrown;
}

function csrDer(opts: Parameters<typeof makeCsr>[0]): { der: Buffer; keyPem: string } {
  const { csrPem, keyPem } = makeCsr(opts);
  const blocks = decodePem(csrPem);
  assert.equal(blocks.length, 1);
  const [block] = blocks;
  assert.equal(block?.label, "CERTIFICATE REQUEST");
  return { der: block?.der ?? Buffer.alloc(0), keyPem };
}

/** The [cri, sigAlg, signature] elements of a CertificationRequest. */
function parts(der: Buffer) {
  const [cri, sigAlg, sig] = children(der, readElement(der, 0));
  assert.ok(cri && sigAlg && sig);
  return { cri, sigAlg, sig };
}

describe("parseCsr: accepted keys", () => {
  const accepted: Array<[CsrKey, string]> = [
    ["ec-p256", "ec-p256"],
    ["ec-p384", "ec-p384"],
    ["rsa-2048", "rsa"],
  ];
  for (const [key, kind] of accepted) {
    test(`${key}: names, commonName and key`, () => {
      const { der, keyPem } = csrDer({
        key,
        subject: "/O=Example/CN=registry.lan",
        san: ["DNS:registry.lan", "DNS:mirror.registry.lan", "IP:10.0.0.5", "IP:2001:db8:0:0:0:0:0:1"],
      });
      const csr = parseCsr(der);
      assert.equal(csr.keyKind, kind);
      assert.equal(csr.commonName, "registry.lan");
      assert.deepEqual(csr.dns, ["registry.lan", "mirror.registry.lan"]);
      assert.deepEqual(csr.ips, ["10.0.0.5", "2001:db8::1"]);
      const expectedSpki = createPublicKey(keyPem).export({ type: "spki", format: "der" });
      assert.deepEqual(csr.spki, expectedSpki);
      assert.equal(csr.generalNames[0], 0x30);
      assert.equal(readElement(csr.generalNames, 0).end, csr.generalNames.length);
    });
  }

  test("the EC public key bits are the uncompressed point", () => {
    const csr = parseCsr(csrDer({ key: "ec-p256", san: ["DNS:a.lan"] }).der);
    assert.equal(csr.publicKeyBits.length, 65);
    assert.equal(csr.publicKeyBits[0], 0x04);
  });

  test("a CSR without subjectAltName or CN parses with no names", () => {
    const csr = parseCsr(csrDer({ subject: "/O=Example" }).der);
    assert.equal(csr.commonName, null);
    assert.deepEqual(csr.dns, []);
    assert.deepEqual(csr.ips, []);
    assert.equal(csr.generalNames.length, 0);
  });

  test("the DER may be a view into a larger buffer", () => {
    const { der } = csrDer({ san: ["DNS:a.lan"] });
    const big = Buffer.concat([Buffer.alloc(7, 0xee), der, Buffer.alloc(5, 0xee)]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 7, der.length);
    assert.deepEqual(parseCsr(view).dns, ["a.lan"]);
  });
});

describe("parseCsr: rejected keys", () => {
  for (const key of ["ec-p521", "rsa-1024", "ed25519"] as const) {
    test(`${key} is badPublicKey`, () => {
      const { der } = csrDer({ key, san: ["DNS:registry.lan"] });
      expectProblem(() => parseCsr(der), "badPublicKey");
    });
  }
});

describe("parseCsr: the key's point", () => {
  for (const key of ["ec-p256", "ec-p384"] as const) {
    test(`${key}: a point off the curve is badPublicKey, from parseCsr and parseCsrAsync`, async () => {
      const bad = offCurve(csrDer({ key, san: ["DNS:registry.lan"] }).der);
      expectProblem(() => parseCsr(bad), "badPublicKey");
      await assert.rejects(parseCsrAsync(bad), (e) => e instanceof Problem && e.kind === "badPublicKey");
    });
  }
});

/** The CSR with its EC point's last byte changed: (x, y ^ 1) is not on the curve. */
function offCurve(der: Buffer): Buffer {
  const { cri } = parts(der);
  const spki = children(der, cri)[2];
  assert.ok(spki);
  const bad = Buffer.from(der);
  bad[spki.end - 1] = (bad[spki.end - 1] ?? 0) ^ 0x01;
  return bad;
}

describe("parseCsr: signatures", () => {
  test("a flipped byte in an EC signature is badSignature", () => {
    const { der } = csrDer({ key: "ec-p256", san: ["DNS:registry.lan"] });
    const { sig } = parts(der);
    for (const pos of [sig.end - 1, sig.contentStart + 6, sig.contentStart + 40]) {
      const bad = Buffer.from(der);
      bad[pos] = (bad[pos] ?? 0) ^ 0x01;
      expectProblem(() => parseCsr(bad), "badSignature");
    }
  });

  test("a flipped byte in an RSA signature is badSignature", () => {
    const { der } = csrDer({ key: "rsa-2048", san: ["DNS:registry.lan"] });
    const bad = Buffer.from(der);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0x80;
    expectProblem(() => parseCsr(bad), "badSignature");
  });

  test("a changed name in the signed request is badSignature", () => {
    const { der } = csrDer({ san: ["DNS:registry.lan"] });
    const at = der.indexOf("registry.lan", 0, "latin1");
    assert.ok(at > 0);
    const bad = Buffer.from(der);
    bad.write("registrz", at, "latin1");
    expectProblem(() => parseCsr(bad), "badSignature");
  });

  test("a SHA-1 signature is badSignature", () => {
    const { der } = csrDer({ key: "ec-p256", san: ["DNS:registry.lan"], digest: "sha1" });
    expectProblem(() => parseCsr(der), "badSignature");
  });

  test("an RSA signature over SHA-1 is badSignature", () => {
    const { der } = csrDer({ key: "rsa-2048", san: ["DNS:registry.lan"], digest: "sha1" });
    expectProblem(() => parseCsr(der), "badSignature");
  });
});

describe("parseCsrAsync (the signature verified on the threadpool, for POST /v1/sign)", () => {
  async function asyncProblem(der: Buffer): Promise<ProblemKind | "none"> {
    try {
      await parseCsrAsync(der);
      return "none";
    } catch (e) {
      assert.ok(e instanceof Problem, `expected a Problem, got ${String(e)}`);
      return e.kind;
    }
  }
  const syncProblem = (der: Buffer): ProblemKind | "none" => {
    try {
      parseCsr(der);
      return "none";
    } catch (e) {
      assert.ok(e instanceof Problem, `expected a Problem, got ${String(e)}`);
      return e.kind;
    }
  };

  test("a good request parses to exactly what parseCsr gives, for each key type", async () => {
    for (const key of ["ec-p256", "ec-p384", "rsa-2048"] as const) {
      const { der } = csrDer({ key, subject: "/CN=registry.lan", san: ["DNS:registry.lan", "IP:10.0.0.5"] });
      const a = await parseCsrAsync(der);
      const b = parseCsr(der);
      assert.deepEqual(a, b, key);
    }
  });

  test("a bad request is refused with the same problem as parseCsr", async () => {
    const { der } = csrDer({ key: "ec-p256", san: ["DNS:registry.lan"] });
    const { sig } = parts(der);
    const flipped = Buffer.from(der);
    flipped[sig.end - 1] = (flipped[sig.end - 1] ?? 0) ^ 0x01;
    const renamed = Buffer.from(der);
    renamed.write("registrz", der.indexOf("registry.lan", 0, "latin1"), "latin1");
    const cases = [
      flipped,
      renamed,
      der.subarray(0, der.length - 3),
      Buffer.concat([der, Buffer.from([0x00])]),
      csrDer({ key: "ec-p256", san: ["DNS:registry.lan"], digest: "sha1" }).der,
      csrDer({ san: ["DNS:10.0.0.5"] }).der,
      offCurve(der),
    ];
    for (const [i, bad] of cases.entries()) {
      const kind = syncProblem(bad);
      assert.notEqual(kind, "none", `case ${i} must be refused`);
      assert.equal(await asyncProblem(bad), kind, `case ${i}`);
    }
  });
});

describe("parseCsr: malformed DER", () => {
  const good = () => csrDer({ san: ["DNS:registry.lan"] }).der;

  test("truncated DER is badCSR", () => {
    const der = good();
    for (const len of [0, 1, 2, 10, der.length - 1]) {
      expectProblem(() => parseCsr(der.subarray(0, len)), "badCSR");
    }
  });

  test("trailing garbage is badCSR", () => {
    const der = good();
    expectProblem(() => parseCsr(Buffer.concat([der, Buffer.from([0x00])])), "badCSR");
    expectProblem(() => parseCsr(Buffer.concat([der, Buffer.from([0x05, 0x00])])), "badCSR");
  });

  test("something that is not a SEQUENCE is badCSR", () => {
    expectProblem(() => parseCsr(Buffer.from([0x04, 0x02, 0x01, 0x02])), "badCSR");
    expectProblem(() => parseCsr(Buffer.from("not a csr at all", "latin1")), "badCSR");
  });
});

describe("parseCsr: subjectAltName contents", () => {
  test("an email SAN is badCSR", () => {
    const { der } = csrDer({ san: ["DNS:registry.lan", "email:a@b.c"] });
    expectProblem(() => parseCsr(der), "badCSR");
  });

  test("a URI SAN is badCSR", () => {
    const { der } = csrDer({ san: ["URI:https://registry.lan/"] });
    expectProblem(() => parseCsr(der), "badCSR");
  });

  test("a wildcard DNS SAN is rejectedIdentifier", () => {
    const { der } = csrDer({ san: ["DNS:*.lan"] });
    expectProblem(() => parseCsr(der), "rejectedIdentifier");
  });

  test("an invalid DNS SAN is badName", () => {
    const { der } = csrDer({ san: ["DNS:bad_name.lan"] });
    const p = expectProblem(() => parseCsr(der), "badName");
    assert.match(p.message, /bad_name\.lan/);
  });

  test("an all-numeric DNS SAN is badName", () => {
    const { der } = csrDer({ san: ["DNS:10.0.0.5"] });
    expectProblem(() => parseCsr(der), "badName");
  });
});

describe("parseCsr: ipLiteralDnsNamesAsIps (ACME finalize only)", () => {
  const acme = { ipLiteralDnsNamesAsIps: true };
  const sanEntries = (gn: Buffer) =>
    children(gn, readElement(gn, 0)).map((e) => [e.tag, gn.subarray(e.contentStart, e.end).toString("hex")]);

  test("an IP literal as dNSName becomes an iPAddress, and the SAN is re-encoded without it", () => {
    const { der } = csrDer({ san: ["DNS:10.0.0.5", "DNS:reg.lan"] });
    const csr = parseCsr(der, acme);
    assert.deepEqual(csr.dns, ["reg.lan"]);
    assert.deepEqual(csr.ips, ["10.0.0.5"]);
    // in the CSR's order
    assert.deepEqual(sanEntries(csr.generalNames), [
      [0x87, "0a000005"],
      [0x82, Buffer.from("reg.lan").toString("hex")],
    ]);
  });

  test("an IP given both as dNSName and iPAddress is one iPAddress; IPv6 is canonical", () => {
    const { der } = csrDer({ san: ["DNS:10.0.0.5", "IP:10.0.0.5", "DNS:2001:DB8:0::1"] });
    const csr = parseCsr(der, acme);
    assert.deepEqual(csr.dns, []);
    assert.deepEqual(csr.ips, ["10.0.0.5", "2001:db8::1"]);
    assert.equal(sanEntries(csr.generalNames).length, 2);
  });

  test("without an IP literal the SAN is copied unchanged; a non-IP numeric name is still badName", () => {
    const { der } = csrDer({ san: ["DNS:reg.lan", "IP:10.0.0.5"] });
    assert.deepEqual(parseCsr(der, acme).generalNames, parseCsr(der).generalNames);
    expectProblem(() => parseCsr(csrDer({ san: ["DNS:10.0.5"] }).der, acme), "badName");
  });

  test("DNS names are lower case and every name is there once, in the CSR's order (issue 14)", () => {
    const { der } = csrDer({
      san: ["DNS:Reg.LAN", "IP:10.0.0.5", "DNS:reg.lan", "IP:10.0.0.5", "DNS:B.lan"],
    });
    const csr = parseCsr(der);
    assert.deepEqual(csr.dns, ["reg.lan", "b.lan"]);
    assert.deepEqual(csr.ips, ["10.0.0.5"]);
    assert.deepEqual(sanEntries(csr.generalNames), [
      [0x82, Buffer.from("reg.lan").toString("hex")],
      [0x87, "0a000005"],
      [0x82, Buffer.from("b.lan").toString("hex")],
    ]);
  });

  test("the default (/v1/sign) still refuses an IP literal as dNSName", () => {
    expectProblem(() => parseCsr(csrDer({ san: ["DNS:10.0.0.5"] }).der), "badName");
  });
});

describe("withCommonNameAsSan (ACME finalize, RFC 8555 7.4)", () => {
  const parsed = (opts: Parameters<typeof makeCsr>[0]) => parseCsr(csrDer(opts).der);

  test("a DNS name or IP address in the CN joins the names and the re-encoded subjectAltName", () => {
    const dns = withCommonNameAsSan(parsed({ subject: "/CN=Registry.LAN" }));
    assert.deepEqual([dns.dns, dns.ips], [["registry.lan"], []]);
    assert.equal(dns.generalNames.toString("hex"), `300e820c${Buffer.from("registry.lan").toString("hex")}`);
    const ip = withCommonNameAsSan(parsed({ subject: "/CN=10.0.0.5", san: ["DNS:registry.lan"] }));
    assert.deepEqual([ip.dns, ip.ips], [["registry.lan"], ["10.0.0.5"]]);
  });

  test("a CN already among the SANs, or one that is no name, leaves the request as it is", () => {
    for (const subject of ["/CN=REGISTRY.lan", "/CN=Not A Name", "/O=Acme"]) {
      const csr = parsed({ subject, san: ["DNS:registry.lan"] });
      assert.equal(withCommonNameAsSan(csr), csr, subject);
    }
  });
});
