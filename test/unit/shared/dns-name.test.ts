import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dnsNameProblem } from "../../../shared/dns-name.js";

describe("dnsNameProblem", () => {
  const label63 = "a".repeat(63);
  const valid = [
    "registry",
    "registry.lan",
    "Registry.LAN",
    "a-b.example.com",
    "1registry.lan",
    "x1.y2",
    `${label63}.lan`,
    // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters
    `${label63}.${label63}.${label63}.${"d".repeat(61)}`,
    // IDNA A-labels (RFC 5890 2.3.2.1): bücher, münchen, 公司
    "xn--bcher-kva.lan",
    "registry.xn--mnchen-3ya.de",
    "XN--55QX5D.lan",
  ];
  for (const name of valid) {
    test(`accepts ${name.length > 40 ? `${name.slice(0, 20)}... (${name.length} chars)` : name}`, () => {
      assert.equal(dnsNameProblem(name), null);
    });
  }

  const invalid: Array<[string, string]> = [
    ["", "empty"],
    [`${"a".repeat(64)}.lan`, "64-character label"],
    [`${label63}.${label63}.${label63}.${"d".repeat(62)}`, "254 characters"],
    ["-registry.lan", "leading hyphen"],
    ["registry-.lan", "trailing hyphen"],
    ["reg_istry.lan", "underscore"],
    ["a..b", "empty label"],
    [".lan", "empty first label"],
    ["registry.lan.", "trailing dot"],
    ["*.lan", "wildcard"],
    ["a.*.lan", "inner wildcard"],
    ["1.2.3.4", "all-numeric TLD"],
    ["registry.123", "all-numeric TLD"],
    ["reg istry.lan", "space"],
    ["régistry.lan", "non-ASCII"],
    // "xn--" claims an A-label: these do not decode, or do not encode back to themselves
    ["xn--abc.lan", "xn-- label that is not punycode"],
    ["registry.xn--.lan", "bare xn--"],
    ["xn--bcher-kva-.lan", "xn-- label with a trailing hyphen"],
    ["xn--zz-zz.lan", "xn-- label that does not decode"],
  ];
  for (const [name, why] of invalid) {
    test(`rejects ${why}: ${name.length > 40 ? `${name.slice(0, 20)}...` : JSON.stringify(name)}`, () => {
      const problem = dnsNameProblem(name);
      assert.equal(typeof problem, "string");
      assert.ok((problem ?? "").length > 0);
    });
  }

  test("the wildcard and IP-like problems say so", () => {
    assert.match(dnsNameProblem("*.lan") ?? "", /wildcard/);
    assert.match(dnsNameProblem("1.2.3.4") ?? "", /IP address/);
    assert.match(dnsNameProblem("xn--abc.lan") ?? "", /"xn--abc" is not a valid IDNA A-label/);
  });
});
