import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  canonicalIp,
  dnsPatternMatches,
  formatDnsPattern,
  formatIpRange,
  ipFromBytes,
  ipToBytes,
  parseDnsPattern,
  parseIpRange,
} from "../../../../../services/ca/core/names.js";
import { InputError } from "../../../../../shared/errors.js";

/** 16 octets from eight 16-bit groups. */
function v6(...groups: number[]): Buffer {
  assert.equal(groups.length, 8);
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(g, i * 2);
  return out;
}

describe("DNS patterns", () => {
  test("parse the three kinds, normalised", () => {
    assert.deepEqual(parseDnsPattern("Registry.LAN."), { kind: "exact", name: "registry.lan" });
    assert.deepEqual(parseDnsPattern(" *.Lan "), { kind: "one", suffix: "lan" });
    assert.deepEqual(parseDnsPattern("**.svc.lan"), { kind: "any", suffix: "svc.lan" });
  });

  test("format round-trips parse", () => {
    for (const text of ["registry.lan", "*.lan", "**.svc.lan"]) {
      assert.equal(formatDnsPattern(parseDnsPattern(text)), text);
    }
  });

  for (const bad of ["", "*.", "**.", "*.*.lan", "a..lan", "bad_name.lan", "*", "1.2.3.4"]) {
    test(`rejects pattern ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseDnsPattern(bad), InputError);
    });
  }

  test("an exact pattern matches only its name, ignoring case and a trailing dot", () => {
    const p = parseDnsPattern("registry.lan");
    assert.equal(dnsPatternMatches(p, "registry.lan"), true);
    assert.equal(dnsPatternMatches(p, "REGISTRY.Lan"), true);
    assert.equal(dnsPatternMatches(p, "registry.lan."), true);
    assert.equal(dnsPatternMatches(p, "a.registry.lan"), false);
    assert.equal(dnsPatternMatches(p, "registry.lan.evil"), false);
    assert.equal(dnsPatternMatches(p, "xregistry.lan"), false);
  });

  test("*.lan matches exactly one label under lan", () => {
    const p = parseDnsPattern("*.lan");
    assert.equal(dnsPatternMatches(p, "a.lan"), true);
    assert.equal(dnsPatternMatches(p, "A.LAN"), true);
    assert.equal(dnsPatternMatches(p, "a.lan."), true);
    assert.equal(dnsPatternMatches(p, "lan"), false);
    assert.equal(dnsPatternMatches(p, "a.b.lan"), false);
    assert.equal(dnsPatternMatches(p, "xlan"), false);
    assert.equal(dnsPatternMatches(p, ".lan"), false);
  });

  test("*.lan does not match the literal wildcard name *.lan", () => {
    assert.equal(dnsPatternMatches(parseDnsPattern("*.lan"), "*.lan"), false);
  });

  test("**.lan matches any depth under lan but not lan itself", () => {
    const p = parseDnsPattern("**.lan");
    assert.equal(dnsPatternMatches(p, "a.lan"), true);
    assert.equal(dnsPatternMatches(p, "a.b.lan"), true);
    assert.equal(dnsPatternMatches(p, "x.y.Z.LAN."), true);
    assert.equal(dnsPatternMatches(p, "lan"), false);
    assert.equal(dnsPatternMatches(p, "lan."), false);
    assert.equal(dnsPatternMatches(p, "xlan"), false);
    assert.equal(dnsPatternMatches(p, "a.lan.com"), false);
  });

  test("a pattern written in upper case with a trailing dot matches lower-case names", () => {
    assert.equal(dnsPatternMatches(parseDnsPattern("*.SVC.Lan."), "web.svc.lan"), true);
  });
});

describe("parseIpRange", () => {
  test("a single IPv4 address is a /32", () => {
    assert.deepEqual(parseIpRange("10.0.0.5"), { address: "10.0.0.5", prefix: 32, family: "ipv4" });
  });

  test("IPv4 CIDRs", () => {
    assert.deepEqual(parseIpRange("10.0.0.0/8"), { address: "10.0.0.0", prefix: 8, family: "ipv4" });
    assert.deepEqual(parseIpRange(" 192.168.1.0/24 "), {
      address: "192.168.1.0",
      prefix: 24,
      family: "ipv4",
    });
    assert.equal(parseIpRange("0.0.0.0/0").prefix, 0);
    assert.equal(parseIpRange("10.0.0.1/32").prefix, 32);
  });

  test("a single IPv6 address is a /128, in canonical form", () => {
    assert.deepEqual(parseIpRange("2001:DB8:0:0:0:0:0:1"), {
      address: "2001:db8::1",
      prefix: 128,
      family: "ipv6",
    });
  });

  test("IPv6 CIDRs", () => {
    assert.deepEqual(parseIpRange("fd00::/8"), { address: "fd00::", prefix: 8, family: "ipv6" });
    assert.deepEqual(parseIpRange("::/0"), { address: "::", prefix: 0, family: "ipv6" });
    assert.equal(parseIpRange("2001:db8::/128").prefix, 128);
  });

  test("formatIpRange omits a full-length prefix", () => {
    assert.equal(formatIpRange(parseIpRange("10.0.0.5/32")), "10.0.0.5");
    assert.equal(formatIpRange(parseIpRange("10.0.0.0/8")), "10.0.0.0/8");
    assert.equal(formatIpRange(parseIpRange("fd00:0::/8")), "fd00::/8");
    assert.equal(formatIpRange(parseIpRange("::1/128")), "::1");
  });

  const invalid = [
    "10.0.0.0/33",
    "fd00::/129",
    "garbage",
    "",
    "10.0.0.0/8/1",
    "10.0.0.0/",
    "10.0.0.0/-1",
    "10.0.0.0/8a",
    "10.0.0.0/ 8",
    "256.1.1.1",
    "10.0.0",
    "registry.lan/24",
    "fd00::/x",
  ];
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseIpRange(text), InputError);
    });
  }
});

describe("ipFromBytes / ipToBytes", () => {
  const cases: Array<[string, Buffer]> = [
    ["2001:db8::1", v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ["::1", v6(0, 0, 0, 0, 0, 0, 0, 1)],
    ["::", v6(0, 0, 0, 0, 0, 0, 0, 0)],
    ["1::", v6(1, 0, 0, 0, 0, 0, 0, 0)],
    // the longest zero run is compressed
    ["fe80::1:0:0:1", v6(0xfe80, 0, 0, 0, 1, 0, 0, 1)],
    ["1:0:0:1::1", v6(1, 0, 0, 1, 0, 0, 0, 1)],
    // on a tie the leftmost run is compressed
    ["2001:db8::1:0:0:1", v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)],
    // a single zero group is not compressed
    ["2001:db8:0:1:1:1:1:1", v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)],
    ["1:2:3:4:5:6:7:8", v6(1, 2, 3, 4, 5, 6, 7, 8)],
    // lower case, leading zeros suppressed
    ["abcd:ef:a::", v6(0xabcd, 0x00ef, 0x000a, 0, 0, 0, 0, 0)],
    ["10.0.0.5", Buffer.from([10, 0, 0, 5])],
    ["255.255.255.255", Buffer.from([255, 255, 255, 255])],
    ["0.0.0.0", Buffer.from([0, 0, 0, 0])],
  ];
  for (const [text, bytes] of cases) {
    test(`${text} <-> ${bytes.toString("hex")}`, () => {
      assert.equal(ipFromBytes(bytes), text);
      assert.deepEqual(ipToBytes(text), bytes);
    });
  }

  test("non-canonical IPv6 input parses to the same octets", () => {
    const expected = v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    assert.deepEqual(ipToBytes("2001:0DB8:0000:0000:0000:0000:0000:0001"), expected);
    assert.deepEqual(ipToBytes("2001:db8:0::0:1"), expected);
  });

  test("an IPv4-mapped address keeps its IPv4 octets", () => {
    const bytes = ipToBytes("::ffff:1.2.3.4");
    assert.deepEqual(bytes, Buffer.from("00000000000000000000ffff01020304", "hex"));
    const text = ipFromBytes(bytes);
    assert.deepEqual(ipToBytes(text), bytes);
    assert.equal(canonicalIp(text), text);
  });

  test("a full-form address with a dotted IPv4 tail", () => {
    assert.deepEqual(ipToBytes("1:2:3:4:5:6:10.0.0.1"), v6(1, 2, 3, 4, 5, 6, 0x0a00, 0x0001));
  });

  test("octets round-trip through text for many zero patterns", () => {
    // every pattern of zero / non-zero groups, so that every run layout is exercised
    for (let mask = 0; mask < 256; mask++) {
      const groups = Array.from({ length: 8 }, (_, i) => (mask & (1 << i) ? 0x100 * i + 1 : 0));
      const bytes = v6(...groups);
      const text = ipFromBytes(bytes);
      assert.deepEqual(ipToBytes(text), bytes, `${text} for mask ${mask}`);
      assert.ok(!text.includes(":::"), text);
      assert.ok(text.split("::").length <= 2, text);
    }
  });

  test("only 4 or 16 octets are addresses", () => {
    assert.throws(() => ipFromBytes(Buffer.alloc(5)), InputError);
    assert.throws(() => ipFromBytes(Buffer.alloc(0)), InputError);
    assert.throws(() => ipFromBytes(Buffer.alloc(17)), InputError);
  });

  test("ipToBytes rejects non-addresses", () => {
    assert.throws(() => ipToBytes("registry.lan"), InputError);
    assert.throws(() => ipToBytes("1.2.3"), InputError);
    assert.throws(() => ipToBytes("1::2::3"), InputError);
  });
});

describe("canonicalIp", () => {
  test("canonical forms", () => {
    assert.equal(canonicalIp("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
    assert.equal(canonicalIp("0:0:0:0:0:0:0:1"), "::1");
    assert.equal(canonicalIp("FE80:0:0:0:1:0:0:1"), "fe80::1:0:0:1");
    assert.equal(canonicalIp("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
    assert.equal(canonicalIp("10.0.0.5"), "10.0.0.5");
  });

  test("is idempotent", () => {
    for (const ip of ["2001:db8::1", "::", "::1", "fe80::1:0:0:1", "192.168.0.1", "::ffff:1.2.3.4"]) {
      const once = canonicalIp(ip);
      assert.equal(canonicalIp(once), once);
    }
  });
});
