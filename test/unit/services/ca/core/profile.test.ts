import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import {
  assembleCertificate,
  buildTbs,
  extension,
  type LeafFields,
  leafTemplate,
} from "../../../../../services/ca/core/profile.js";
import {
  bitString,
  explicit,
  headerSize,
  octets,
  oid,
  putHeader,
  putTime,
  seq,
  set,
  smallInteger,
  Tag,
  time,
  timeSize,
  tlv,
  unsignedInteger,
} from "../../../../../shared/x509/der.js";

/**
 * buildTbs and assembleCertificate write the DER in place; these are the same structures composed
 * with tlv, one buffer per element, as they were built before. Both must give the same bytes.
 */
const KEY_USAGE_EC = extension("2.5.29.15", true, bitString(Buffer.from([0x80]), 7));
const KEY_USAGE_RSA = extension("2.5.29.15", true, bitString(Buffer.from([0xa0]), 5));

function referenceTbs(t: ReturnType<typeof leafTemplate>, f: LeafFields): Buffer {
  const ski = createHash("sha1").update(f.publicKeyBits).digest();
  const subject =
    f.commonName === null
      ? seq()
      : seq(set(seq(oid("2.5.4.3"), tlv(Tag.UTF8_STRING, Buffer.from(f.commonName, "utf8")))));
  return seq(
    explicit(0, smallInteger(2)),
    f.serial,
    t.signatureAlgorithm,
    t.issuer,
    seq(time(f.notBefore), time(f.notAfter)),
    subject,
    f.spki,
    explicit(
      3,
      seq(
        t.fixedExtensions,
        f.rsaKey ? KEY_USAGE_RSA : KEY_USAGE_EC,
        extension("2.5.29.14", false, octets(ski)),
        extension("2.5.29.17", f.commonName === null, f.generalNames),
      ),
    ),
  );
}

const referenceCertificate = (t: ReturnType<typeof leafTemplate>, tbs: Buffer, sig: Buffer) =>
  seq(tbs, t.signatureAlgorithm, bitString(sig));

function spkiOf(kind: "ec" | "rsa2048" | "rsa4096"): { spki: Buffer; bits: Buffer } {
  const { publicKey } =
    kind === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: kind === "rsa2048" ? 2048 : 4096 });
  const spki = publicKey.export({ type: "spki", format: "der" });
  // only hashed for the subjectKeyIdentifier: any bytes of the key do
  return { spki, bits: spki.subarray(spki.length - 65) };
}

const names = (count: number) =>
  seq(...Array.from({ length: count }, (_, i) => tlv(0x82, Buffer.from(`host-${i}.registry.lan`, "latin1"))));

describe("buildTbs and assembleCertificate write the same DER as tlv composes", () => {
  const keys = { ec: spkiOf("ec"), rsa2048: spkiOf("rsa2048"), rsa4096: spkiOf("rsa4096") };
  const issuer = seq(set(seq(oid("2.5.4.3"), tlv(Tag.UTF8_STRING, Buffer.from("certyard intermediate")))));
  const templates = [
    leafTemplate({ subject: issuer, keyIdentifier: randomBytes(20), keyKind: "ec-p256", crlUrl: null }),
    leafTemplate({
      subject: issuer,
      keyIdentifier: randomBytes(20),
      keyKind: "rsa",
      crlUrl: "https://ca.registry.lan:8443/crl/abc",
    }),
  ];
  const commonNames = [null, "registry.lan", "ünïcode.example", "a".repeat(130), "b".repeat(300)];
  const windows: Array<[string, string]> = [
    ["2026-12-03T13:15:33Z", "2027-03-03T13:15:33Z"],
    ["2049-12-31T23:59:59Z", "2050-01-01T00:00:00Z"],
    ["1949-06-01T01:02:03Z", "9999-12-31T23:59:59Z"],
  ];
  test("every combination of key, subject, validity and names", () => {
    let cases = 0;
    for (const t of templates)
      for (const [kind, key] of Object.entries(keys))
        for (const commonName of commonNames)
          for (const [from, to] of windows)
            for (const nameCount of [0, 1, 3, 12, 100]) {
              const f: LeafFields = {
                serial: unsignedInteger(randomBytes(16)),
                notBefore: new Date(from),
                notAfter: new Date(to),
                commonName,
                spki: key.spki,
                publicKeyBits: key.bits,
                rsaKey: kind !== "ec",
                generalNames: nameCount === 0 ? Buffer.alloc(0) : names(nameCount),
              };
              const tbs = buildTbs(t, f);
              const what = JSON.stringify({ kind, commonName, from, nameCount });
              assert.deepEqual(tbs, referenceTbs(t, f), what);
              for (const sig of [randomBytes(70), randomBytes(72), randomBytes(256), randomBytes(512)])
                assert.deepEqual(assembleCertificate(t, tbs, sig), referenceCertificate(t, tbs, sig), what);
              cases++;
            }
    assert.equal(cases, 2 * 3 * 5 * 3 * 5);
  });
});

describe("putHeader and putTime", () => {
  test("putHeader writes tlv's header for every length form", () => {
    for (const len of [0, 1, 127, 128, 255, 256, 65535, 65536, 70000]) {
      const buf = Buffer.alloc(8, 0xee);
      const end = putHeader(buf, 1, Tag.OCTET_STRING, len);
      assert.equal(end - 1, headerSize(len));
      assert.deepEqual(buf.subarray(1, end), tlv(Tag.OCTET_STRING, Buffer.alloc(len)).subarray(0, end - 1));
      assert.equal(buf[0], 0xee);
      assert.equal(buf[end], 0xee);
    }
    assert.equal(headerSize(0xffffff), 5);
    assert.equal(headerSize(0x1000000), 6);
  });

  test("putTime writes time()'s UTCTime and GeneralizedTime", () => {
    for (const iso of [
      "1950-01-01T00:00:00Z",
      "2026-02-09T08:07:06Z",
      "2050-01-01T00:00:00Z",
      "0999-01-01T00:00:00Z",
    ]) {
      const d = new Date(iso);
      const buf = Buffer.alloc(timeSize(d));
      assert.equal(putTime(buf, 0, d), buf.length);
      assert.deepEqual(buf, time(d), iso);
    }
  });
});
