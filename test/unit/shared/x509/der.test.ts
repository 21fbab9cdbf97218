import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  children,
  contentOf,
  DerError,
  decodeOid,
  oid,
  readElement,
  seq,
  smallInteger,
  Tag,
  time,
  tlv,
  unsignedInteger,
} from "../../../../shared/x509/der.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => Buffer.from(h.replace(/\s+/g, ""), "hex");

describe("tlv length encoding", () => {
  const cases: Array<[number, string]> = [
    [0, "00"],
    [1, "01"],
    [127, "7f"],
    [128, "8180"],
    [255, "81ff"],
    [256, "820100"],
    [65535, "82ffff"],
    [65536, "83010000"],
  ];
  for (const [len, header] of cases) {
    test(`${len} content bytes -> length ${header}`, () => {
      const content = Buffer.alloc(len, 0xab);
      const el = tlv(Tag.OCTET_STRING, content);
      assert.equal(el.length, 1 + header.length / 2 + len);
      assert.equal(hex(el.subarray(0, 1 + header.length / 2)), `04${header}`);
      assert.deepEqual(el.subarray(1 + header.length / 2), content);
      const read = readElement(el, 0);
      assert.deepEqual(read, { tag: 0x04, start: 0, contentStart: 1 + header.length / 2, end: el.length });
    });
  }

  test("content is the concatenation of all parts", () => {
    assert.equal(hex(tlv(0x30, bytes("0101ff"), bytes(""), bytes("0500"))), "30050101ff0500");
  });

  test("children reads the elements of a SEQUENCE", () => {
    const buf = seq(smallInteger(5), tlv(Tag.NULL), tlv(Tag.OCTET_STRING, Buffer.alloc(200)));
    const kids = children(buf, readElement(buf, 0));
    assert.deepEqual(
      kids.map((k) => k.tag),
      [Tag.INTEGER, Tag.NULL, Tag.OCTET_STRING],
    );
    const last = kids[2];
    assert.ok(last);
    assert.equal(last.end, buf.length);
    assert.equal(contentOf(buf, last).length, 200);
  });
});

describe("oid", () => {
  const known: Array<[string, string]> = [
    ["1.2.840.113549.1.9.14", "06092a864886f70d01090e"],
    ["2.5.29.17", "0603551d11"],
    ["1.3.6.1.4.1.311.60.2.1.3", "060b2b0601040182373c020103"],
    ["1.2.840.10045.3.1.7", "06082a8648ce3d030107"],
    ["2.5.4.3", "0603550403"],
    // X.690 8.19.5: the first subidentifier 40*2+999 = 1079 needs two base-128 octets
    ["2.999.3", "0603883703"],
  ];
  for (const [dotted, encoded] of known) {
    test(`${dotted} encodes as ${encoded}`, () => {
      assert.equal(hex(oid(dotted)), encoded);
    });
    test(`${dotted} decodes back`, () => {
      const el = oid(dotted);
      assert.equal(decodeOid(contentOf(el, readElement(el, 0))), dotted);
    });
  }

  test("large arcs round-trip", () => {
    for (const dotted of [
      "1.2.4294967295",
      "1.3.6.1.4.1.2147483648.1",
      "0.9.2342.19200300.100.1.1",
      "2.39.1",
    ]) {
      const el = oid(dotted);
      assert.equal(decodeOid(contentOf(el, readElement(el, 0))), dotted);
    }
  });

  test("decodeOid of known content", () => {
    assert.equal(decodeOid(bytes("2a8648ce3d0201")), "1.2.840.10045.2.1");
    assert.equal(decodeOid(bytes("2b0601050507030 1")), "1.3.6.1.5.5.7.3.1");
  });
});

describe("unsignedInteger / smallInteger", () => {
  const cases: Array<[string, string]> = [
    ["01", "020101"],
    ["000001", "020101"],
    ["7f", "02017f"],
    ["80", "02020080"],
    ["0080", "02020080"],
    ["00000080", "02020080"],
    ["0000ff01", "020300ff01"],
    ["00", "020100"],
    ["000000", "020100"],
    ["0100", "02020100"],
  ];
  for (const [input, expected] of cases) {
    test(`${input} -> ${expected}`, () => {
      assert.equal(hex(unsignedInteger(bytes(input))), expected);
    });
  }

  test("a 20-byte serial with the top bit set gets a sign byte", () => {
    const serial = Buffer.alloc(20, 0xff);
    const der = unsignedInteger(serial);
    assert.equal(hex(der.subarray(0, 3)), "021500");
    assert.deepEqual(der.subarray(3), serial);
  });

  test("smallInteger", () => {
    assert.equal(hex(smallInteger(0)), "020100");
    assert.equal(hex(smallInteger(127)), "02017f");
    assert.equal(hex(smallInteger(128)), "02020080");
    assert.equal(hex(smallInteger(256)), "02020100");
    assert.equal(hex(smallInteger(65535)), "020300ffff");
  });
});

describe("time", () => {
  const cases: Array<[string, number, string]> = [
    ["2025-03-04T05:06:07Z", Tag.UTC_TIME, "250304050607Z"],
    ["2000-02-29T23:59:59.999Z", Tag.UTC_TIME, "000229235959Z"],
    ["1950-01-01T00:00:00Z", Tag.UTC_TIME, "500101000000Z"],
    ["2049-12-31T23:59:59Z", Tag.UTC_TIME, "491231235959Z"],
    ["2050-01-01T00:00:00Z", Tag.GENERALIZED_TIME, "20500101000000Z"],
    ["2137-06-15T12:00:00Z", Tag.GENERALIZED_TIME, "21370615120000Z"],
    ["9999-12-31T23:59:59Z", Tag.GENERALIZED_TIME, "99991231235959Z"],
    ["1949-12-31T23:59:59Z", Tag.GENERALIZED_TIME, "19491231235959Z"],
  ];
  for (const [iso, tag, text] of cases) {
    test(`${iso} -> ${tag === Tag.UTC_TIME ? "UTCTime" : "GeneralizedTime"} ${text}`, () => {
      const der = time(new Date(iso));
      assert.equal(der[0], tag);
      assert.equal(der[1], text.length);
      assert.equal(der.subarray(2).toString("latin1"), text);
    });
  }
});

describe("readElement", () => {
  const fails: Array<[string, string, RegExp]> = [
    ["empty", "", /truncated/],
    ["a lone tag", "30", /truncated/],
    ["content shorter than the length", "300501020304", /runs past/],
    ["long-form length cut off", "048201", /truncated DER length/],
    ["non-minimal one-byte long form", "04810500000000 00", /non-minimal/],
    ["non-minimal two-byte long form", "048200ff", /non-minimal/],
    ["indefinite length", "3080", /unsupported/],
    ["five length octets", "04850100000000", /unsupported/],
    ["multi-byte tag", "1f2001 00", /multi-byte/],
  ];
  for (const [why, input, message] of fails) {
    test(`rejects ${why}`, () => {
      assert.throws(
        () => readElement(bytes(input), 0),
        (e: unknown) => {
          assert.ok(e instanceof DerError);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  test("an element running past the given limit is rejected", () => {
    const buf = bytes("3003020101 0400");
    assert.throws(() => readElement(buf, 0, 4), DerError);
    assert.equal(readElement(buf, 0, 5).end, 5);
  });

  test("reads at an offset", () => {
    const buf = bytes("ffff 0402 abcd");
    assert.deepEqual(readElement(buf, 2), { tag: 0x04, start: 2, contentStart: 4, end: 6 });
  });

  test("children rejects a child that overruns its parent", () => {
    // SEQUENCE of 3 bytes whose child claims 5
    const buf = bytes("3003 0405 00 0000000000");
    assert.throws(() => children(buf, readElement(buf, 0)), DerError);
  });
});
