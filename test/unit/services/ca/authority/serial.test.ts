import assert from "node:assert/strict";
import { test } from "node:test";
import { serialBytes } from "../../../../../services/ca/authority/signing.js";

test("a serial is the time in ms, then 96 random bits: later serials sort after earlier ones", () => {
  const now = Date.UTC(2026, 11, 3);
  const a = serialBytes(now);
  const b = serialBytes(now + 1);
  assert.equal(a.length, 18);
  assert.equal(a.readUIntBE(0, 6), now);
  assert.ok((a[0] ?? 0) > 0 && (a[0] ?? 0x80) < 0x80, "a positive INTEGER of a fixed length");
  assert.ok(a.toString("hex") < b.toString("hex"), "the hex sorts by time");
});

test("serials of the same millisecond differ in their random part, across pool refills", () => {
  const now = Date.UTC(2026, 11, 3);
  const seen = new Set<string>();
  // more than one pool (256 serials): a refill must not repeat the previous pool
  for (let i = 0; i < 1000; i++) seen.add(serialBytes(now).subarray(6).toString("hex"));
  assert.equal(seen.size, 1000);
});
