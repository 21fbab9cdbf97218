import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InputError } from "../../../../shared/errors.js";
import { fingerprint, normalizeFingerprint } from "../../../../shared/x509/pem.js";

const HEX = "0123456789abcdef".repeat(4);
const colonUpper = (hex: string) => (hex.toUpperCase().match(/../g) ?? []).join(":");

describe("normalizeFingerprint", () => {
  test("canonical input is returned unchanged", () => {
    assert.equal(normalizeFingerprint(HEX), HEX);
  });

  test("upper case is lowered", () => {
    assert.equal(normalizeFingerprint(HEX.toUpperCase()), HEX);
  });

  test("openssl's colon-separated upper-case form is accepted", () => {
    const input = colonUpper(HEX);
    assert.equal(input.length, 64 + 31);
    assert.equal(normalizeFingerprint(input), HEX);
  });

  test("surrounding whitespace is ignored", () => {
    assert.equal(normalizeFingerprint(`  ${HEX}\n`), HEX);
  });

  test("a real SHA-256 fingerprint round-trips through its colon form", () => {
    const fp = fingerprint(Buffer.from("some certificate bytes"));
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.equal(normalizeFingerprint(colonUpper(fp)), fp);
  });

  const invalid: Array<[string, string]> = [
    ["empty", ""],
    ["63 digits", HEX.slice(1)],
    ["65 digits", `${HEX}0`],
    ["SHA-1 length (40 digits)", HEX.slice(0, 40)],
    ["a non-hex digit", `${HEX.slice(0, 63)}g`],
    ["inner whitespace", `${HEX.slice(0, 32)} ${HEX.slice(32)}`],
    ["a 0x prefix", `0x${HEX.slice(2)}`],
    ["dashes", HEX.match(/../g)?.join("-") ?? ""],
  ];
  for (const [why, input] of invalid) {
    test(`rejects ${why}`, () => {
      assert.throws(() => normalizeFingerprint(input), InputError);
    });
  }
});
