import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  isRevocationCode,
  normalizeSerial,
  parseReason,
  REVOCATION_REASONS,
} from "../../../../../services/ca/core/types.js";
import { InputError } from "../../../../../shared/errors.js";

describe("normalizeSerial", () => {
  const cases: Array<[string, string]> = [
    ["0a1b2c", "0a1b2c"],
    ["0A:1B:2C", "0a1b2c"],
    ["0a:1b:2c", "0a1b2c"],
    ["ABC", "0abc"],
    ["abc", "0abc"],
    ["000001", "01"],
    ["00:00:ff", "ff"],
    ["  7F  ", "7f"],
    ["80", "80"],
    ["1", "01"],
    ["0", "00"],
    ["00", "00"],
    ["f".repeat(64), "f".repeat(64)],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} -> ${expected}`, () => {
      assert.equal(normalizeSerial(input), expected);
    });
  }

  test("the result always has even length and is idempotent", () => {
    for (const s of ["1", "12", "123", "0001", "AB:CD:E", "deadbeef"]) {
      const n = normalizeSerial(s);
      assert.equal(n.length % 2, 0, n);
      assert.equal(normalizeSerial(n), n);
    }
  });

  const invalid = ["", "   ", ":", "xyz", "12 34", "-1", "0x1f", "g0", "f".repeat(65)];
  for (const input of invalid) {
    test(`rejects ${JSON.stringify(input.length > 20 ? `${input.slice(0, 10)}...` : input)}`, () => {
      assert.throws(() => normalizeSerial(input), InputError);
    });
  }
});

describe("parseReason", () => {
  test("no reason is unspecified (0)", () => {
    assert.equal(parseReason(undefined), 0);
  });

  test("RFC 5280 reason names map to their codes", () => {
    assert.equal(parseReason("unspecified"), 0);
    assert.equal(parseReason("keyCompromise"), 1);
    assert.equal(parseReason("cACompromise"), 2);
    assert.equal(parseReason("affiliationChanged"), 3);
    assert.equal(parseReason("superseded"), 4);
    assert.equal(parseReason("cessationOfOperation"), 5);
    assert.equal(parseReason("certificateHold"), 6);
    assert.equal(parseReason("privilegeWithdrawn"), 9);
    assert.equal(parseReason("aACompromise"), 10);
  });

  test("every listed reason parses to its code", () => {
    for (const [name, code] of Object.entries(REVOCATION_REASONS)) assert.equal(parseReason(name), code);
  });

  test("unknown reasons are rejected and the error lists the valid ones", () => {
    assert.throws(() => parseReason("stolen"), /unknown revocation reason "stolen".*keyCompromise/);
    assert.throws(() => parseReason(""), InputError);
    // 8 is removeFromCRL, which only delta CRLs use
    assert.throws(() => parseReason("removeFromCRL"), InputError);
  });

  test("names of Object.prototype members are not reasons", () => {
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
      assert.throws(() => parseReason(name), InputError, name);
    }
  });
});

describe("isRevocationCode", () => {
  test("RFC 5280 5.3.1 codes a revocation may carry: 0-6, 9, 10; not 7 (unused) nor 8 (removeFromCRL)", () => {
    assert.deepEqual(
      Array.from({ length: 14 }, (_, i) => i - 1).filter(isRevocationCode),
      [0, 1, 2, 3, 4, 5, 6, 9, 10],
    );
    assert.equal(isRevocationCode(1.5), false);
  });
});
